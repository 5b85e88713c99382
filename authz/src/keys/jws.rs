//! Compact JWS for our own tokens: sign with a keyring key, verify against
//! the keyring. Only ES256 and RS256 exist here; `alg: none`, HMAC and any
//! header that names an unknown key are rejected before a signature is checked.
//! The token's bytes are parsed by `tollgate_wire::jws`.

use super::{Alg, Keyring, LoadedKey, SigningKey};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a token was not accepted. Deliberately coarse: clients get `invalid_token`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported or mismatched algorithm")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
}

/// A token whose signature checked out.
#[derive(Debug)]
pub struct Verified {
    pub typ: Option<String>,
    pub claims: serde_json::Value,
}

pub(super) fn sign<T: serde::Serialize>(
    key: &LoadedKey,
    typ: Option<&str>,
    claims: &T,
) -> Result<String, String> {
    let header = match typ {
        Some(t) => serde_json::json!({ "alg": key.alg.name(), "kid": key.kid, "typ": t }),
        None => serde_json::json!({ "alg": key.alg.name(), "kid": key.kid }),
    };
    let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(header.len() * 4 / 3 + payload.len() * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(&header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = match &key.signer {
        SigningKey::Es256(k) => k
            .sign(&rng, out.as_bytes())
            .map_err(|_| "ES256 signing failed")?
            .as_ref()
            .to_vec(),
        SigningKey::Rs256(k) => {
            let mut sig = vec![0u8; k.public_modulus_len()];
            k.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                .map_err(|_| "RS256 signing failed")?;
            sig
        }
    };
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
    Ok(out)
}

pub(super) fn verify(ring: &Keyring, token: &str) -> Result<Verified, JwsError> {
    // The bytes are split and decoded by `tollgate_wire` (fuzzed alone);
    // what is acceptable, and the signature, are decided here.
    let jws = tollgate_wire::jws::parse(token).map_err(|_| JwsError::Malformed)?;
    let alg = Alg::parse(&jws.header.alg).ok_or(JwsError::Algorithm)?;
    let key = jws
        .header
        .kid
        .as_deref()
        .and_then(|k| ring.by_kid(k))
        .ok_or(JwsError::UnknownKey)?;
    if key.alg != alg {
        return Err(JwsError::Algorithm);
    }
    key.verifier
        .verify_sig(jws.signing_input.as_bytes(), &jws.signature)
        .map_err(|_| JwsError::Signature)?;
    let claims = jws.claims().map_err(|_| JwsError::Malformed)?;
    Ok(Verified {
        typ: jws.header.typ,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_key;
    use crate::master_key::MasterKey;

    fn ring() -> Keyring {
        let master = MasterKey::from_material(&[3u8; 32], "t").unwrap();
        let rows = vec![
            generate_key(Alg::ES256, &master, 100, 100).unwrap(),
            generate_key(Alg::RS256, &master, 100, 100).unwrap(),
        ];
        Keyring::load(&rows, &master).unwrap()
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn tokens_verify_and_tampering_is_caught() {
        let ring = ring();
        for alg in [Alg::ES256, Alg::RS256] {
            let t = ring
                .sign(
                    alg,
                    Some("at+jwt"),
                    &serde_json::json!({"sub": "alice"}),
                    200,
                )
                .unwrap();
            let v = ring.verify(&t).unwrap();
            assert_eq!(v.claims["sub"], "alice");
            assert_eq!(v.typ.as_deref(), Some("at+jwt"));

            let parts: Vec<&str> = t.split('.').collect();
            let forged = format!(
                "{}.{}.{}",
                parts[0],
                b64(&serde_json::json!({"sub": "mallory"})),
                parts[2]
            );
            assert_eq!(ring.verify(&forged).unwrap_err(), JwsError::Signature);
        }
    }

    #[test]
    fn hostile_headers_are_refused() {
        let ring = ring();
        let good = ring
            .sign(Alg::ES256, None, &serde_json::json!({"sub": "a"}), 200)
            .unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let kid = ring.signing_key(Alg::ES256, 200).unwrap().kid.clone();
        let rs_kid = ring.signing_key(Alg::RS256, 200).unwrap().kid.clone();
        let cases = [
            (
                format!("{}.{}.", b64(&serde_json::json!({"alg": "none"})), parts[1]),
                JwsError::Algorithm,
            ),
            (
                format!(
                    "{}.{}.{}",
                    b64(&serde_json::json!({"alg": "HS256", "kid": kid})),
                    parts[1],
                    parts[2]
                ),
                JwsError::Algorithm,
            ),
            (
                format!(
                    "{}.{}.{}",
                    b64(&serde_json::json!({"alg": "ES256", "kid": "nope"})),
                    parts[1],
                    parts[2]
                ),
                JwsError::UnknownKey,
            ),
            (
                format!(
                    "{}.{}.{}",
                    b64(&serde_json::json!({"alg": "ES256", "kid": rs_kid})),
                    parts[1],
                    parts[2]
                ),
                JwsError::Algorithm,
            ),
            ("a.b".to_string(), JwsError::Malformed),
            (format!("{good}.extra"), JwsError::Malformed),
            ("!!!.???.***".to_string(), JwsError::Malformed),
        ];
        for (token, want) in cases {
            assert_eq!(ring.verify(&token).unwrap_err(), want, "{token}");
        }
    }

    #[test]
    fn the_newest_active_key_signs_and_retired_keys_stop() {
        let master = MasterKey::from_material(&[3u8; 32], "t").unwrap();
        let mut old = generate_key(Alg::ES256, &master, 0, 0).unwrap();
        old.retires_at = Some(500);
        let new = generate_key(Alg::ES256, &master, 100, 500).unwrap();
        let ring = Keyring::load(&[old.clone(), new.clone()], &master).unwrap();
        assert_eq!(ring.signing_key(Alg::ES256, 499).unwrap().kid, old.kid);
        assert_eq!(ring.signing_key(Alg::ES256, 500).unwrap().kid, new.kid);
        assert!(ring.signing_key(Alg::RS256, 500).is_err());
        let jwks: serde_json::Value = serde_json::from_slice(&ring.jwks()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    }
}
