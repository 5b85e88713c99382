//! Offline two-factor login (`tollgate-agent pam`), for the stock
//! `pam_exec.so expose_authtok`: the PIN arrives on standard input, the
//! user in `PAM_USER`. Two factors: the PIN (it unlocks the device key —
//! in the TPM, the TPM checks it) and possession of the device key (it
//! signs a fresh random challenge, verified against the key the issuer
//! named in the grant). Each login leaves a signed receipt for upload.
//!
//! pam_exec maps exit status 0 to PAM_SUCCESS and anything else to a
//! failure, so the codes below only help an administrator reading logs.
//!
//! Nothing here trusts the user: the state must be a root-owned system
//! enrollment ([`super::trust`]), made over verified TLS, before a single
//! file of it is believed.

use std::path::Path;
use time::OffsetDateTime;

use super::offline::{self, OfflineError};
use super::store::{KeyStore, StoreError};
use super::trust::{self, TrustError};
use crate::b64;
use crate::grant::{self, GrantError};
use crate::receipt::{self, ReceiptClaims};
use crate::secret::Pin;
use crate::signer::SignError;

/// Login accepted.
pub const EXIT_OK: i32 = 0;
/// Wrong PIN or PIN locked out.
pub const EXIT_AUTH: i32 = 1;
/// No usable offline grant (missing, expired, foreign, truncated, used up,
/// wrong device or user) or not enrolled.
pub const EXIT_NO_GRANT: i32 = 2;
/// Anything else: corrupted key store, TPM unavailable, I/O.
pub const EXIT_ERROR: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PamError {
    #[error("untrusted state: {0}")]
    Untrusted(#[from] TrustError),
    #[error(
        "{0}: not a system enrollment made by root over https (run `tollgate-agent enroll --system` as root)"
    )]
    NotSystem(String),
    #[error("this terminal is enrolled for {enrolled:?}, not {user:?}")]
    OtherUser { enrolled: String, user: String },
    #[error("empty PIN")]
    EmptyPin,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Offline(#[from] OfflineError),
    #[error("device key: {0}")]
    Sign(#[from] SignError),
    #[error(
        "the device key's signature over the fresh challenge does not verify against the grant: {0}"
    )]
    Possession(String),
    #[error("system random number generator failed")]
    Random,
}

impl PamError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PamError::EmptyPin
            | PamError::Store(StoreError::WrongPin)
            | PamError::Store(StoreError::Attempts(_))
            | PamError::Sign(SignError::WrongPin)
            | PamError::Sign(SignError::Locked(_)) => EXIT_AUTH,
            PamError::OtherUser { .. }
            | PamError::Grant(_)
            | PamError::Offline(OfflineError::NoGrant)
            | PamError::Offline(OfflineError::UsedUp { .. })
            | PamError::Store(StoreError::NotEnrolled(_)) => EXIT_NO_GRANT,
            #[cfg(feature = "tpm")]
            PamError::Store(StoreError::Tpm(
                super::tpm::TpmError::WrongPin | super::tpm::TpmError::Locked,
            )) => EXIT_AUTH,
            _ => EXIT_ERROR,
        }
    }
}

/// Where the login happens, from pam_exec's environment.
#[derive(Debug, Clone, Default)]
pub struct PamContext {
    pub service: Option<String>,
    pub tty: Option<String>,
}

/// Performs one offline login at `now` and returns the receipt written.
pub fn offline_login(
    state_dir: &Path,
    user: &str,
    pin: &Pin,
    ctx: &PamContext,
    now: OffsetDateTime,
) -> Result<ReceiptClaims, PamError> {
    trust::require_root()?;
    trust::check_state_dir(state_dir)?;
    let store = KeyStore::load(state_dir)?;
    if !store.system || store.insecure_http || !store.server.starts_with("https://") {
        return Err(PamError::NotSystem(state_dir.display().to_string()));
    }
    if store.user != user {
        return Err(PamError::OtherUser {
            enrolled: store.user.clone(),
            user: user.to_owned(),
        });
    }
    // Check the grant before touching the PIN, so a useless grant never
    // costs a TPM dictionary-attack try.
    let token = offline::load_grant(state_dir)?;
    let claims = grant::verify_grant(&token, &store.grant_key()?, now)?;
    claims.check_device(&store.device_id, &store.device_public_key()?)?;
    claims.check_user(user)?;
    let sequence = offline::next_sequence(state_dir, &claims)?;
    if pin.is_empty() {
        return Err(PamError::EmptyPin);
    }

    let mut key = store.unlock(state_dir, pin)?;
    let challenge = b64::random(32).map_err(|_| PamError::Random)?;
    let receipt_id = format!("r-{}", b64::random(12).map_err(|_| PamError::Random)?);
    let claims_out = ReceiptClaims {
        v: 1,
        receipt_id: receipt_id.clone(),
        grant_id: claims.grant_id.clone(),
        user: user.to_owned(),
        device_id: store.device_id.clone(),
        login_at: now.unix_timestamp(),
        sequence,
        challenge,
        service: ctx.service.clone(),
        tty: ctx.tty.clone(),
    };
    let token = receipt::sign_receipt(&claims_out, &mut key)?;
    // Possession: the fresh challenge's signature must verify with the key
    // the issuer put in the grant (not merely the one in our own file).
    receipt::verify_receipt(&token, &claims.device_key()?, &claims.device_dist_id)
        .map_err(|e| PamError::Possession(e.to_string()))?;
    offline::record_use(state_dir, &claims.grant_id, sequence)?;
    offline::write_receipt(state_dir, &receipt_id, &token)?;
    Ok(claims_out)
}
