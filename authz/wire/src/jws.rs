//! Compact JWS (RFC 7515 §7.1) as bytes from outside: three base64url
//! segments, a JSON header, a JSON payload. Only the shape is checked here;
//! which algorithms and keys are acceptable, and the signature, are the
//! verifier's business.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The token is not a compact JWS with a JSON header (or payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed token")]
pub struct Malformed;

/// The protected header fields the verifier reads. Other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A split token: the decoded header and signature, and the exact bytes
/// the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact<'a> {
    pub header: Header,
    /// `<header>.<payload>` exactly as received: what the signature covers.
    pub signing_input: &'a str,
    /// The payload segment, still base64url; see [`Compact::claims`].
    pub payload: &'a str,
    pub signature: Vec<u8>,
}

/// Splits a compact JWS and decodes its header and signature. Exactly
/// three segments; base64url without padding and without stray trailing
/// bits, so one token has one spelling.
pub fn parse(token: &str) -> Result<Compact<'_>, Malformed> {
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed);
    };
    // Through a `Value`: straight into `Header`, serde_json would skip the
    // fields it ignores without checking them (invalid UTF-8, numbers out
    // of range), so a header that is not JSON text (RFC 7515 §4) would
    // pass (found by the `jws` fuzz target).
    let header: Header = decode_json(h)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| Malformed)?;
    Ok(Compact {
        header,
        signing_input: &token[..h.len() + 1 + p.len()],
        payload: p,
        signature,
    })
}

impl Compact<'_> {
    /// The payload as JSON. Call it only after the signature verified: a
    /// claim is worth nothing before that.
    pub fn claims(&self) -> Result<serde_json::Value, Malformed> {
        decode_json(self.payload)
    }
}

/// One base64url segment holding JSON (a header or a payload).
pub fn decode_json(segment: &str) -> Result<serde_json::Value, Malformed> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn shapes() {
        let h = b64(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt","x":1}"#);
        let p = b64(r#"{"sub":"alice"}"#);
        let token = format!("{h}.{p}.AQID");
        let c = parse(&token).unwrap();
        assert_eq!(c.header.alg, "ES256");
        assert_eq!(c.header.kid.as_deref(), Some("k1"));
        assert_eq!(c.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(c.signing_input, format!("{h}.{p}"));
        assert_eq!(c.signature, vec![1, 2, 3]);
        assert_eq!(c.claims().unwrap()["sub"], "alice");

        let cases = [
            "a.b".to_string(),
            format!("{token}.extra"),
            "!!!.???.***".to_string(),
            format!("{}.{p}.AQID", b64(r#"{"kid":"k1"}"#)),
            format!("{}.{p}.AQID", b64("[1]")),
            format!("{h}.{p}.AQID="),
            // "AQJ" has trailing bits set: a second spelling of "AQI".
            format!("{h}.{p}.AQJ"),
            format!("{h}.{p}.A"),
            // An ignored header field that is not UTF-8.
            format!(
                "{}.{p}.AQID",
                URL_SAFE_NO_PAD.encode(b"{\"alg\":\"ES256\",\"x\":\"\xa4\"}")
            ),
            format!("{}.{p}.AQID", b64(r#"{"alg":"ES256","x":1e999}"#)),
        ];
        for t in cases {
            assert_eq!(parse(&t), Err(Malformed), "{t}");
        }
        let no_json = format!("{h}.{}.AQID", b64("not json"));
        assert_eq!(parse(&no_json).unwrap().claims(), Err(Malformed));
    }
}
