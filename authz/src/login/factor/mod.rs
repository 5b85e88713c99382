//! The factor registry: one file per factor holding everything `login/`
//! knows of it — its [`Spec`] (kind, `amr`, the level it can prove, how it
//! is verified and enrolled), `enrolled` (whether a user holds it now), its
//! proof type (what the form carries) and its verification
//! (`LoginFlow::verify_<name>`: attempts guard when the secret is
//! guessable, check, audit), answering one [`Proven`] or a
//! [`Refusal`](crate::login::flow::Refusal). `LoginFlow::submit` dispatches
//! a `Proof` into it and takes every factor the same way on. Adding a
//! factor is one file here plus its template fragment (docs/ARCHITECTURE.md,
//! "Adding a factor").
//!
//! Like all of `login/`, this knows nothing of axum or the app state: it
//! takes the [`Store`] it reads.

pub mod device;
pub mod otp;
pub mod passkey;
pub mod password;

pub use device::DeviceApproval;
pub use otp::{OtpProof, open_totp};
pub use passkey::PasskeyProof;
pub use password::{Asker, PasswordProof};

use super::interaction::FactorKind;
use super::{Level, Method};
use crate::store::{Holdings, Store, StoreError, UserRow};

/// What a factor's verification proved: the one outcome every factor
/// answers, so the flow proves and advances them all the same way.
#[derive(Debug, Clone)]
pub struct Proven {
    pub method: Method,
    /// The user the proof identified (a first factor: password, a
    /// discoverable passkey); `None` when the interaction already knew
    /// them (a second factor checks against that user).
    pub user: Option<UserRow>,
    /// What the proof leaves to record (`None` for most factors).
    pub followup: Option<Followup>,
}

/// A write a verified proof leaves for the end of its request: committed
/// in the same transaction as the sign-in's end when the sign-in finishes
/// there (one trip to the database fewer), else on its own before the
/// answer goes out (`LoginFlow::submit`). Whichever way the step ends, it
/// is written, except with a sign-in's end whose transaction fails: then
/// it is undone with the session it belonged to (that sign-in did not
/// happen; the authenticator's counter only moved ahead of the stored one,
/// which the next assertion still passes).
#[derive(Debug, Clone)]
pub enum Followup {
    /// The passkey's new signature counter and flags, and when it was
    /// used (the next assertion's counter must be above this one).
    PasskeyUsed(Box<crate::store::PasskeyRow>),
}

impl Followup {
    /// The statement that records it.
    pub(crate) fn statement(&self, now: i64) -> crate::store::Stmt {
        match self {
            Followup::PasskeyUsed(row) => crate::store::passkey_touch(row, now),
        }
    }
}

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

/// Every factor, in the order a page offers them: [`FactorKind::ALL`]'s
/// specs, so the registry cannot miss a kind.
pub const REGISTRY: [&Spec; FactorKind::ALL.len()] = {
    let mut specs = [&password::SPEC; FactorKind::ALL.len()];
    let mut i = 0;
    while i < specs.len() {
        specs[i] = spec(FactorKind::ALL[i]);
        i += 1;
    }
    specs
};

/// The spec of `kind`: the registry's one line per factor.
pub const fn spec(kind: FactorKind) -> &'static Spec {
    match kind {
        FactorKind::Password => &password::SPEC,
        FactorKind::Totp => &otp::SPEC,
        FactorKind::Passkey => &passkey::SPEC,
        FactorKind::Device => &device::SPEC,
    }
}

/// The user `user_id` and the factor kinds they can sign in with now, in
/// registry order: one read ([`Store::user_holdings`]) per request, passed
/// on. `None`: no such user. A store error is an error, never "enrolled in
/// nothing".
pub async fn user_enrolled(
    store: &Store,
    user_id: &str,
) -> Result<Option<(UserRow, Vec<FactorKind>)>, StoreError> {
    Ok(store.user_holdings(user_id).await?.map(|(user, h)| {
        let kinds = enrolled_of(&user, &h);
        (user, kinds)
    }))
}

/// The factor kinds `user_id` can sign in with now ([`user_enrolled`]);
/// nothing for a user that is gone.
pub async fn enrolled(store: &Store, user_id: &str) -> Result<Vec<FactorKind>, StoreError> {
    Ok(user_enrolled(store, user_id)
        .await?
        .map(|(_, kinds)| kinds)
        .unwrap_or_default())
}

/// The kinds `user` holds given what the store holds of them.
pub fn enrolled_of(user: &UserRow, h: &Holdings) -> Vec<FactorKind> {
    FactorKind::ALL
        .into_iter()
        .filter(|&kind| holds(user, h, kind))
        .collect()
}

/// Whether the user holds a factor of `kind` now (its file's `enrolled`).
fn holds(user: &UserRow, h: &Holdings, kind: FactorKind) -> bool {
    match kind {
        FactorKind::Password => password::enrolled(user, h),
        FactorKind::Totp => otp::enrolled(user, h),
        FactorKind::Passkey => passkey::enrolled(user, h),
        FactorKind::Device => device::enrolled(user, h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::flow::Proof;
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
    }

    /// A proof of `kind`, as its form would send it. An exhaustive match:
    /// a new `FactorKind` does not compile until it has a `Proof` variant
    /// (and `Proof::kind`, `LoginFlow::submit`, `spec` and `holds` are
    /// exhaustive matches too, so none of them can miss it either).
    fn proof_of(kind: FactorKind) -> Proof {
        match kind {
            FactorKind::Password => Proof::Password(PasswordProof {
                username: "u".into(),
                password: crate::secret::Secret::new("p"),
            }),
            FactorKind::Totp => Proof::Otp(OtpProof { code: "1".into() }),
            FactorKind::Passkey => Proof::Passkey(PasskeyProof {
                state: "{}".into(),
                response: "{}".into(),
            }),
            FactorKind::Device => Proof::Device(DeviceApproval),
        }
    }

    /// Every kind is in the registry once, at its place, with a spec of
    /// its own and a proof that `submit` dispatches as that kind.
    #[test]
    fn every_factor_kind_is_registered_with_its_proof() {
        assert_eq!(REGISTRY.len(), FactorKind::ALL.len());
        for (i, k) in FactorKind::ALL.into_iter().enumerate() {
            assert_eq!(k.position(), i);
            assert_eq!(REGISTRY[i].kind, k, "REGISTRY[{i}] is not {k:?}");
            assert_eq!(spec(k).kind, k);
            assert_eq!(proof_of(k).kind(), k, "the proof of {k:?}");
        }
    }
}
