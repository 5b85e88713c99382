//! Reasons: why a score is what it is.
//!
//! Each feature whose contribution `w_i · f_i` to the logit is at least
//! [`MIN_CONTRIBUTION`] becomes one reason with a stable machine code, a
//! sentence for people, and the feature's value. Reasons are sorted by
//! contribution, largest first. The codes are documented in docs/risk.md
//! and are part of the API: never rename one.

use serde::{Deserialize, Serialize};

use crate::features::{Features, Prepared, idx, prefix_label};
use crate::geo::Geo;
use crate::model::Model;
use crate::thresholds::Thresholds;

/// Smallest logit contribution that is worth explaining.
pub const MIN_CONTRIBUTION: f64 = 0.5;

/// How strongly a named detection speaks against the login
/// ([`crate::detections`]); ordered, weakest first. Policies test it with
/// `when: {min_severity: high}`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported, never moves the score by itself.
    Low,
    /// Lifts the score into the step-up band.
    Medium,
    /// Lifts the score to the top of the step-up band.
    High,
    /// Deny severity: lifts the score into the deny band.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Stable machine-readable code, e.g. `impossible_travel`.
    pub code: &'static str,
    /// Human-readable explanation with the concrete values.
    pub detail: String,
    /// The feature value behind it (km/h, LLR, count, 0/1).
    pub value: f64,
    /// Contribution to the logit (for ordering and audits).
    #[serde(skip)]
    pub weight: f64,
    /// Set for named detections ([`crate::detections`]), which are always
    /// reported when they hold; `None` for the calibrator's reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// "40 min" or "2.5 h".
pub(crate) fn minutes(seconds: i64) -> String {
    if seconds < 3600 {
        format!("{} min", (seconds + 30) / 60)
    } else {
        format!("{:.1} h", seconds as f64 / 3600.0)
    }
}

/// "AS64500 (Example Telekom)", "AS64500" or "an unknown network".
pub(crate) fn network(p: &Prepared<'_>) -> String {
    match (p.geo.asn, p.geo.org) {
        (Some(a), Some(o)) => format!("AS{a} ({o})"),
        (Some(a), None) => format!("AS{a}"),
        _ => "an unknown network".to_owned(),
    }
}

fn at_least(n: u32) -> String {
    if n >= 16 {
        "at least 16".to_owned()
    } else {
        n.to_string()
    }
}

