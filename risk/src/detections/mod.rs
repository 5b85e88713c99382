//! Named detections: explainable signals that hold or do not, whatever the
//! learned calibrator weighs (BRIEF: "Detection").
//!
//! Each row of [`DETECTIONS`] is a pure function of the prepared event, the
//! features (which carry the counters and the travel), the user's history
//! and the policy's parameters, returning at most one [`Reason`] with a
//! [`Severity`]. Every detection that holds is among the reasons, so a
//! policy can act on it by name (`when: {reasons: [impossible_travel]}`)
//! or by strength (`when: {min_severity: high}`).
//!
//! Severity maps into the score ([`Verdict::apply`]): `medium` lifts it to
//! the middle of the step-up band, `high` to the top of it, and the score
//! reaches the deny band only with one `critical` detection or `medium`+
//! detections from two independent [`Family`]s (impossible travel and a new
//! country are one observation, not two). Without that, even a high
//! calibrator score stays a step-up: a new device on a familiar network is
//! never a deny.

use crate::features::{Features, Prepared};
use crate::geo::Geo;
use crate::history::{UserHistory, device_fingerprint};
use crate::reasons::{Reason, Severity, minutes, network};
use crate::thresholds::Thresholds;

#[cfg(test)]
mod tests;

/// What a detection is evidence about; two detections are independent
/// when their families differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Where the login comes from: travel, country, network kind.
    Location,
    /// What presents the credentials: the device and its browser.
    Device,
    /// What else happens to the account: failures from many places.
    Account,
    /// What else the address does: failures against many accounts.
    Source,
    /// What the session does: its rate of requests to sensitive routes.
    Activity,
}

/// Everything a detection may look at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a, 'g> {
    /// The event, prepared.
    pub p: &'a Prepared<'g>,
    /// Its features (counters, travel, familiarity).
    pub f: &'a Features,
    /// The user's history, `None` for a new user.
    pub history: Option<&'a UserHistory>,
    /// The policy's parameters.
    pub thresholds: &'a Thresholds,
    /// To name the previous place.
    pub geo: &'a Geo,
}

/// One detection: its code, family, and the function that decides it.
pub struct Detection {
    /// The reason code (docs/risk.md), stable.
    pub code: &'static str,
    /// What it is evidence about.
    pub family: Family,
    /// `Some((severity, detail, value))` when it holds.
    pub detect: fn(&Inputs<'_, '_>) -> Option<(Severity, String, f64)>,
}

/// The detections, in the order they are reported at equal severity.
pub const DETECTIONS: [Detection; 10] = [
    Detection {
        code: "impossible_travel",
        family: Family::Location,
        detect: impossible_travel,
    },
    Detection {
        code: "device_mismatch",
        family: Family::Device,
        detect: device_mismatch,
    },
    Detection {
        code: "account_attack",
        family: Family::Account,
        detect: account_attack,
    },
    Detection {
        code: "sensitive_burst",
        family: Family::Activity,
        detect: sensitive_burst,
    },
    Detection {
        code: "stuffing_source",
        family: Family::Source,
        detect: stuffing_source,
    },
    Detection {
        code: "new_country",
        family: Family::Location,
        detect: new_country,
    },
    Detection {
        code: "hosting_network",
        family: Family::Location,
        detect: hosting_network,
    },
    Detection {
        code: "anonymizer",
        family: Family::Location,
        detect: anonymizer,
    },
    Detection {
        code: "new_asn",
        family: Family::Location,
        detect: new_asn,
    },
    Detection {
        code: "new_device",
        family: Family::Device,
        detect: new_device,
    },
];

/// Whether `code` belongs to a detection (the calibrator's reasons with
/// the same code give way to it).
pub fn is_detection(code: &str) -> bool {
    DETECTIONS.iter().any(|d| d.code == code)
}

/// The user has admitted logins to compare with.
fn has_history(i: &Inputs<'_, '_>) -> bool {
    i.f.history_n > 0.0
}

/// The network is one the user already uses in a way that explains a
/// jump ([`crate::features::habitual_jump`]).
fn familiar_network(i: &Inputs<'_, '_>) -> bool {
    crate::features::habitual_jump(i.f.net_known, i.p.geo.accuracy_km, i.p.ua.device)
}

/// The device id was presented and is in the user's history.
fn known_device(i: &Inputs<'_, '_>) -> bool {
    i.p.has_device && i.f.device_known
}

