//! Signing keys: generation, rotation, the in-memory keyring and the JWKS.
//!
//! **Invariant:** a key is published in the JWKS from the moment it is
//! created, signs only from `activates_at` (after relying parties' JWKS
//! caches have had time to pick it up), and stays published after it stops
//! signing until every token it signed has expired.
//!
//! Private keys are parsed once when the keyring loads, not per token: a
//! PKCS#8 parse costs more than the signature itself.

mod generate;
pub mod jws;

pub use generate::{Alg, generate_key};
pub use jws::{JwsError, Verified};

use crate::master_key::MasterKey;
use crate::store::KeyRow;
use aws_lc_rs::signature::{EcdsaKeyPair, ParsedPublicKey, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A private key ready to sign.
pub(crate) enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

/// One key of the keyring.
pub struct LoadedKey {
    pub kid: String,
    pub alg: Alg,
    pub(crate) signer: SigningKey,
    pub(crate) verifier: ParsedPublicKey,
    pub activates_at: i64,
    pub retires_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// Why the keyring could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {0}: {1}")]
    Bad(String, String),
    #[error("no signing key for {0} is active")]
    NoActiveKey(&'static str),
}

/// All published keys, parsed, plus the JWKS document they make.
pub struct Keyring {
    keys: Vec<LoadedKey>,
    /// The JWKS response body, serialised once per load.
    jwks: axum::body::Bytes,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(f, "Keyring({kids:?})")
    }
}

impl Keyring {
    /// Opens and parses stored keys with the master key.
    pub fn load(rows: &[KeyRow], master: &MasterKey) -> Result<Keyring, KeyError> {
        let mut keys = Vec::with_capacity(rows.len());
        let mut jwks = Vec::with_capacity(rows.len());
        for row in rows {
            let bad = |m: &str| KeyError::Bad(row.kid.clone(), m.to_string());
            let alg = Alg::parse(&row.alg).ok_or_else(|| bad("unknown algorithm"))?;
            let sealed = STANDARD
                .decode(&row.private_sealed)
                .map_err(|_| bad("sealed key is not base64"))?;
            let pkcs8 = zeroize::Zeroizing::new(
                master
                    .open(&format!("signing-key:{}", row.kid), &sealed)
                    .map_err(|e| bad(&e.to_string()))?,
            );
            let (signer, verifier) = generate::parse(alg, &pkcs8).map_err(|m| bad(&m))?;
            let jwk: serde_json::Value =
                serde_json::from_str(&row.public_jwk).map_err(|_| bad("public JWK is not JSON"))?;
            jwks.push(jwk);
            keys.push(LoadedKey {
                kid: row.kid.clone(),
                alg,
                signer,
                verifier,
                activates_at: row.activates_at,
                retires_at: row.retires_at,
                expires_at: row.expires_at,
            });
        }
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks })).unwrap_or_default();
        Ok(Keyring {
            keys,
            jwks: jwks.into(),
        })
    }

    /// The key that signs for `alg` at `now`: the newest one that is active
    /// and not retired.
    pub fn signing_key(&self, alg: Alg, now: i64) -> Result<&LoadedKey, KeyError> {
        self.keys
            .iter()
            .filter(|k| {
                k.alg == alg && k.activates_at <= now && k.retires_at.is_none_or(|r| now < r)
            })
            .max_by_key(|k| k.activates_at)
            .ok_or(KeyError::NoActiveKey(alg.name()))
    }

    /// A published key by id.
    pub fn by_kid(&self, kid: &str) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document (`{"keys":[...]}`).
    pub fn jwks(&self) -> axum::body::Bytes {
        self.jwks.clone()
    }

    /// Signs `claims` as a compact JWS with the active key for `alg`.
    pub fn sign<T: serde::Serialize>(
        &self,
        alg: Alg,
        typ: Option<&str>,
        claims: &T,
        now: i64,
    ) -> Result<String, KeyError> {
        let key = self.signing_key(alg, now)?;
        jws::sign(key, typ, claims).map_err(|m| KeyError::Bad(key.kid.clone(), m))
    }

    /// Verifies a compact JWS made by one of our keys.
    pub fn verify(&self, token: &str) -> Result<Verified, JwsError> {
        jws::verify(self, token)
    }
}

/// How long after rotation the replaced key stays published: long enough for
/// every token it signed to expire.
pub fn retired_key_lifetime(tokens: &crate::config::TokenConfig) -> i64 {
    tokens.access_token_ttl.max(tokens.id_token_ttl) + 60
}
