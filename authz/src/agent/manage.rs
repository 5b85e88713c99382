//! Listing and revoking devices, for their user (account endpoints) and
//! for admins (`tollgate devices`). Revocation is immediate: every device
//! request, answer, grant and login-approval consumption reads the device
//! row, so nothing waits for a cache.

use super::AgentError;
use crate::store::{DeviceRow, Store};

/// Who asks for a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// The signed-in user: only their own devices.
    User(&'a str),
    /// An operator at the CLI.
    Admin,
}

/// A device as shown to users and admins (no key material beyond ids).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct DeviceView {
    pub device_id: String,
    pub user_id: String,
    pub hostname: String,
    /// What the issuer verified (`tpm` only after attestation).
    pub key_storage: String,
    /// Why: the verified attestation, or why none was accepted.
    pub attestation: String,
    pub ek: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<DeviceRow> for DeviceView {
    fn from(d: DeviceRow) -> Self {
        DeviceView {
            device_id: d.id,
            user_id: d.user_id,
            hostname: d.hostname,
            key_storage: d.key_storage,
            attestation: d.attestation,
            ek: d.ek.is_some(),
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// Devices of `user_id`, or of everyone.
pub async fn list(store: &Store, user_id: Option<&str>) -> Result<Vec<DeviceView>, AgentError> {
    Ok(store
        .devices(user_id)
        .await?
        .into_iter()
        .map(DeviceView::from)
        .collect())
}

/// Revokes `device_id`; audited as `device.revoked`. A user naming another
/// user's device gets the same "unknown device" as for a missing one.
pub async fn revoke(
    store: &Store,
    actor: Actor<'_>,
    device_id: &str,
    now: i64,
) -> Result<(), AgentError> {
    let unknown = || AgentError::new(404, "unknown_device", "unknown device");
    let d = store.device(device_id).await?.ok_or_else(unknown)?;
    if let Actor::User(u) = actor
        && d.user_id != u
    {
        return Err(unknown());
    }
    if !store.revoke_device(device_id, now).await? {
        return Err(AgentError::bad_request(
            "already_revoked",
            "the device was already revoked",
        ));
    }
    let by = match actor {
        Actor::User(u) => u.to_string(),
        Actor::Admin => "cli".to_string(),
    };
    // Written by the store directly so the CLI (which has no App) audits too.
    store
        .append_audit(
            now,
            "device.revoked",
            &by,
            device_id,
            &serde_json::json!({"user_id": d.user_id, "hostname": d.hostname}),
        )
        .await?;
    // Relying parties hear that a credential of the user went away.
    let initiator = match actor {
        Actor::User(_) => "user",
        Actor::Admin => "admin",
    };
    store
        .add_event_intent(
            "credential-change",
            &d.user_id,
            &serde_json::json!({"credential_type": "x509", "change_type": "revoke", "initiator": initiator, "friendly_name": d.hostname}),
            now,
        )
        .await?;
    Ok(())
}