/// Speed from the last admitted login above the policy's limit, beyond
/// both accuracy radii. A network the user already uses (the same IP or
/// /24: VPN on/off; the same AS located only coarsely, for a phone or a
/// tablet: roaming) and the organisation's egress are not travel. With
/// the user's own device id it is a stolen cookie or session: `high`,
/// never relaxed.
fn impossible_travel(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    let t = i.f.travel?;
    let limit = i.thresholds.impossible_travel_kmh;
    if t.kmh <= limit || familiar_network(i) || i.p.corporate {
        return None;
    }
    let from = match i.f.previous_ip {
        Some(ip) => i.geo.lookup(ip).place(),
        None => "the previous login".to_owned(),
    };
    let (severity, device) = if known_device(i) {
        (Severity::High, "; with this user's own device id")
    } else {
        (Severity::Medium, "")
    };
    let detail = format!(
        "{:.0} km/h from {from} to {} in {} (limit {limit:.0} km/h){device}",
        t.kmh,
        i.p.geo.place(),
        minutes(t.seconds),
    );
    Some((severity, detail, t.kmh))
}

/// A known device id now reports a browser family, OS or device type that
/// this device (not merely this user) never reported, or browser signals
/// (client hints, first language: [`crate::signals`]) other than the ones
/// it has sent. Signals are compared only when both sides have them: a
/// device from before they were recorded, or a trace without them, is
/// judged on its user agent alone.
fn device_mismatch(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !known_device(i) {
        return None;
    }
    let h = i.history?;
    let fps = h.device_fingerprints(i.p.keys.device)?;
    let fp = device_fingerprint(&i.p.keys.ua);
    if fps.iter().any(|&x| x != 0) && !fps.contains(&fp) {
        let detail = format!(
            "known device id now presented by {}, which this device never reported",
            i.p.ua.describe()
        );
        return Some((Severity::High, detail, 1.0));
    }
    let sigs = h.device_signals(i.p.keys.device)?;
    let sig = i.p.keys.signals;
    if sig != 0 && sigs.iter().any(|&x| x != 0) && !sigs.contains(&sig) {
        let detail = format!(
            "known device id now sent with {}, which this device never sent",
            i.p.signals.as_str()
        );
        return Some((Severity::High, detail, 1.0));
    }
    None
}

/// Failures on this account within the hour from several addresses
/// (brute force or spraying against one account), counted before this
/// attempt. `critical` at four times the policy's failure count.
fn account_attack(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    let v = &i.f.velocity;
    let t = i.thresholds;
    if v.user_failures_1h < t.account_attack_failures.max(1)
        || v.user_distinct_ips_1h < t.account_attack_sources
    {
        return None;
    }
    let severity = if v.user_failures_1h >= 4 * t.account_attack_failures.max(1) {
        Severity::Critical
    } else {
        Severity::High
    };
    let ips = if v.user_distinct_ips_1h >= 16 {
        "at least 16".to_owned()
    } else {
        v.user_distinct_ips_1h.to_string()
    };
    let detail = format!(
        "{} failed attempts on this account in the last hour from {ips} addresses",
        v.user_failures_1h
    );
    Some((severity, detail, f64::from(v.user_failures_1h)))
}

/// The address failed against many accounts within the hour (credential
/// stuffing); `critical` at three times the policy's count.
fn stuffing_source(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    let n = i.f.velocity.ip_distinct_users_1h;
    let limit = i.thresholds.stuffing_accounts.max(1);
    if n < limit {
        return None;
    }
    let severity = if n >= 3 * limit {
        Severity::Critical
    } else {
        Severity::High
    };
    let count = if n >= 16 {
        "at least 16".to_owned()
    } else {
        n.to_string()
    };
    let detail = format!(
        "{count} different accounts failed from {} in the last hour",
        i.p.ip
    );
    Some((severity, detail, f64::from(n)))
}

/// A gateway request to a sensitive route while this user's requests to
/// such routes in the last hour are far above their own usual hourly rate
/// or above the policy's limit. `medium`; one step stronger off-hours and
/// one for a rarely active account, so export at night from an account
/// that hardly ever signs in is `critical` (a deny, and the policy's band
/// may revoke the session).
fn sensitive_burst(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    let b = i.p.burst?;
    let s = &i.thresholds.sensitive;
    let n = b.recent.saturating_add(1);
    let over_limit = s.per_hour > 0 && n > s.per_hour;
    let over_usual = b
        .usual
        .is_some_and(|u| n >= s.min_burst && n as f32 >= s.over_usual * u.max(1.0));
    if !over_limit && !over_usual {
        return None;
    }
    let off_hours = s.office_hours.is_some_and(|o| !o.contains(i.p.at));
    let rare = i.history.is_none_or(|h| h.logins < s.rare_logins);
    let severity = match usize::from(off_hours) + usize::from(rare) {
        0 => Severity::Medium,
        1 => Severity::High,
        _ => Severity::Critical,
    };
    let mut detail = format!("{n} requests to sensitive routes in the last hour");
    match b.usual {
        Some(u) => detail.push_str(&format!(" (usually {u:.0} an hour")),
        None => detail.push_str(" (no usual rate yet"),
    }
    if s.per_hour > 0 {
        detail.push_str(&format!(", limit {}", s.per_hour));
    }
    detail.push(')');
    if off_hours {
        detail.push_str(", off-hours");
    }
    if rare {
        detail.push_str(", from a rarely active account");
    }
    Some((severity, detail, f64::from(n)))
}

