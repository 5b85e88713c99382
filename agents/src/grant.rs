//! Offline grants: the issuer's signed statement that lets a terminal log
//! its user in with PIN + device key while it cannot reach the issuer.
//!
//! Token: `tgg1.<payload>.<signature>` (see [`crate::token`]), signed with
//! the issuer's dedicated grant key (SM2, distinguishing ID
//! [`GRANT_DIST_ID`]), never with a device key or the OIDC signing key.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::sm2::{DEFAULT_DIST_ID, Sm2PublicKey};
use crate::token::{self, TokenError};
use crate::wire::KeyStorage;
use crate::{b64, signer::SignError, signer::Sm2Signer};

/// Token kind of offline grants.
pub const GRANT_KIND: &str = "tgg1";
/// Distinguishing ID of the issuer's grant key.
pub const GRANT_DIST_ID: &str = DEFAULT_DIST_ID;

/// What the issuer states in an offline grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantClaims {
    /// Format version, 1.
    pub v: u8,
    /// Unique id; receipts name it.
    pub grant_id: String,
    /// Issuer URL.
    pub iss: String,
    /// Login name the grant is for (PAM_USER must match).
    pub user: String,
    pub device_id: String,
    /// The device key, base64url SPKI DER: the grant is void for any other key.
    pub device_public_key: String,
    /// The device key's distinguishing ID.
    pub device_dist_id: String,
    pub key_storage: KeyStorage,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; no offline login at or after this instant.
    pub not_after: i64,
    /// How many offline logins the terminal may perform under this grant.
    pub max_offline_logins: u32,
}

/// Why a grant cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("offline grant: {0}")]
    Token(#[from] TokenError),
    #[error("offline grant has unsupported version {0}")]
    Version(u8),
    #[error("offline grant expired at {not_after} (now {now})")]
    Expired { not_after: i64, now: i64 },
    #[error("offline grant is not valid before {issued_at} (now {now}); check the clock")]
    NotYetValid { issued_at: i64, now: i64 },
    #[error("offline grant is for device {granted}, this is device {actual}")]
    WrongDevice { granted: String, actual: String },
    #[error("offline grant is for another device key")]
    WrongDeviceKey,
    #[error("offline grant is for user {granted:?}, not {actual:?}")]
    WrongUser { granted: String, actual: String },
}

/// Tolerated clock skew for `issued_at`, so a terminal slightly behind the
/// issuer can use a grant it just received.
const ISSUED_AT_SKEW: i64 = 300;

/// Signs a grant with the issuer's grant key.
pub fn sign_grant(
    claims: &GrantClaims,
    grant_key: &mut dyn Sm2Signer,
) -> Result<String, SignError> {
    token::seal(GRANT_KIND, claims, grant_key)
}

/// Verifies the issuer's signature, the version and the validity period.
/// Binding to a device/user is a separate step ([`GrantClaims::check_device`],
/// [`GrantClaims::check_user`]) because the issuer re-checks receipts
/// against the grant after it expired.
pub fn verify_grant(
    grant: &str,
    grant_key: &Sm2PublicKey,
    now: OffsetDateTime,
) -> Result<GrantClaims, GrantError> {
    let claims = verify_grant_signature(grant, grant_key)?;
    let now = now.unix_timestamp();
    if now >= claims.not_after {
        return Err(GrantError::Expired {
            not_after: claims.not_after,
            now,
        });
    }
    if now + ISSUED_AT_SKEW < claims.issued_at {
        return Err(GrantError::NotYetValid {
            issued_at: claims.issued_at,
            now,
        });
    }
    Ok(claims)
}

/// Verifies signature and version only (for auditing receipts later).
pub fn verify_grant_signature(
    grant: &str,
    grant_key: &Sm2PublicKey,
) -> Result<GrantClaims, GrantError> {
    let claims: GrantClaims = token::open(GRANT_KIND, grant, grant_key, GRANT_DIST_ID)?;
    if claims.v != 1 {
        return Err(GrantError::Version(claims.v));
    }
    Ok(claims)
}

impl GrantClaims {
    /// The grant must name this device and this device key.
    pub fn check_device(
        &self,
        device_id: &str,
        device_key: &Sm2PublicKey,
    ) -> Result<(), GrantError> {
        if self.device_id != device_id {
            return Err(GrantError::WrongDevice {
                granted: self.device_id.clone(),
                actual: device_id.to_owned(),
            });
        }
        if b64::decode(&self.device_public_key).as_deref() != Some(&device_key.to_spki_der()[..]) {
            return Err(GrantError::WrongDeviceKey);
        }
        Ok(())
    }

