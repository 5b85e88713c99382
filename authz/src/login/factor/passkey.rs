//! Passkeys (WebAuthn): user-verified, phishing-resistant; `phrh` only for
//! a device-bound one whose attestation the policy trusts, at most `phr`
//! when synced. Verified by `login/passkey.rs` (the ceremony, the counter,
//! a suspended credential never counts); enrolled on `/account/passkeys`.

use super::Spec;
use crate::login::interaction::FactorKind;
use crate::login::{Level, Method};
use crate::store::{Store, StoreError};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Passkey,
    amr: &["hwk", "swk", "user", "mfa"],
    best_case: Method::Passkey {
        user_verified: true,
        backup_eligible: false,
        attested: true,
    },
    proves: Level::Phrh,
    verified: "a WebAuthn assertion over a single-use challenge, signature counter checked",
    enrolled: "/account/passkeys (WebAuthn registration, attestation per policy)",
};

/// Whether `user_id` has a passkey that is not suspended.
pub async fn enrolled(store: &Store, user_id: &str) -> Result<bool, StoreError> {
    Ok(store.passkeys(user_id).await?.iter().any(|p| !p.suspicious))
}
