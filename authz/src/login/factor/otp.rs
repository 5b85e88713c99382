//! One-time passwords: the user's TOTP app (RFC 6238, ±1 step, each step
//! once), an enrolled agent's OTP (`agent/otp.rs`, each step once per
//! device) and, in their place, single-use recovery codes. All prove the
//! `otp` factor: something you have, never phishing-resistant. Verified
//! behind one attempts guard (`totp:<login>`); enrolled on
//! `/account/totp` (one valid code activates it) or with an agent.

use super::Spec;
use crate::login::interaction::FactorKind;
use crate::login::{Level, Method};
use crate::store::{Store, StoreError};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Totp,
    amr: &["otp"],
    best_case: Method::Totp,
    proves: Level::Aal1,
    verified: "TOTP (RFC 6238), an agent OTP, or a recovery code; each accepted once",
    enrolled: "/account/totp (activated by one valid code), or an enrolled agent device",
};

/// Whether `user_id` has an active TOTP secret or an agent that shows
/// OTPs.
pub async fn enrolled(store: &Store, user_id: &str) -> Result<bool, StoreError> {
    if store.totp(user_id).await?.is_some_and(|t| t.active) {
        return Ok(true);
    }
    Ok(!store.otp_devices(user_id).await?.is_empty())
}
