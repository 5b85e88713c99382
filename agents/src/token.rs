//! The signed-token envelope shared by offline grants and receipts:
//!
//! ```text
//! <kind>.<base64url(payload JSON)>.<base64url(DER SM2 signature)>
//! ```
//!
//! The signature covers the ASCII bytes `<kind>.<base64url(payload)>`
//! exactly as transmitted (as in JWS), so no JSON canonicalisation is
//! needed: the verifier checks the bytes it received, then parses them.
//! `kind` (`tgg1` grant, `tgr1` receipt) separates the domains, so a
//! receipt can never be passed off as a grant or vice versa.

use crate::b64;
use crate::signer::{SignError, Sm2Signer, sign_message};
use crate::sm2::{self, Sm2PublicKey, Sm2Signature};

/// Why a token could not be read or verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a {expected} token (starts with {found:?})")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
    #[error("truncated or malformed token: {0}")]
    Malformed(&'static str),
    #[error("signature does not verify with the expected key (signed by another key, or altered)")]
    BadSignature,
    #[error("payload is not valid JSON for this token: {0}")]
    BadPayload(String),
}

/// Serializes `payload`, signs it with `signer`, returns the token.
pub fn seal<T: serde::Serialize>(
    kind: &'static str,
    payload: &T,
    signer: &mut dyn Sm2Signer,
) -> Result<String, SignError> {
    let json = serde_json::to_vec(payload).map_err(|e| SignError::Tpm(e.to_string()))?;
    let input = format!("{kind}.{}", b64::encode(&json));
    let sig = sign_message(signer, input.as_bytes())?;
    Ok(format!("{input}.{}", b64::encode(&sig.to_der())))
}

/// Splits and verifies a token of `kind` against `key` and `dist_id`, then
/// parses its payload. The signature is checked before the JSON is parsed.
pub fn open<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    token: &str,
    key: &Sm2PublicKey,
    dist_id: &str,
) -> Result<T, TokenError> {
    let (payload, sig) = split(kind, token)?;
    let input_len = token.trim().len() - sig.len() - 1;
    let input = &token.trim()[..input_len];
    sm2::verify(key, dist_id, input.as_bytes(), &sig).map_err(|_| TokenError::BadSignature)?;
    serde_json::from_slice(&payload).map_err(|e| TokenError::BadPayload(e.to_string()))
}

/// Reads the payload without verifying anything, for choosing which key to
/// verify with (e.g. the device named in a receipt). Never trust its result.
pub fn peek<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    token: &str,
) -> Result<T, TokenError> {
    let (payload, _) = split(kind, token)?;
    serde_json::from_slice(&payload).map_err(|e| TokenError::BadPayload(e.to_string()))
}

fn split(kind: &'static str, token: &str) -> Result<(Vec<u8>, SigPart), TokenError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let found = parts.next().unwrap_or_default();
    if found != kind {
        return Err(TokenError::WrongKind {
            expected: kind,
            found: found.chars().take(8).collect(),
        });
    }
    let payload = parts.next().ok_or(TokenError::Malformed("no payload"))?;
    let sig = parts.next().ok_or(TokenError::Malformed("no signature"))?;
    if parts.next().is_some() {
        return Err(TokenError::Malformed("too many parts"));
    }
    let payload = b64::decode(payload).ok_or(TokenError::Malformed("payload is not base64url"))?;
    let sig_der = b64::decode(sig).ok_or(TokenError::Malformed("signature is not base64url"))?;
    let parsed = Sm2Signature::from_der(&sig_der)
        .map_err(|_| TokenError::Malformed("signature is not DER SEQUENCE{r,s}"))?;
    Ok((
        payload,
        SigPart {
            text_len: sig.len(),
            sig: parsed,
        },
    ))
}

/// The signature and the length of its text form (to find the signed input).
struct SigPart {
    text_len: usize,
    sig: Sm2Signature,
}

impl SigPart {
    fn len(&self) -> usize {
        self.text_len
    }
}

impl std::ops::Deref for SigPart {
    type Target = Sm2Signature;
    fn deref(&self) -> &Sm2Signature {
        &self.sig
    }
}
