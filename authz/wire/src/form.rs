//! `application/x-www-form-urlencoded` as the OAuth endpoints take it:
//! the bodies of `/token`, `/introspect`, `/revoke` and `POST /authorize`,
//! the query of `GET /authorize`, and the form-encoded halves of HTTP Basic
//! client credentials (RFC 6749 §2.3.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

/// A parsed form: each parameter once.
pub type Form = HashMap<String, String>;

/// Why a form was refused. The messages are safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("malformed form body")]
    Malformed,
    #[error("form body is not valid UTF-8")]
    NotUtf8,
    /// RFC 6749 §3.1: "Request and response parameters MUST NOT be included
    /// more than once."
    #[error("parameter {0:?} is repeated")]
    Repeated(String),
}

/// Parses a form. Repeated parameters and invalid UTF-8 are errors: the
/// decoder would otherwise replace bad bytes with U+FFFD, and two spellings
/// of one parameter would let two readers see two values.
pub fn parse(body: &[u8]) -> Result<Form, FormError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| FormError::Malformed)?;
    let mut form = Form::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err(FormError::NotUtf8);
        }
        if form.contains_key(&k) {
            return Err(FormError::Repeated(k));
        }
        form.insert(k, v);
    }
    Ok(form)
}

/// Serialises a form (for clients and for round-trip checks).
pub fn encode(form: &Form) -> String {
    let mut pairs: Vec<(&String, &String)> = form.iter().collect();
    pairs.sort();
    // Strings only: serialising pairs of strings cannot fail.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Why HTTP Basic client credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("unsupported Authorization scheme")]
    Scheme,
    #[error("malformed Basic credentials")]
    Malformed,
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 §2.3.1) as `(id, secret)`, both decoded.
pub fn basic_credentials(header: &str) -> Result<(String, String), BasicError> {
    let b64 = header.strip_prefix("Basic ").ok_or(BasicError::Scheme)?;
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| BasicError::Malformed)?;
    let raw = String::from_utf8(raw).map_err(|_| BasicError::Malformed)?;
    let (id, secret) = raw.split_once(':').ok_or(BasicError::Malformed)?;
    let id = decode_component(id).ok_or(BasicError::Malformed)?;
    let secret = decode_component(secret).ok_or(BasicError::Malformed)?;
    Ok((id, secret))
}

/// One form-urlencoded component (`+` is a space, `%XX` a byte), up to
/// the first raw `&`; `None` when the decoded bytes are not UTF-8.
pub fn decode_component(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    let (_, v) = pairs.into_iter().next()?;
    // The decoder turns invalid UTF-8 into U+FFFD (as in [`parse`]).
    (!v.contains('\u{FFFD}')).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let f = parse(b"a=1&b=x+y%21").unwrap();
        assert_eq!(f["a"], "1");
        assert_eq!(f["b"], "x y!");
        assert_eq!(parse(&encode(&f).into_bytes()).unwrap(), f);
        assert_eq!(parse(b"a=1&a=2"), Err(FormError::Repeated("a".to_string())));
        assert_eq!(parse(b"a=%ff%fe"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"%ff=1"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"a=1&b").unwrap()["b"], "");
    }

    #[test]
    fn basic() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aclient:s%25ecret+x"));
        assert_eq!(
            basic_credentials(&h),
            Ok(("my:client".to_string(), "s%ecret x".to_string()))
        );
        assert_eq!(basic_credentials("Bearer x"), Err(BasicError::Scheme));
        for bad in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic /w=="] {
            assert_eq!(basic_credentials(bad), Err(BasicError::Malformed), "{bad}");
        }
        let not_utf8 = format!("Basic {}", STANDARD.encode("a:%ff"));
        assert_eq!(basic_credentials(&not_utf8), Err(BasicError::Malformed));
    }
}
