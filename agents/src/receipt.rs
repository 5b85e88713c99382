//! Offline-login receipts: written by `tollgate-agent pam` for each offline
//! login, signed by the device key over a fresh random challenge, uploaded
//! at the next connection and audited by the issuer as offline logins.
//!
//! Token: `tgr1.<payload>.<signature>` (see [`crate::token`]), signed with
//! the device key and its distinguishing ID.

use serde::{Deserialize, Serialize};

use crate::grant::GrantClaims;
use crate::signer::{SignError, Sm2Signer};
use crate::sm2::Sm2PublicKey;
use crate::token::{self, TokenError};

/// Token kind of receipts.
pub const RECEIPT_KIND: &str = "tgr1";

/// What the device states about one offline login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    pub v: u8,
    /// Random id; the issuer stores each at most once.
    pub receipt_id: String,
    pub grant_id: String,
    pub user: String,
    pub device_id: String,
    /// Unix seconds, the terminal's clock.
    pub login_at: i64,
    /// 1 for the first offline login under the grant, 2 for the next…
    pub sequence: u32,
    /// Fresh random 32 bytes (base64url) the device key signed for this
    /// login: the possession factor.
    pub challenge: String,
    /// PAM_SERVICE (login, lightdm, sudo, …), if known.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub tty: Option<String>,
}

/// Why a receipt is refused outright.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("receipt: {0}")]
    Token(#[from] TokenError),
    #[error("receipt has unsupported version {0}")]
    Version(u8),
}

/// Something the issuer must record about an otherwise valid receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptFlag {
    /// The login happened at or after the grant's `not_after`.
    GrantExpired,
    /// More offline logins than the grant allowed.
    OverLimit,
    /// The device was revoked before the login.
    DeviceRevoked,
    /// Receipt and grant disagree on user or device.
    GrantMismatch,
    /// Login time before the grant was issued (clock wound back?).
    BeforeGrant,
}

impl ReceiptFlag {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptFlag::GrantExpired => "grant_expired",
            ReceiptFlag::OverLimit => "over_limit",
            ReceiptFlag::DeviceRevoked => "device_revoked",
            ReceiptFlag::GrantMismatch => "grant_mismatch",
            ReceiptFlag::BeforeGrant => "before_grant",
        }
    }
}

pub fn sign_receipt(
    claims: &ReceiptClaims,
    device: &mut dyn Sm2Signer,
) -> Result<String, SignError> {
    token::seal(RECEIPT_KIND, claims, device)
}

/// Reads the (unverified) claims, to find the device and grant to verify
/// against. Never act on them before [`verify_receipt`].
pub fn peek_receipt(receipt: &str) -> Result<ReceiptClaims, ReceiptError> {
    Ok(token::peek(RECEIPT_KIND, receipt)?)
}

/// Verifies the device's signature on a receipt.
pub fn verify_receipt(
    receipt: &str,
    device_key: &Sm2PublicKey,
    dist_id: &str,
) -> Result<ReceiptClaims, ReceiptError> {
    let claims: ReceiptClaims = token::open(RECEIPT_KIND, receipt, device_key, dist_id)?;
    if claims.v != 1 {
        return Err(ReceiptError::Version(claims.v));
    }
    Ok(claims)
}

/// Issuer side: what to flag about a verified receipt, given the grant it
/// names (verified with [`crate::grant::verify_grant_signature`]) and the
/// device's revocation time, if any.
pub fn audit_receipt(
    claims: &ReceiptClaims,
    grant: &GrantClaims,
    revoked_at: Option<i64>,
) -> Vec<ReceiptFlag> {
    let mut flags = Vec::new();
    if claims.user != grant.user
        || claims.device_id != grant.device_id
        || claims.grant_id != grant.grant_id
    {
        flags.push(ReceiptFlag::GrantMismatch);
    }
    if claims.login_at >= grant.not_after {
        flags.push(ReceiptFlag::GrantExpired);
    }
    if claims.login_at < grant.issued_at {
        flags.push(ReceiptFlag::BeforeGrant);
    }
    if claims.sequence > grant.max_offline_logins || claims.sequence == 0 {
        flags.push(ReceiptFlag::OverLimit);
    }
    if revoked_at.is_some_and(|r| r <= claims.login_at) {
        flags.push(ReceiptFlag::DeviceRevoked);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SoftwareSigner;
    use crate::sm2::{DEFAULT_DIST_ID, Sm2SecretKey};
    use crate::wire::KeyStorage;

    fn grant() -> GrantClaims {
        GrantClaims {
            v: 1,
            grant_id: "g-1".into(),
            iss: "https://idp".into(),
            user: "alice".into(),
            device_id: "d-1".into(),
            device_public_key: String::new(),
            device_dist_id: DEFAULT_DIST_ID.into(),
            key_storage: KeyStorage::Tpm,
            issued_at: 1000,
            not_after: 2000,
            max_offline_logins: 2,
        }
    }

    fn receipt(login_at: i64, sequence: u32) -> ReceiptClaims {
        ReceiptClaims {
            v: 1,
            receipt_id: "r-1".into(),
            grant_id: "g-1".into(),
            user: "alice".into(),
            device_id: "d-1".into(),
            login_at,
            sequence,
            challenge: "Y2hhbGxlbmdl".into(),
            service: Some("login".into()),
            tty: None,
        }
    }

    #[test]
    fn sign_verify_and_foreign_key() {
        let mut dev = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), DEFAULT_DIST_ID);
        let claims = receipt(1500, 1);
        let token = sign_receipt(&claims, &mut dev).unwrap();
        assert_eq!(peek_receipt(&token).unwrap(), claims);
        let key = dev.secret_key().public_key().clone();
        assert_eq!(
            verify_receipt(&token, &key, DEFAULT_DIST_ID).unwrap(),
            claims
        );
        let other = Sm2SecretKey::generate().unwrap();
        assert_eq!(
            verify_receipt(&token, other.public_key(), DEFAULT_DIST_ID),
            Err(ReceiptError::Token(TokenError::BadSignature))
        );
        assert!(verify_receipt(&token[..token.len() - 3], &key, DEFAULT_DIST_ID).is_err());
    }

    #[test]
    fn audit_flags() {
        let g = grant();
        assert_eq!(audit_receipt(&receipt(1500, 1), &g, None), vec![]);
        assert_eq!(
            audit_receipt(&receipt(2000, 1), &g, None),
            vec![ReceiptFlag::GrantExpired]
        );
        assert_eq!(
            audit_receipt(&receipt(1500, 3), &g, None),
            vec![ReceiptFlag::OverLimit]
        );
        assert_eq!(
            audit_receipt(&receipt(1500, 1), &g, Some(1400)),
            vec![ReceiptFlag::DeviceRevoked]
        );
        assert_eq!(audit_receipt(&receipt(1500, 1), &g, Some(1600)), vec![]);
        assert_eq!(
            audit_receipt(&receipt(900, 1), &g, None),
            vec![ReceiptFlag::BeforeGrant]
        );
        let mut r = receipt(1500, 1);
        r.user = "bob".into();
        assert_eq!(
            audit_receipt(&r, &g, None),
            vec![ReceiptFlag::GrantMismatch]
        );
    }
}
