//! The decision: a pure function of (policy, input, time).
//!
//! 1. The score picks a band.
//! 2. `rules_before`, in order: the first match is final and replaces the
//!    band's verdict (hard denies, deliberate exemptions); a matching deny
//!    rule anywhere in the stage wins over an earlier non-deny match (deny
//!    overrides), in both stages. Otherwise the
//!    band's verdict stands and the first matching `rules_after` rule is
//!    combined with it; the stronger wins (deny > require > allow; two
//!    requirements take the higher level and the shorter max age).
//! 3. The relying party's request combines the same way: the weakest known
//!    level among its `acr_values` (OIDC: any of them is acceptable) and its
//!    `max_age`. A deny stays a deny.
//! 4. A requirement is met when the session's `acr` is at or above the
//!    level and its `auth_time` is within the explicit max age and the
//!    level's own; then the decision is `allow`, else `step_up`. A score
//!    never raises a session's level: the decision never names an `acr`
//!    the session has, only one it must reach.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use super::Policy;
use super::file::Action;
use super::model::{Rule, Stage, Verdict};
use crate::reasons::Reason;

/// What the session has proven so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState<'a> {
    /// The session's `acr` value.
    pub acr: &'a str,
    /// When the session authenticated, Unix seconds.
    pub auth_time: i64,
}

/// Everything a decision looks at. Borrowed, so the caller builds it from
/// whatever it holds without copying; `Default` is an anonymous login.
#[derive(Debug, Clone, Default)]
pub struct DecisionInput<'a> {
    /// The user (login name or `sub`).
    pub subject: &'a str,
    /// The OIDC client id, or the gateway's route client.
    pub client: Option<&'a str>,
    /// The user's groups.
    pub groups: &'a [String],
    /// User attributes as `(key, value)` pairs; repeat a key for several values.
    pub attributes: &'a [(String, String)],
    /// `login` at the issuer or `request` at the gateway.
    pub action: Action,
    /// Request host (gateway).
    pub host: Option<&'a str>,
    /// Request path (gateway).
    pub path: Option<&'a str>,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// ISO country code from the geo database.
    pub country: Option<&'a str>,
    /// AS number from the geo database.
    pub asn: Option<u32>,
    /// Whether the device id is known to the user's history.
    pub device_known: bool,
    /// Whether the user has a factor besides the password; `None` when
    /// unknown (gateway requests), and then `second_factor` conditions
    /// do not match.
    pub second_factor: Option<bool>,
    /// Risk score, 0–100.
    pub score: u8,
    /// Risk reasons from the scorer.
    pub reasons: &'a [Reason],
    /// The relying party's `acr_values`.
    pub acr_values: &'a [String],
    /// The relying party's `max_age`, seconds.
    pub max_age: Option<u64>,
    /// The session's current level and auth time, if any.
    pub session: Option<SessionState<'a>>,
}

/// Allow, step up, or deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Outcome {
    /// Proceed with what the session has.
    Allow,
    /// Authenticate to at least `required_acr`, no longer ago than `max_age`.
    StepUp {
        /// The `acr` value to reach (RFC 9470 `acr_values`).
        required_acr: String,
        /// Explicit freshness in seconds (RFC 9470 `max_age`), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_age: Option<u64>,
    },
    /// Refuse.
    Deny {
        /// Revoke the user's sessions and refresh-token families.
        revoke: bool,
        /// Raise a security alert.
        alert: bool,
    },
}

impl Outcome {
    /// `allow`, `step_up` or `deny`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::StepUp { .. } => "step_up",
            Outcome::Deny { .. } => "deny",
        }
    }

    /// `allow`, `step_up:<acr>` or `deny`: the label the what-if counts.
    pub fn label(&self) -> String {
        match self {
            Outcome::StepUp { required_acr, .. } => format!("step_up:{required_acr}"),
            o => o.kind().to_owned(),
        }
    }
}

/// Where a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonSource {
    /// A policy rule fired; the code is the rule's name.
    Rule,
    /// The risk band (`risk_band`).
    Band,
    /// A risk-scorer reason (docs/risk.md codes).
    Risk,
    /// The relying party's request (`requested_acr`, `requested_max_age`).
    Request,
    /// The session (`no_session`, `session_level`, `session_age`, `session_ok`).
    Session,
}

/// One reason of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReason {
    /// Where it comes from.
    pub source: ReasonSource,
    /// Machine code (a rule's name for rules).
    pub code: String,
    /// Human text.
    pub detail: String,
}

/// A decision with everything needed to explain and audit it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The outcome (serialised as `decision`, `required_acr`, `max_age`, …).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The risk score it was made with.
    pub score: u8,
    /// Why, policy reasons first, then the risk reasons.
    pub reasons: Vec<DecisionReason>,
    /// Names of the rules that fired, in order.
    pub rules_fired: Vec<String>,
    /// Notification channels to tell.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// `sha256:<hex>` of the policy files that made it.
    #[serde(serialize_with = "str_of_arc")]
    pub policy_version: Arc<str>,
    /// The required level's index in the ladder (also for `allow` when a
    /// requirement was met); `None` when nothing was required or on deny.
    #[serde(skip)]
    pub required_level: Option<usize>,
}

fn str_of_arc<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// Records that rule `r` fired and returns its verdict.
fn fire(
    policy: &Policy,
    r: &Rule,
    reasons: &mut Vec<DecisionReason>,
    rules_fired: &mut Vec<String>,
    notify: &mut Vec<String>,
) -> Verdict {
    rules_fired.push(r.name.clone());
    add_notify(notify, &r.effect.notify);
    reasons.push(DecisionReason {
        source: ReasonSource::Rule,
        code: r.name.clone(),
        detail: format!(
            "{}: {}",
            r.description,
            verdict_text(policy, r.effect.verdict)
        ),
    });
    r.effect.verdict
}

