//! Approval on an enrolled agent device: the agent's SM2 key (in the TPM
//! when `hardware`) unlocked by the user's PIN signs a number-matched
//! approval bound to the interaction (`agent/approval.rs`). Enrolled with
//! an enrollment code from `/account/devices` (`tollgate-agent enroll`).

use super::Spec;
use crate::login::interaction::FactorKind;
use crate::login::{Level, Method};
use crate::store::{Store, StoreError};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Device,
    amr: &["hwk", "swk", "pin", "mfa"],
    best_case: Method::DeviceKey { hardware: true },
    proves: Level::Phrh,
    verified: "an SM2-signed, number-matched approval bound to the interaction, used once",
    enrolled: "an enrollment code from /account/devices, then tollgate-agent enroll",
};

/// Whether `user_id` has an agent device that is not revoked.
pub async fn enrolled(store: &Store, user_id: &str) -> Result<bool, StoreError> {
    Ok(store
        .devices(Some(user_id))
        .await?
        .iter()
        .any(|d| d.revoked_at.is_none()))
}
