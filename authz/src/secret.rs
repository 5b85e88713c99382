//! Secrets that never print, and the few operations done on them.
//!
//! **Invariant:** a [`Secret`] has no `Serialize`, and its `Debug`/`Display`
//! print `[redacted]`, so a secret cannot reach a log line or a JSON body by
//! accident. Comparisons go through [`ct_eq`] (constant time).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// A secret string (password, client secret, code, token). Zeroed on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }

    /// The secret itself; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Fills `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // aws-lc's RNG only fails if the OS entropy source is gone; there is no
    // safe way to continue issuing tokens then.
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        std::process::abort();
    }
    buf
}

/// A random URL-safe token carrying `bytes` bytes of entropy (base64url, no padding).
pub fn random_token(bytes: usize) -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(random_bytes(bytes)))
}

/// A random identifier that is not secret (session ids, key ids, jti).
pub fn random_id(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// SHA-256 of a byte string: how secrets (client secrets, codes, refresh
/// tokens, session cookies) are stored, so a database dump yields nothing usable.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn random_tokens_have_the_requested_entropy() {
        let t = random_token(32);
        assert_eq!(t.expose().len(), 43);
        assert_ne!(t.expose(), random_token(32).expose());
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        for (a, b, eq) in [
            (&b"abc"[..], &b"abc"[..], true),
            (b"abc", b"abd", false),
            (b"abc", b"ab", false),
            (b"", b"", true),
        ] {
            assert_eq!(ct_eq(a, b), eq, "{a:?} vs {b:?}");
        }
    }
}
