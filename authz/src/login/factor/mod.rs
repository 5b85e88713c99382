//! The factor registry: one file per factor, each declaring its [`Spec`]
//! (kind, `amr`, the level it can prove, how it is verified and enrolled)
//! and `enrolled`, whether a user holds it now. Adding a factor is one file
//! here plus its template fragment (docs/ARCHITECTURE.md, "Adding a
//! factor").
//!
//! Like all of `login/`, this knows nothing of axum or the app state: it
//! takes the [`Store`] it reads.

pub mod device;
pub mod otp;
pub mod passkey;
pub mod password;

use super::interaction::FactorKind;
use super::{Level, Method};
use crate::store::{Store, StoreError};

/// What a factor is, declared once in its file.
#[derive(Debug)]
pub struct Spec {
    pub kind: FactorKind,
    /// Every `amr` value (RFC 8176) a proof of it can produce.
    pub amr: &'static [&'static str],
    /// The strongest proof it can give (`Interaction::next` plans with it).
    pub best_case: Method,
    /// The highest level that proof reaches on its own.
    pub proves: Level,
    /// How a proof is verified, in words (docs and the audit reader).
    pub verified: &'static str,
    /// How a user enrolls it, in words.
    pub enrolled: &'static str,
}

/// Every factor, in the order a page offers them.
pub const REGISTRY: [&Spec; 4] = [&password::SPEC, &otp::SPEC, &passkey::SPEC, &device::SPEC];

/// The spec of `kind`.
pub fn spec(kind: FactorKind) -> &'static Spec {
    match kind {
        FactorKind::Password => &password::SPEC,
        FactorKind::Totp => &otp::SPEC,
        FactorKind::Passkey => &passkey::SPEC,
        FactorKind::Device => &device::SPEC,
    }
}

/// The factor kinds `user_id` can sign in with now, in registry order.
/// Read once per request and passed on; a store error is an error, never
/// "enrolled in nothing".
pub async fn enrolled(store: &Store, user_id: &str) -> Result<Vec<FactorKind>, StoreError> {
    let mut kinds = vec![];
    if password::enrolled(store, user_id).await? {
        kinds.push(FactorKind::Password);
    }
    if otp::enrolled(store, user_id).await? {
        kinds.push(FactorKind::Totp);
    }
    if passkey::enrolled(store, user_id).await? {
        kinds.push(FactorKind::Passkey);
    }
    if device::enrolled(store, user_id).await? {
        kinds.push(FactorKind::Device);
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::{ProvenFactor, amr_of};

    /// Each spec agrees with the ladder and the `amr` mapping: its best
    /// case reaches `proves` and produces only `amr` values it declares.
    #[test]
    fn specs_agree_with_levels_and_amr() {
        for s in REGISTRY {
            let proof = [ProvenFactor {
                method: s.best_case,
                at: 0,
            }];
            assert_eq!(Level::reached(&proof), Some(s.proves), "{:?}", s.kind);
            for v in amr_of(&proof) {
                assert!(
                    s.amr.contains(&v),
                    "{:?} produces undeclared amr {v}",
                    s.kind
                );
            }
            assert_eq!(spec(s.kind).kind, s.kind);
        }
        let kinds: Vec<FactorKind> = REGISTRY.iter().map(|s| s.kind).collect();
        for k in [
            FactorKind::Password,
            FactorKind::Totp,
            FactorKind::Passkey,
            FactorKind::Device,
        ] {
            assert!(kinds.contains(&k), "{k:?} has no spec");
        }
    }
}
