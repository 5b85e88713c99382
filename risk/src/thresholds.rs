//! Score bands, the impossible-travel speed, and the `risk:` section of a
//! policy file.
//!
//! The full policy format belongs to the policy engine (issue 5); this
//! module reads only the top-level `risk:` mapping of a YAML file and
//! ignores every other key. Inside `risk:` unknown keys are errors, so a
//! typo in a threshold cannot silently fall back to a default.
//!
//! ```yaml
//! risk:
//!   allow_max: 30             # scores 0..=30 allow
//!   step_up_max: 70           # 31..=70 step up, above deny
//!   impossible_travel_kmh: 805
//!   travel_min_km: 100
//!   hosting_asns: [16509, 14061]
//!   hosting_asn_files: [lists/hosting.txt]   # relative to the policy file
//!   anonymizing_asn_files: [lists/vpn.txt]
//!   corporate_egress: [198.51.100.0/24]    # never impossible travel
//!   account_attack_failures: 5             # detections (docs/risk.md)
//!   account_attack_sources: 3
//!   stuffing_accounts: 5
//!   state_unavailable: step_up            # shared state (Redis) away: allow | step_up | deny
//!   sensitive: {paths: [/api/export*], per_hour: 100}  # sensitive_burst
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, RiskError};
use crate::geo::NetworkLists;

/// What a score leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the login through with what was presented.
    Allow,
    /// Ask for a stronger factor.
    StepUp,
    /// Refuse.
    Deny,
}

impl Decision {
    /// `allow`, `step_up` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::StepUp => "step_up",
            Decision::Deny => "deny",
        }
    }
}

/// Score bands and feature thresholds. The white paper's defaults: 0–30
/// allow, 31–70 step up, above 70 deny; Okta's 805 km/h travel speed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Highest score that is allowed.
    pub allow_max: u8,
    /// Highest score that steps up; anything above is denied.
    pub step_up_max: u8,
    /// Speed above which travel between logins is impossible, km/h.
    pub impossible_travel_kmh: f64,
    /// Moves shorter than this (after accuracy radii) are never travel, km.
    pub travel_min_km: f64,
    /// Extra hosting/anonymising ASNs.
    pub hosting_asns: Vec<u32>,
    /// Files of hosting ASNs, relative to the policy file.
    pub hosting_asn_files: Vec<PathBuf>,
    /// Files of VPN/proxy/Tor ASNs, relative to the policy file.
    pub anonymizing_asn_files: Vec<PathBuf>,
    /// The organisation's egress networks (CIDR): never impossible travel.
    pub corporate_egress: Vec<String>,
    /// Failures on one account within the hour that, from
    /// `account_attack_sources` or more addresses, make `account_attack`.
    pub account_attack_failures: u32,
    /// Distinct addresses an account's attempts came from for `account_attack`.
    pub account_attack_sources: u32,
    /// Accounts that failed from one address within the hour that make it
    /// a `stuffing_source`.
    pub stuffing_accounts: u32,
    /// What a decision does while the shared velocity state (`[state]
    /// redis`) cannot be reached: the score is raised into this band (for
    /// `step_up`, to its middle), with reason `state_unavailable`. `step_up` by default: an attack cannot
    /// hide by taking Redis down, and honest users still get in.
    pub state_unavailable: Decision,
    /// Routes whose request rate per user `sensitive_burst` watches
    /// ([`crate::sensitive`]).
    pub sensitive: crate::sensitive::SensitiveRoutes,
    /// Sign-in lockouts; the issuer's `[login]` settings apply when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockout: Option<Lockout>,
}

/// Lockout after failed sign-in attempts (password, TOTP, recovery code),
/// counted per user and per client address.
///
/// ```yaml
/// risk:
///   lockout:
///     max_failures_per_user: 5
///     max_failures_per_ip: 50
///     window: 15m
///     duration: 15m
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    /// Failures of one user within `window` that lock the account.
    pub max_failures_per_user: u32,
    /// Failures from one address within `window` that lock the address.
    pub max_failures_per_ip: u32,
    /// How long failures are counted.
    pub window: crate::duration::Duration,
    /// How long a lock lasts.
    pub duration: crate::duration::Duration,
}

impl Lockout {
    /// Why these values cannot work, if they cannot.
    pub fn problem(&self) -> Option<&'static str> {
        (self.max_failures_per_user == 0
            || self.max_failures_per_ip == 0
            || self.window.0 == 0
            || self.duration.0 == 0)
            .then_some("lockout: failure limits, window and duration must all be positive")
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            allow_max: 30,
            step_up_max: 70,
            impossible_travel_kmh: 805.0,
            travel_min_km: 100.0,
            hosting_asns: Vec::new(),
            hosting_asn_files: Vec::new(),
            anonymizing_asn_files: Vec::new(),
            corporate_egress: Vec::new(),
            account_attack_failures: 5,
            account_attack_sources: 3,
            stuffing_accounts: 5,
            state_unavailable: Decision::StepUp,
            sensitive: crate::sensitive::SensitiveRoutes::default(),
            lockout: None,
        }
    }
}

