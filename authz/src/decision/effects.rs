//! What a decision makes happen beyond its answer: revocation after a
//! deny, notifications and security alerts. Shared by every decision
//! point (login, password grant, `/v1/decide`, ext_authz); each takes
//! the pieces it needs, not the app state, so `login::flow` can call it.

use crate::cache::RevocationCache;
use crate::store::{Audit, Store};

/// What carrying out a revocation needs: the store, this replica's
/// revocation cache (reloaded at once so the deny is effective here
/// before the page is sent) and the access-token lifetime it reloads over.
#[derive(Clone, Copy)]
pub struct Revoker<'a> {
    pub store: &'a Store,
    pub revocations: &'a RevocationCache,
    pub access_ttl: i64,
}

/// A deny with revocation: ends the user's sessions, revokes every refresh
/// family (and with it the access tokens), flags the device, and makes the
/// revocations effective on this replica at once.
pub async fn revoke_everything(
    r: Revoker<'_>,
    audit: Audit<'_>,
    user: &crate::store::UserRow,
    device: Option<&str>,
    policy_version: &str,
    now: i64,
) {
    let reason = format!("policy deny ({policy_version})");
    match r
        .store
        .revoke_user_access(&user.id, &user.login, device, &reason, now)
        .await
    {
        Ok((sessions, grants)) => {
            audit
                .record(
                    "policy.revoked",
                    "policy",
                    &user.login,
                    serde_json::json!({"sessions": sessions, "grants": grants, "device_flagged": device.is_some(), "policy_version": policy_version}),
                )
                .await;
        }
        Err(e) => tracing::error!(error = %e, "cannot revoke after a deny"),
    }
    if let Err(e) = r.revocations.reload(r.store, now, r.access_ttl).await {
        tracing::warn!(error = %e, "revocation reload failed");
    }
}

/// What a decision asks to be told: each `notify` channel, and a security
/// alert for a deny that says `alert`. Both are audit records (which a SIEM
/// tails; the audit log is the delivery channel) and log lines.
pub async fn announce(
    audit: Audit<'_>,
    point: &str,
    subject: &str,
    d: &tollgate_risk::policy::Decision,
) {
    for channel in &d.notify {
        tracing::info!(channel, point, subject, decision = %d.outcome.label(), "policy notification");
        audit
            .record(
                "policy.notify",
                "policy",
                subject,
                serde_json::json!({
                    "channel": channel,
                    "point": point,
                    "decision": d.outcome.label(),
                    "rules": d.rules_fired,
                    "score": d.score,
                    "policy_version": &*d.policy_version,
                }),
            )
            .await;
    }
    if let tollgate_risk::policy::Outcome::Deny { alert: true, .. } = d.outcome {
        tracing::warn!(point, subject, score = d.score, rules = ?d.rules_fired, "security alert: policy deny");
        audit
            .record(
                "security.alert",
                "policy",
                subject,
                serde_json::json!({"point": point, "decision": d}),
            )
            .await;
    }
}
