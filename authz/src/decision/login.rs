//! Decisions in the login flow: when the user is known (first factor
//! proven, or a session carried into `/authorize`), score the login, ask
//! the policy, and turn its answer into the interaction's requirement.
//!
//! The stronger requirement always wins: the policy can raise the level
//! the client and the request asked for, or shorten `max_age`, never lower
//! either. A deny ends the interaction.

use super::{DecisionPoint, Made, Request, Subject};
use crate::login::{Level, ProvenFactor, Requirement};
use crate::store::{Store, UserRow};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use tollgate_risk::LoginEvent;
use tollgate_risk::policy::{Action, Decision, Outcome, Policy, SessionState};

/// What the interaction keeps of its risk decision: enough to audit the
/// completion and to learn from the login afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRisk {
    pub event: LoginEvent,
    pub score: u8,
    /// `allow`, `step_up:<acr>` or `deny`.
    pub outcome: String,
    pub policy_version: String,
    /// The scorer's reasons (code, English detail) behind the decision,
    /// for the step-up page's plain-words explanation (`i18n::words`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<(String, String)>,
    /// The history the login was scored against, for learning from it
    /// when the sign-in completes in the same request (a passkey, a
    /// password alone): one read of `risk_history` instead of two. Never
    /// stored with the interaction; a later request reads the history anew.
    #[serde(skip)]
    pub scored_against: Option<ScoredAgainst>,
}

/// The history (`None`: the user had none) a login was scored against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredAgainst(pub Option<tollgate_risk::UserHistory>);

/// The request's part of a login decision.
pub struct LoginRequest<'a> {
    pub client: &'a str,
    pub ip: IpAddr,
    pub user_agent: &'a str,
    /// SHA-256 (hex) of the browser's device cookie, if it sent one.
    pub device_hash: Option<&'a str>,
    pub acr_values: &'a [String],
    pub max_age: Option<i64>,
    /// Factors already proven (this interaction's, or the session's).
    pub proven: &'a [ProvenFactor],
    /// The user has a factor besides the password, if known.
    pub second_factor: Option<bool>,
    /// What the browser sent besides its user agent (`None`: not a
    /// browser request, nothing to compare).
    pub signals: Option<&'a tollgate_risk::signals::BrowserSignals>,
}

/// Scores and decides one login for `user` at `now`, counting the attempt;
/// with the history it was scored against.
pub async fn assess(
    dp: &DecisionPoint,
    store: &Store,
    user: &UserRow,
    req: &LoginRequest<'_>,
    now: i64,
) -> (Made, ScoredAgainst) {
    let history = dp.history(store, &user.login).await;
    let flagged = match req.device_hash {
        Some(d) => store.device_flagged(d).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "flagged-device lookup failed; treating the device as unknown");
            true
        }),
        None => false,
    };
    // When the session's level was proven, not its latest factor: an old
    // passkey plus a fresh password is an old phr (issue 12).
    let reached = Level::reached_at(req.proven);
    let level = reached.map(|(l, _)| l);
    let auth_time = reached.map_or(now, |(_, at)| at);
    let attributes = user_attributes(user);
    let r = Request {
        client: Some(req.client),
        action: Action::Login,
        ip: Some(req.ip),
        user_agent: req.user_agent,
        device_id: req.device_hash,
        acr_values: req.acr_values,
        max_age: req.max_age.and_then(|m| u64::try_from(m).ok()),
        session: level.map(|l| SessionState {
            acr: l.acr(),
            auth_time,
        }),
        second_factor: req.second_factor,
        signals: req.signals,
        ..Request::default()
    };
    let made = dp
        .decide(
            Subject {
                login: &user.login,
                groups: &user.groups,
                attributes: &attributes,
            },
            &r,
            history.as_ref(),
            flagged,
            true,
            now,
        )
        .await;
    (made, ScoredAgainst(history))
}

/// The attributes a policy can test (`when: {attribute: {...}}`).
pub fn user_attributes(user: &UserRow) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(2);
    if let Some((_, domain)) = user.email.as_deref().and_then(|e| e.rsplit_once('@')) {
        out.push(("email_domain".to_owned(), domain.to_ascii_lowercase()));
    }
    out
}