/// Builds the reasons for one assessment. `geo` is used only to name the
/// previous place for impossible travel.
pub fn explain(
    p: &Prepared<'_>,
    f: &Features,
    model: &Model,
    thresholds: &Thresholds,
    geo: &Geo,
) -> Vec<Reason> {
    let mut out = Vec::new();
    let v = &f.values;
    let contrib = |i: usize| model.weights.get(i).copied().unwrap_or(0.0) * v[i];
    let mut push = |weight: f64, code: &'static str, detail: String, value: f64| {
        if weight >= MIN_CONTRIBUTION {
            out.push(Reason {
                code,
                detail,
                value,
                weight,
                severity: None,
            });
        }
    };
    if let Some(t) = f.travel.filter(|_| v[idx::TRAVEL] > 0.0) {
        let from = match f.previous_ip {
            Some(ip) => geo.lookup(ip).place(),
            None => "the previous login".to_owned(),
        };
        push(
            contrib(idx::TRAVEL) + contrib(idx::TRAVEL_EXCESS),
            "impossible_travel",
            format!(
                "{:.0} km/h from {from} to {} in {} (limit {:.0} km/h)",
                t.kmh,
                p.geo.place(),
                minutes(t.seconds),
                thresholds.impossible_travel_kmh
            ),
            t.kmh,
        );
    }
    let country = p.geo.country.unwrap_or("??");
    let net_detail = match f.net_known {
        Some(0) => None,
        Some(1) => Some((
            "unfamiliar_network",
            format!("new IP {} in familiar {}", p.ip, prefix_label(p.ip)),
        )),
        Some(2) => Some((
            "unfamiliar_network",
            format!(
                "new IP range {} in familiar {}",
                prefix_label(p.ip),
                network(p)
            ),
        )),
        Some(_) => Some((
            "new_asn",
            format!(
                "network {} never used by this user in {country}",
                network(p)
            ),
        )),
        None if f.new_country => Some((
            "new_country",
            format!("first login from {country} ({}) for this user", network(p)),
        )),
        None => Some((
            "new_asn",
            format!(
                "network {} in an unknown country never used by this user",
                network(p)
            ),
        )),
    };
    if let Some((code, detail)) = net_detail {
        // Exactly one of the two network features holds the LLR.
        let llr = v[idx::NET] + v[idx::NET_UNKNOWN_DEVICE];
        push(
            contrib(idx::NET) + contrib(idx::NET_UNKNOWN_DEVICE),
            code,
            format!("{detail} (log-likelihood ratio {llr:.1})"),
            llr,
        );
    }
    let ua_level = match f.ua_known {
        Some(0) => None,
        Some(1) => Some("same browser version, different user-agent string"),
        Some(2) => Some("new browser version"),
        Some(3) => Some("new browser on a familiar OS"),
        Some(_) => Some("new OS"),
        None => Some("new device type"),
    };
    if let Some(level) = ua_level {
        push(
            contrib(idx::UA),
            "unfamiliar_user_agent",
            format!(
                "{}: {level} for this user (log-likelihood ratio {:.1})",
                p.ua.describe(),
                v[idx::UA]
            ),
            v[idx::UA],
        );
    }
    if !f.device_known {
        // Exactly one of the two device features holds the evidence.
        let device = contrib(idx::DEVICE) + contrib(idx::DEVICE_KNOWN_IP);
        let llr = v[idx::DEVICE] + v[idx::DEVICE_KNOWN_IP];
        if p.has_device {
            push(
                device,
                "new_device",
                format!(
                    "device id never seen for this user (log-likelihood ratio {:.1})",
                    llr
                ),
                llr,
            );
        } else if f.usually_has_device {
            push(
                device,
                "no_device_id",
                "no device id presented; this user usually presents one".to_owned(),
                llr,
            );
        } else {
            push(
                device,
                "new_device",
                "no device id presented".to_owned(),
                llr,
            );
        }
    }
    push(
        contrib(idx::HOUR),
        "unusual_hour",
        "hour of the week rarely used by this user".to_owned(),
        v[idx::HOUR],
    );
    push(
        contrib(idx::DRIFT),
        "fingerprint_drift",
        format!("known device now reports {}", p.ua.describe()),
        1.0,
    );
    push(
        contrib(idx::HOSTING),
        "hosting_network",
        format!("{} is a hosting or anonymising network", network(p)),
        1.0,
    );
    push(
        contrib(idx::UNKNOWN_LOCATION),
        "unknown_location",
        format!("{} is not in the geo database", p.ip),
        1.0,
    );
    let vel = &f.velocity;
    push(
        contrib(idx::USER_FAILURES),
        "user_failures",
        format!(
            "{} failed attempts for this user in the last hour",
            vel.user_failures_1h
        ),
        f64::from(vel.user_failures_1h),
    );
    push(
        contrib(idx::USER_IPS),
        "concurrent_sessions",
        format!(
            "logins from {} other IPs for this user in the last hour",
            at_least(vel.user_distinct_ips_1h)
        ),
        f64::from(vel.user_distinct_ips_1h),
    );
    push(
        contrib(idx::IP_USERS),
        "ip_many_users",
        format!(
            "{} different users failed from {} in the last hour",
            at_least(vel.ip_distinct_users_1h),
            p.ip
        ),
        f64::from(vel.ip_distinct_users_1h),
    );
    push(
        contrib(idx::IP_FAILURES),
        "ip_failures",
        format!(
            "{} failed attempts from {} in the last hour",
            vel.ip_failures_1h, p.ip
        ),
        f64::from(vel.ip_failures_1h),
    );
    push(
        contrib(idx::PREFIX_FAILURES),
        "prefix_failures",
        format!(
            "{} failed attempts from {} in the last hour",
            vel.prefix_failures_1h,
            prefix_label(p.ip)
        ),
        f64::from(vel.prefix_failures_1h),
    );
    push(
        contrib(idx::FAILED),
        "failed_attempt",
        "the primary factor failed".to_owned(),
        1.0,
    );
    if f.history_n <= 0.0 {
        out.push(Reason {
            code: "no_history",
            detail: "first login seen for this user: nothing to compare with".into(),
            value: 0.0,
            weight: 0.0,
            severity: None,
        });
    }
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    out
}