    pub fn check_user(&self, user: &str) -> Result<(), GrantError> {
        if self.user != user {
            return Err(GrantError::WrongUser {
                granted: self.user.clone(),
                actual: user.to_owned(),
            });
        }
        Ok(())
    }

    /// The device key named by the grant.
    pub fn device_key(&self) -> Result<Sm2PublicKey, GrantError> {
        let der = b64::decode(&self.device_public_key)
            .ok_or(TokenError::Malformed("device_public_key is not base64url"))?;
        Sm2PublicKey::from_spki_der(&der)
            .map_err(|_| TokenError::Malformed("device_public_key").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SoftwareSigner;
    use crate::sm2::Sm2SecretKey;
    use time::macros::datetime;

    fn setup() -> (SoftwareSigner, SoftwareSigner, GrantClaims) {
        let server = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), GRANT_DIST_ID);
        let device = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), DEFAULT_DIST_ID);
        let claims = GrantClaims {
            v: 1,
            grant_id: "g-1".into(),
            iss: "https://idp.example".into(),
            user: "alice".into(),
            device_id: "d-1".into(),
            device_public_key: b64::encode(&device.secret_key().public_key().to_spki_der()),
            device_dist_id: DEFAULT_DIST_ID.into(),
            key_storage: KeyStorage::Software,
            issued_at: datetime!(2026-03-01 08:00 UTC).unix_timestamp(),
            not_after: datetime!(2026-03-04 08:00 UTC).unix_timestamp(),
            max_offline_logins: 5,
        };
        (server, device, claims)
    }

    #[test]
    fn valid_grant_verifies_and_binds_device_and_user() {
        let (mut server, device, claims) = setup();
        let token = sign_grant(&claims, &mut server).unwrap();
        assert!(token.starts_with("tgg1."));
        let got = verify_grant(
            &token,
            server.secret_key().public_key(),
            datetime!(2026-03-02 00:00 UTC),
        )
        .unwrap();
        assert_eq!(got, claims);
        got.check_device("d-1", device.secret_key().public_key())
            .unwrap();
        got.check_user("alice").unwrap();
        assert_eq!(&got.device_key().unwrap(), device.secret_key().public_key());
    }

    #[test]
    fn bad_grants_are_clear_errors() {
        let (mut server, device, claims) = setup();
        let token = sign_grant(&claims, &mut server).unwrap();
        let key = server.secret_key().public_key().clone();
        let t = datetime!(2026-03-02 00:00 UTC);
        // expired: at not_after exactly, and later
        assert!(matches!(
            verify_grant(&token, &key, datetime!(2026-03-04 08:00 UTC)),
            Err(GrantError::Expired { .. })
        ));
        assert!(matches!(
            verify_grant(&token, &key, datetime!(2026-02-28 00:00 UTC)),
            Err(GrantError::NotYetValid { .. })
        ));
        // signed by another key
        let mut other = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), GRANT_DIST_ID);
        let forged = sign_grant(&claims, &mut other).unwrap();
        assert_eq!(
            verify_grant(&forged, &key, t),
            Err(GrantError::Token(TokenError::BadSignature))
        );
        // truncated anywhere: never accepted, always a named error
        for cut in [
            0,
            3,
            5,
            20,
            token.len() / 2,
            token.len() - 10,
            token.len() - 1,
        ] {
            let err = verify_grant(&token[..cut], &key, t).unwrap_err();
            assert!(matches!(err, GrantError::Token(_)), "cut {cut}: {err:?}");
        }
        // payload altered (user swapped) keeps the old signature
        let parts: Vec<&str> = token.split('.').collect();
        let mut evil = claims.clone();
        evil.user = "root".into();
        let evil_payload = b64::encode(&serde_json::to_vec(&evil).unwrap());
        let spliced = format!("tgg1.{evil_payload}.{}", parts[2]);
        assert_eq!(
            verify_grant(&spliced, &key, t),
            Err(GrantError::Token(TokenError::BadSignature))
        );
        // receipt-kind token presented as grant
        let wrong_kind = token.replacen("tgg1", "tgr1", 1);
        assert!(matches!(
            verify_grant(&wrong_kind, &key, t),
            Err(GrantError::Token(TokenError::WrongKind { .. }))
        ));
        // wrong device / key / user
        let good = verify_grant(&token, &key, t).unwrap();
        assert!(matches!(
            good.check_device("d-2", device.secret_key().public_key()),
            Err(GrantError::WrongDevice { .. })
        ));
        let stranger = Sm2SecretKey::generate().unwrap();
        assert_eq!(
            good.check_device("d-1", stranger.public_key()),
            Err(GrantError::WrongDeviceKey)
        );
        assert!(matches!(
            good.check_user("bob"),
            Err(GrantError::WrongUser { .. })
        ));
    }
}