/// What the login must reach after the decision: `base` (client default
/// and request) combined with the policy's requirement, the stronger
/// winning. `None` when the policy denies.
///
/// A policy level whose `acr` is not one of the issuer's four is treated
/// as the strongest (`phrh`): an unknown requirement fails closed.
pub fn requirement_after(base: Requirement, d: &Decision, policy: &Policy) -> Option<Requirement> {
    if matches!(d.outcome, Outcome::Deny { .. }) {
        return None;
    }
    let Some(idx) = d.required_level else {
        return Some(base);
    };
    let Some(level) = policy.ladder.levels.get(idx) else {
        return Some(base);
    };
    let required = Level::from_acr(&level.acr).unwrap_or(Level::Phrh);
    let explicit = match &d.outcome {
        Outcome::StepUp { max_age, .. } => *max_age,
        _ => None,
    };
    // A level's own max age bounds how old its factors may be.
    let limit = explicit.map_or(level.max_age, |m| m.min(level.max_age));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let max_age = match (&d.outcome, base.max_age) {
        (Outcome::StepUp { .. }, Some(b)) => Some(b.min(limit)),
        (Outcome::StepUp { .. }, None) => Some(limit),
        (_, b) => b,
    };
    Some(Requirement {
        level: base.level.max(required),
        max_age,
    })
}

impl LoginRisk {
    /// What the interaction keeps of `made`, scored against `history`.
    pub fn of(made: &Made, history: ScoredAgainst) -> LoginRisk {
        LoginRisk {
            event: made.event.clone(),
            score: made.decision.score,
            outcome: made.decision.outcome.label(),
            policy_version: made.decision.policy_version.to_string(),
            reasons: made
                .decision
                .reasons
                .iter()
                .filter(|r| r.source == tollgate_risk::policy::ReasonSource::Risk)
                .map(|r| (r.code.clone(), r.detail.clone()))
                .collect(),
            scored_against: Some(history),
        }
    }
}

/// The audit record of a login decision: the event, score, reasons,
/// rules, policy version and outcome.
pub fn audit_data(made: &Made, interaction: &str) -> serde_json::Value {
    serde_json::json!({
        "point": "login",
        "interaction": interaction,
        "event": made.event,
        "decision": made.decision,
    })
}