impl Thresholds {
    /// The decision for a 0–100 score.
    pub fn decide(&self, score: u8) -> Decision {
        if score <= self.allow_max {
            Decision::Allow
        } else if score <= self.step_up_max {
            Decision::StepUp
        } else {
            Decision::Deny
        }
    }

    /// Parses the `risk:` section of a policy file's text (other keys are
    /// ignored) and checks it is coherent.
    pub fn from_policy_yaml(text: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct PolicyFile {
            #[serde(default)]
            risk: Option<Thresholds>,
        }
        let file: PolicyFile =
            serde_norway::from_str(text).map_err(|e| RiskError::Policy(e.to_string()))?;
        let t = file.risk.unwrap_or_default();
        if t.allow_max > t.step_up_max || t.step_up_max > 100 {
            return Err(RiskError::Policy(format!(
                "risk: need allow_max ≤ step_up_max ≤ 100, got {} and {}",
                t.allow_max, t.step_up_max
            )));
        }
        if !(t.impossible_travel_kmh > 0.0 && t.travel_min_km >= 0.0) {
            return Err(RiskError::Policy(
                "risk: travel thresholds must be positive".into(),
            ));
        }
        if let Some(p) = t.lockout.as_ref().and_then(Lockout::problem) {
            return Err(RiskError::Policy(format!("risk: {p}")));
        }
        if let Some(p) = t.sensitive.problem() {
            return Err(RiskError::Policy(format!("risk: {p}")));
        }
        Ok(t)
    }

    /// Reads a policy file and loads the network lists it names.
    pub fn load_policy(path: &Path) -> Result<(Self, NetworkLists)> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RiskError::Policy(format!("{}: {e}", path.display())))?;
        let t = Self::from_policy_yaml(&text)
            .map_err(|e| RiskError::Policy(format!("{}: {e}", path.display())))?;
        let lists = t.network_lists(path.parent().unwrap_or(Path::new(".")))?;
        Ok((t, lists))
    }

    /// The default lists plus the ASNs and files named here.
    pub fn network_lists(&self, base: &Path) -> Result<NetworkLists> {
        let mut lists = NetworkLists::default();
        lists.hosting.extend(self.hosting_asns.iter().copied());
        for f in &self.hosting_asn_files {
            lists.load_hosting_file(&base.join(f))?;
        }
        for f in &self.anonymizing_asn_files {
            lists.load_anonymizing_file(&base.join(f))?;
        }
        for c in &self.corporate_egress {
            lists
                .corporate
                .push(crate::cidr::Cidr::parse(c).ok_or_else(|| {
                    RiskError::Policy(format!("risk.corporate_egress: {c:?} is not a CIDR block"))
                })?);
        }
        Ok(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, expected: std::result::Result<(u8, u8, f64), &str>) {
        match (Thresholds::from_policy_yaml(yaml), expected) {
            (Ok(t), Ok(want)) => assert_eq!(
                (t.allow_max, t.step_up_max, t.impossible_travel_kmh),
                want,
                "{yaml}"
            ),
            (Err(e), Err(fragment)) => {
                assert!(e.to_string().contains(fragment), "{e} lacks {fragment}")
            }
            (got, want) => panic!("{yaml}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn reads_only_the_risk_section() {
        check("", Ok((30, 70, 805.0)));
        check("rules: [{anything: 1}]\nversion: 3\n", Ok((30, 70, 805.0)));
        check(
            "risk:\n  allow_max: 20\n  step_up_max: 60\n",
            Ok((20, 60, 805.0)),
        );
        check(
            "risk:\n  impossible_travel_kmh: 1000\nother: x\n",
            Ok((30, 70, 1000.0)),
        );
        check("risk:\n  alow_max: 20\n", Err("unknown field `alow_max`"));
        check("risk:\n  allow_max: 80\n", Err("allow_max ≤ step_up_max"));
        check("risk: [1, 2", Err("policy"));
        check(
            "risk:\n  lockout: {max_failures_per_user: 3, max_failures_per_ip: 0, window: 15m, duration: 1h}\n",
            Err("must all be positive"),
        );
        check(
            "risk:\n  lockout: {max_failures_per_user: 3, max_failures_per_ip: 9, window: 15m, duration: 1h}\n",
            Ok((30, 70, 805.0)),
        );
        check(
            "risk:\n  lockout: {max_failures_per_user: 3}\n",
            Err("missing field"),
        );
        check(
            "risk:\n  sensitive: {paths: [/api/export*], office_hours: {from: 8, to: 19}}\n",
            Ok((30, 70, 805.0)),
        );
        check(
            "risk:\n  sensitive: {paths: [api/export]}\n",
            Err("paths must start with /"),
        );
        check(
            "risk:\n  sensitive: {office_hours: {from: 20, to: 7}}\n",
            Err("office_hours need"),
        );
        check(
            "risk:\n  sensitive: {path: [/x]}\n",
            Err("unknown field `path`"),
        );
    }

    #[test]
    fn bands_follow_the_white_paper() {
        let t = Thresholds::default();
        let cases = [
            (0, Decision::Allow),
            (30, Decision::Allow),
            (31, Decision::StepUp),
            (70, Decision::StepUp),
            (71, Decision::Deny),
            (100, Decision::Deny),
        ];
        for (score, want) in cases {
            assert_eq!(t.decide(score), want, "{score}");
        }
    }
}