/// First login from this country for a user with a history.
fn new_country(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !i.f.new_country || i.p.corporate {
        return None;
    }
    let cc = i.p.geo.country.unwrap_or("??");
    let detail = format!("first login from {cc} ({}) for this user", network(i.p));
    Some((Severity::Medium, detail, 1.0))
}

/// A hosting or anonymising network; `medium` in a country new to the user.
fn hosting_network(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !i.p.hosting || i.p.corporate {
        return None;
    }
    let (severity, where_) = if i.f.new_country {
        (Severity::Medium, " in a country new to this user")
    } else {
        (Severity::Low, "")
    };
    let detail = format!(
        "{} is a hosting or anonymising network{where_}",
        network(i.p)
    );
    Some((severity, detail, 1.0))
}

/// A listed VPN, proxy or Tor network; `medium` in a country new to the user.
fn anonymizer(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !i.p.anonymizer || i.p.corporate {
        return None;
    }
    let severity = if i.f.new_country {
        Severity::Medium
    } else {
        Severity::Low
    };
    let detail = format!("{} is a VPN, proxy or Tor network", network(i.p));
    Some((severity, detail, 1.0))
}

/// A network (ASN) the user never used, in a country they did.
fn new_asn(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !has_history(i) || i.f.net_known != Some(3) {
        return None;
    }
    let cc = i.p.geo.country.unwrap_or("??");
    let detail = format!("network {} never used by this user in {cc}", network(i.p));
    Some((Severity::Low, detail, 1.0))
}

/// A device id this user never presented.
fn new_device(i: &Inputs<'_, '_>) -> Option<(Severity, String, f64)> {
    if !has_history(i) || !i.p.has_device || i.f.device_known {
        return None;
    }
    let detail = format!("device id never seen for this user ({})", i.p.ua.describe());
    Some((Severity::Low, detail, 1.0))
}

/// Runs every detection; the ones that hold, strongest first.
pub fn detect(i: &Inputs<'_, '_>) -> Vec<(Family, Reason)> {
    let mut out: Vec<(Family, Reason)> = DETECTIONS
        .iter()
        .filter_map(|d| {
            let (severity, detail, value) = (d.detect)(i)?;
            Some((
                d.family,
                Reason {
                    code: d.code,
                    detail,
                    value,
                    weight: 0.0,
                    severity: Some(severity),
                },
            ))
        })
        .collect();
    // Stable: equal severities keep the table's order.
    out.sort_by_key(|d| std::cmp::Reverse(d.1.severity));
    out
}

/// What the detections do to a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The strongest severity present.
    pub strongest: Option<Severity>,
    /// One `critical`, or `medium`+ in two independent families.
    pub deny_grade: bool,
}

impl Verdict {
    /// Combines the detections that hold.
    pub fn of(found: &[(Family, Reason)]) -> Verdict {
        let strongest = found.iter().filter_map(|(_, r)| r.severity).max();
        let mut families: Vec<Family> = found
            .iter()
            .filter(|(_, r)| r.severity >= Some(Severity::Medium))
            .map(|(f, _)| *f)
            .collect();
        families.dedup();
        let mut distinct = 0;
        for (k, f) in families.iter().enumerate() {
            if !families[..k].contains(f) {
                distinct += 1;
            }
        }
        Verdict {
            strongest,
            deny_grade: strongest == Some(Severity::Critical) || distinct >= 2,
        }
    }

    /// The lowest score the detections allow under `t`'s bands: the middle
    /// of the step-up band for `medium`, its top for `high`, the first deny
    /// score when deny-grade.
    pub fn floor(&self, t: &Thresholds) -> u8 {
        if self.deny_grade {
            return t.step_up_max.saturating_add(1).min(100);
        }
        let band = t.step_up_max.saturating_sub(t.allow_max);
        match self.strongest {
            Some(Severity::High | Severity::Critical) => t.step_up_max,
            Some(Severity::Medium) => t
                .allow_max
                .saturating_add(band.div_ceil(2))
                .min(t.step_up_max),
            _ => 0,
        }
    }

    /// The calibrator's score under the detections: raised to the floor,
    /// and kept below the deny band unless deny-grade.
    pub fn apply(&self, score: u8, t: &Thresholds) -> u8 {
        let s = score.max(self.floor(t));
        if self.deny_grade {
            s
        } else {
            s.min(t.step_up_max)
        }
    }
}