/// The login event an audit record stands for, if any: the event of a
/// login decision, or a failed password as a `success: false` event.
/// This is what `tollgate audit export --format events` prints.
pub fn event_of_record(r: &crate::store::AuditRecord) -> Option<LoginEvent> {
    match r.kind.as_str() {
        "policy.decision" if r.data["point"] == "login" => {
            serde_json::from_value(r.data["event"].clone()).ok()
        }
        "login.failure" => Some(LoginEvent {
            ts: time::OffsetDateTime::from_unix_timestamp(r.ts).ok()?,
            user: r.actor.clone(),
            ip: r.subject.parse().ok()?,
            user_agent: r.data["user_agent"].as_str().unwrap_or("").to_owned(),
            device_id: None,
            success: false,
            label: None,
            attack_kind: None,
            client: r.data["client"].as_str().map(str::to_owned),
            rtt_ms: None,
            signals: Default::default(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tollgate_risk::policy::DecisionInput;

    fn policy() -> Policy {
        Policy::builtin()
    }

    fn decision(outcome: Outcome, required: Option<&str>) -> Decision {
        let p = policy();
        Decision {
            outcome,
            score: 0,
            reasons: vec![],
            rules_fired: vec![],
            notify: vec![],
            policy_version: Arc::from("sha256:x"),
            required_level: required.and_then(|a| p.ladder.by_acr(a)),
        }
    }

    fn req(level: Level, max_age: Option<i64>) -> Requirement {
        Requirement { level, max_age }
    }

    #[test]
    fn the_stronger_requirement_wins() {
        let step = |acr: &str, m: Option<u64>| {
            decision(
                Outcome::StepUp {
                    required_acr: acr.into(),
                    max_age: m,
                },
                Some(acr),
            )
        };
        let deny = decision(
            Outcome::Deny {
                revoke: true,
                alert: false,
            },
            None,
        );
        let cases: Vec<(Requirement, Decision, Option<Requirement>)> = vec![
            // Nothing required: the client's own requirement stands.
            (
                req(Level::Aal1, None),
                decision(Outcome::Allow, None),
                Some(req(Level::Aal1, None)),
            ),
            (
                req(Level::Aal2, Some(60)),
                decision(Outcome::Allow, None),
                Some(req(Level::Aal2, Some(60))),
            ),
            // A step-up raises the level and bounds the age by the explicit
            // max age or the level's own (aal2: 24 h, phr: 12 h).
            (
                req(Level::Aal1, None),
                step("aal2", None),
                Some(req(Level::Aal2, Some(86_400))),
            ),
            (
                req(Level::Aal1, None),
                step("phr", Some(900)),
                Some(req(Level::Phr, Some(900))),
            ),
            (
                req(Level::Aal1, Some(300)),
                step("phr", Some(900)),
                Some(req(Level::Phr, Some(300))),
            ),
            // The policy never lowers what the client asked for.
            (
                req(Level::Phrh, None),
                step("aal2", None),
                Some(req(Level::Phrh, Some(86_400))),
            ),
            // Met already: the level stays, no new age limit.
            (
                req(Level::Aal1, None),
                decision(Outcome::Allow, Some("aal2")),
                Some(req(Level::Aal2, None)),
            ),
            (req(Level::Aal1, None), deny, None),
        ];
        let p = policy();
        for (base, d, want) in cases {
            assert_eq!(
                requirement_after(base, &d, &p),
                want,
                "{base:?} {:?}",
                d.outcome
            );
        }
    }

    #[test]
    fn audit_records_export_as_login_events() {
        let record = |kind: &str, actor: &str, subject: &str, data: serde_json::Value| {
            crate::store::AuditRecord {
                id: 1,
                ts: 1_767_225_600,
                kind: kind.into(),
                actor: actor.into(),
                subject: subject.into(),
                data,
                prev_hash: String::new(),
                hash: String::new(),
            }
        };
        let event = serde_json::json!({"ts": "2026-01-01T00:00:00Z", "user": "alice",
            "ip": "198.51.100.7", "user_agent": "UA", "device_id": "d1", "success": true, "client": "vcenter"});
        let cases = [
            (
                record(
                    "policy.decision",
                    "alice",
                    "vcenter",
                    serde_json::json!({"point": "login", "event": event}),
                ),
                Some(("alice", "198.51.100.7", true, Some("d1"), "UA")),
            ),
            (
                record(
                    "policy.decision",
                    "gw",
                    "alice",
                    serde_json::json!({"point": "ext_authz", "decision": {}}),
                ),
                None,
            ),
            (
                record(
                    "login.failure",
                    "mallory",
                    "203.0.113.9",
                    serde_json::json!({"client": "c", "user_agent": "curl"}),
                ),
                Some(("mallory", "203.0.113.9", false, None, "curl")),
            ),
            (
                record(
                    "login.failure",
                    "mallory",
                    "not-an-ip",
                    serde_json::json!({}),
                ),
                None,
            ),
            (
                record("login.success", "u1", "c", serde_json::json!({})),
                None,
            ),
        ];
        for (r, want) in cases {
            let got = event_of_record(&r);
            let got = got.as_ref().map(|e| {
                (
                    e.user.as_str(),
                    e.ip.to_string(),
                    e.success,
                    e.device_id.as_deref(),
                    e.user_agent.as_str(),
                )
            });
            let want = want.map(|(u, ip, s, d, ua)| (u, ip.to_string(), s, d, ua));
            assert_eq!(got, want, "{}", r.kind);
        }
    }

    #[test]
    fn a_real_decision_feeds_the_requirement() {
        // A score in the step-up band of the default policy, first factor a
        // password: the login must reach aal2.
        let p = policy();
        let input = DecisionInput {
            subject: "alice",
            score: 50,
            session: Some(SessionState {
                acr: "aal1",
                auth_time: 1_000,
            }),
            ..DecisionInput::default()
        };
        let now = time::OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let d = tollgate_risk::policy::decide(&p, &input, now);
        let r = requirement_after(req(Level::Aal1, None), &d, &p).unwrap();
        assert_eq!(r.level, Level::Aal2);
    }

    /// The history a login was scored against serves the completion in
    /// the same request only: it is never written into the interaction,
    /// so a completion in a later request reads the history anew.
    #[test]
    fn the_scored_history_never_travels_with_the_interaction() {
        let event: LoginEvent = serde_json::from_value(serde_json::json!({
            "ts": "2026-01-01T00:00:00Z", "user": "alice", "ip": "198.51.100.7",
            "user_agent": "UA", "success": true}))
        .unwrap();
        let risk = LoginRisk {
            event,
            score: 12,
            outcome: "allow".into(),
            policy_version: "sha256:x".into(),
            reasons: vec![],
            scored_against: Some(ScoredAgainst(Some(tollgate_risk::UserHistory::default()))),
        };
        let stored = serde_json::to_value(&risk).unwrap();
        assert!(stored.get("scored_against").is_none(), "{stored}");
        let back: LoginRisk = serde_json::from_value(stored).unwrap();
        assert_eq!(back.scored_against, None);
        assert_eq!((back.score, back.event), (12, risk.event));
    }
}