fn add_notify(notify: &mut Vec<String>, add: &[String]) {
    for x in add {
        if !notify.contains(x) {
            notify.push(x.clone());
        }
    }
}

fn verdict_text(p: &Policy, v: Verdict) -> String {
    match v {
        Verdict::Allow => "allow".into(),
        Verdict::Require { level, max_age } => {
            let name = p.ladder.levels.get(level).map_or("?", |l| l.name.as_str());
            match max_age {
                Some(m) => format!("require {name} within {}", super::Duration(m)),
                None => format!("require {name}"),
            }
        }
        Verdict::Deny { .. } => "deny".into(),
    }
}

/// Decides `input` under `policy` at `now`.
pub fn decide(policy: &Policy, input: &DecisionInput<'_>, now: OffsetDateTime) -> Decision {
    let mut reasons = Vec::with_capacity(4 + input.reasons.len());
    let mut rules_fired = Vec::new();
    let mut notify: Vec<String> = Vec::new();
    // Within a stage a matching deny rule wins over every other match
    // (deny overrides: an exemption earlier in the list, or in a file
    // loaded first, can never switch off a hard deny); otherwise the first
    // matching rule.
    let first = |stage: Stage| {
        let mut matching = policy
            .rules
            .iter()
            .filter(move |r| r.stage == stage && r.cond.matches(input, now));
        let head = matching.next()?;
        if matches!(head.effect.verdict, Verdict::Deny { .. }) {
            return Some(head);
        }
        Some(
            matching
                .find(|r| matches!(r.effect.verdict, Verdict::Deny { .. }))
                .unwrap_or(head),
        )
    };
    let mut verdict = if let Some(r) = first(Stage::Before) {
        fire(policy, r, &mut reasons, &mut rules_fired, &mut notify)
    } else {
        let band = policy
            .bands
            .iter()
            .find(|b| input.score <= b.up_to)
            .or(policy.bands.last());
        let mut v = Verdict::Allow;
        if let Some(b) = band {
            add_notify(&mut notify, &b.effect.notify);
            v = b.effect.verdict;
            reasons.push(DecisionReason {
                source: ReasonSource::Band,
                code: "risk_band".into(),
                detail: format!(
                    "risk score {} is in the band up to {}: {}",
                    input.score,
                    b.up_to,
                    verdict_text(policy, v)
                ),
            });
        }
        if let Some(r) = first(Stage::After) {
            v = v.stronger(fire(policy, r, &mut reasons, &mut rules_fired, &mut notify));
        }
        v
    };
    // The relying party's request.
    let requested = input
        .acr_values
        .iter()
        .filter_map(|a| policy.ladder.by_acr(a))
        .min();
    if requested.is_some() || input.max_age.is_some() {
        let level = requested.unwrap_or(0);
        let rp = Verdict::Require {
            level,
            max_age: input.max_age,
        };
        let combined = verdict.stronger(rp);
        if combined != verdict {
            let (code, detail) = match (requested, input.max_age) {
                (Some(_), m) => (
                    "requested_acr",
                    format!(
                        "the relying party asked for {}{}",
                        policy.ladder.levels[level].acr,
                        m.map(|m| format!(" within {m} s")).unwrap_or_default()
                    ),
                ),
                (None, Some(m)) => (
                    "requested_max_age",
                    format!("the relying party asked for authentication within {m} s"),
                ),
                (None, None) => ("requested_acr", String::new()),
            };
            reasons.push(DecisionReason {
                source: ReasonSource::Request,
                code: code.into(),
                detail,
            });
        }
        verdict = combined;
    }
    let (outcome, required_level) = match verdict {
        Verdict::Allow => (Outcome::Allow, None),
        Verdict::Deny { revoke, alert } => (Outcome::Deny { revoke, alert }, None),
        Verdict::Require { level, max_age } => {
            let l = &policy.ladder.levels[level];
            let limit = max_age.map_or(l.max_age, |m| m.min(l.max_age));
            let (ok, code, detail) = match input.session {
                None => (
                    false,
                    "no_session",
                    "no authenticated session yet".to_owned(),
                ),
                Some(s) => {
                    let age = now.unix_timestamp() - s.auth_time;
                    match policy.ladder.by_acr(s.acr) {
                        Some(have) if have >= level && age <= limit as i64 => (
                            true,
                            "session_ok",
                            format!("session at {} from {age} s ago meets {}", s.acr, l.acr),
                        ),
                        Some(have) if have >= level => (
                            false,
                            "session_age",
                            format!(
                                "session authenticated {age} s ago; {} needs at most {limit} s",
                                l.acr
                            ),
                        ),
                        _ => (
                            false,
                            "session_level",
                            format!("session at {} is below {}", s.acr, l.acr),
                        ),
                    }
                }
            };
            reasons.push(DecisionReason {
                source: ReasonSource::Session,
                code: code.into(),
                detail,
            });
            if ok {
                (Outcome::Allow, Some(level))
            } else {
                (
                    Outcome::StepUp {
                        required_acr: l.acr.clone(),
                        max_age,
                    },
                    Some(level),
                )
            }
        }
    };
    for r in input.reasons {
        reasons.push(DecisionReason {
            source: ReasonSource::Risk,
            code: r.code.to_owned(),
            detail: r.detail.clone(),
        });
    }
    Decision {
        outcome,
        score: input.score,
        reasons,
        rules_fired,
        notify,
        policy_version: policy.version.clone(),
        required_level,
    }
}
