//! Creating keys and turning stored PKCS#8 back into signers.

use super::SigningKey;
use crate::master_key::MasterKey;
use crate::store::KeyRow;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A JWS algorithm we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256: the default; fast and small.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit): OIDC's mandatory algorithm, what vCenter expects.
    RS256,
}

impl Alg {
    /// Parses `ES256` / `RS256`.
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::ES256),
            "RS256" => Some(Alg::RS256),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
        }
    }
}

/// Generates a key, seals its private half with the master key, and builds
/// its public JWK. `activates_at` is when it starts signing.
pub fn generate_key(
    alg: Alg,
    master: &MasterKey,
    now: i64,
    activates_at: i64,
) -> Result<KeyRow, String> {
    let kid = crate::secret::random_id(12);
    let (pkcs8, jwk) = match alg {
        Alg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &aws_lc_rs::rand::SystemRandom::new(),
            )
            .map_err(|_| "EC key generation failed".to_string())?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|e| e.to_string())?;
            let point = pair.public_key().as_ref();
            if point.len() != 65 {
                return Err("unexpected EC public key encoding".into());
            }
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (doc.as_ref().to_vec(), jwk)
        }
        Alg::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| "RSA key generation failed".to_string())?;
            let der = pair
                .as_der()
                .map_err(|_| "RSA key encoding failed".to_string())?;
            let public = pair.public_key();
            let jwk = serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            });
            (der.as_ref().to_vec(), jwk)
        }
    };
    let pkcs8 = zeroize::Zeroizing::new(pkcs8);
    let sealed = master.seal(&format!("signing-key:{kid}"), &pkcs8);
    Ok(KeyRow {
        kid,
        alg: alg.name().to_string(),
        private_sealed: STANDARD.encode(sealed),
        public_jwk: jwk.to_string(),
        created_at: now,
        activates_at,
        retires_at: None,
        expires_at: None,
    })
}

/// Parses PKCS#8 into a signer and the matching verifier.
pub(super) fn parse(alg: Alg, pkcs8: &[u8]) -> Result<(SigningKey, ParsedPublicKey), String> {
    match alg {
        Alg::ES256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map_err(|e| e.to_string())?;
            let verifier =
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                    .map_err(|e| e.to_string())?;
            Ok((SigningKey::Es256(pair), verifier))
        }
        Alg::RS256 => {
            let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| e.to_string())?;
            let verifier =
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                    .map_err(|e| e.to_string())?;
            Ok((SigningKey::Rs256(pair), verifier))
        }
    }
}
