//! TOTP (RFC 6238) verification, enrollment URIs and recovery codes. Pure:
//! the time is a parameter, and "each step at most once" is enforced by the
//! caller with the step this returns (`Store::use_totp_step`).

use crate::config::AuthenticatorConfig;
use crate::secret::{Secret, ct_eq};
use totp_rs::{Algorithm, Builder, Totp};

/// Steps either side of the current one that are accepted (RFC 6238 §5.2
/// allows one step of network delay; two would double a guesser's chances).
pub const SKEW_STEPS: i64 = 1;

/// TOTP parameters from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub algorithm: Algorithm,
    pub digits: usize,
    pub period: u64,
}

impl Params {
    /// Parameters from `[authenticators]`; unknown algorithms fall back to SHA1
    /// (config validation rejects them before we get here).
    pub fn from_config(c: &AuthenticatorConfig) -> Params {
        Params {
            algorithm: match c.totp_algorithm.as_str() {
                "SHA256" => Algorithm::SHA256,
                "SHA512" => Algorithm::SHA512,
                _ => Algorithm::SHA1,
            },
            digits: c.totp_digits,
            period: c.totp_period,
        }
    }

    fn name(self) -> &'static str {
        match self.algorithm {
            Algorithm::SHA1 => "SHA1",
            Algorithm::SHA256 => "SHA256",
            Algorithm::SHA512 => "SHA512",
            _ => "SHA1",
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            algorithm: Algorithm::SHA1,
            digits: 6,
            period: 30,
        }
    }
}

fn totp(p: Params, secret: &[u8]) -> Totp {
    // `build_noncompliant`: the RFC 6238 test secrets are shorter than
    // totp-rs's 128-bit floor; our own secrets are always 160 bits (`new_secret`).
    Builder::new()
        .with_algorithm(p.algorithm)
        .with_digits(p.digits as u8)
        .with_skew(0)
        .with_step_duration(p.period)
        .with_secret(secret.to_vec())
        .build_noncompliant()
}

/// The code for time step `step`.
pub fn code_at_step(p: Params, secret: &[u8], step: i64) -> String {
    totp(p, secret)
        .generate(step.max(0) as u64 * p.period)
        .to_string()
}

/// The time step that `code` matches at `now` within ±[`SKEW_STEPS`], or
/// `None`. Compares in constant time and checks every candidate step.
pub fn verify(p: Params, secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != p.digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(p, secret);
    let current = now / p.period as i64;
    let mut found = None;
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        if step < 0 {
            continue;
        }
        let want = t.generate(step as u64 * p.period).to_string();
        if ct_eq(want.as_bytes(), code.as_bytes()) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A new 160-bit secret (RFC 4226 §4 recommends 160 bits for HMAC-SHA1).
pub fn new_secret() -> Vec<u8> {
    crate::secret::random_bytes(20)
}

/// The `otpauth://totp/...` URI authenticator apps import (key URI format).
pub fn otpauth_uri(p: Params, secret: &[u8], issuer: &str, account: &str) -> Secret {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    Secret::new(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        enc(issuer).replace('+', "%20"),
        enc(account).replace('+', "%20"),
        base32(secret),
        enc(issuer).replace('+', "%20"),
        p.name(),
        p.digits,
        p.period
    ))
}

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes RFC 4648 base32 (case-insensitive, padding and spaces ignored),
/// e.g. a key a user typed by hand.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.chars().filter(|c| !matches!(c, '=' | ' ' | '-')) {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

/// Ten single-use recovery codes (`xxxxx-xxxxx`, 50 bits each from a
/// lowercase base32 alphabet) and their SHA-256 hashes.
pub fn recovery_codes() -> (Vec<Secret>, Vec<String>) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut codes = Vec::with_capacity(10);
    let mut hashes = Vec::with_capacity(10);
    for _ in 0..10 {
        let raw = crate::secret::random_bytes(10);
        let s: String = raw
            .iter()
            .enumerate()
            .flat_map(|(i, b)| {
                let c = ALPHABET[(*b & 31) as usize] as char;
                if i == 5 { vec!['-', c] } else { vec![c] }
            })
            .collect();
        hashes.push(recovery_hash(&s));
        codes.push(Secret::new(s));
    }
    (codes, hashes)
}

/// The stored form of a recovery code: SHA-256 of its normalised text.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .collect();
    crate::store::hex(&crate::secret::sha256(norm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: 8 digits, T0 = 0, X = 30, per-algorithm seeds.
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let cases: &[(i64, Algorithm, &[u8], &str)] = &[
            (59, Algorithm::SHA1, sha1, "94287082"),
            (59, Algorithm::SHA256, sha256, "46119246"),
            (59, Algorithm::SHA512, sha512, "90693936"),
            (1111111109, Algorithm::SHA1, sha1, "07081804"),
            (1111111109, Algorithm::SHA256, sha256, "68084774"),
            (1111111109, Algorithm::SHA512, sha512, "25091201"),
            (1111111111, Algorithm::SHA1, sha1, "14050471"),
            (1111111111, Algorithm::SHA256, sha256, "67062674"),
            (1111111111, Algorithm::SHA512, sha512, "99943326"),
            (1234567890, Algorithm::SHA1, sha1, "89005924"),
            (1234567890, Algorithm::SHA256, sha256, "91819424"),
            (1234567890, Algorithm::SHA512, sha512, "93441116"),
            (2000000000, Algorithm::SHA1, sha1, "69279037"),
            (2000000000, Algorithm::SHA256, sha256, "90698825"),
            (2000000000, Algorithm::SHA512, sha512, "38618901"),
            (20000000000, Algorithm::SHA1, sha1, "65353130"),
            (20000000000, Algorithm::SHA256, sha256, "77737706"),
            (20000000000, Algorithm::SHA512, sha512, "47863826"),
        ];
        for &(t, algorithm, seed, want) in cases {
            let p = Params {
                algorithm,
                digits: 8,
                period: 30,
            };
            assert_eq!(code_at_step(p, seed, t / 30), want, "{t} {algorithm:?}");
            assert_eq!(verify(p, seed, want, t), Some(t / 30), "{t} {algorithm:?}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_refuses_two() {
        let p = Params::default();
        let secret = new_secret();
        let now = 1_700_000_015;
        let step = now / 30;
        // (offset in steps, accepted?)
        for (d, ok) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at_step(p, &secret, step + d);
            assert_eq!(verify(p, &secret, &code, now).is_some(), ok, "offset {d}");
        }
        for bad in ["", "12345", "1234567", "abcdef", " 12 34 5"] {
            assert_eq!(verify(p, &secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn uri_base32_and_recovery_codes() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32(b"f"), "MY");
        let secret = new_secret();
        assert_eq!(base32_decode(&base32(&secret).to_lowercase()), Some(secret));
        assert_eq!(base32_decode("0189"), None);
        let uri = otpauth_uri(
            Params::default(),
            b"12345678901234567890",
            "Tollgate",
            "alice",
        );
        assert_eq!(
            uri.expose(),
            "otpauth://totp/Tollgate:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tollgate&algorithm=SHA1&digits=6&period=30"
        );
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        for (c, h) in codes.iter().zip(&hashes) {
            assert_eq!(c.expose().len(), 11);
            assert_eq!(&recovery_hash(&c.expose().to_uppercase()), h);
        }
    }
}
