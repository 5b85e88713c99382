//! The exact bytes each party signs, and their server-side checks.
//!
//! Every signed message is ASCII lines joined by `\n` (no trailing newline),
//! the first line naming the purpose and version, so a signature made for
//! one purpose never verifies for another. Fields are ids and base64url
//! values, which contain no `\n`; [`join`] refuses any that do.

use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;

use crate::b64;
use crate::sm2::{self, Sm2PublicKey, Sm2Signature};
use crate::wire::{ApprovalRequest, Decision, KeyStorage};

/// Challenges expire this long after creation (seconds).
pub const CHALLENGE_TTL: i64 = 120;
/// Device request signatures are accepted within this clock skew (seconds);
/// the issuer remembers each `(device, nonce)` at least this long.
pub const REQUEST_SKEW: i64 = 300;

/// Why a device's signed message is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("field contains a newline")]
    Newline,
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("device signature does not verify")]
    BadSignature,
    #[error("request time {ts} is outside ±{REQUEST_SKEW}s of {now}")]
    Stale { ts: i64, now: i64 },
    #[error("challenge expired")]
    ChallengeExpired,
    #[error("challenge already answered (replay)")]
    ChallengeUsed,
    #[error("challenge belongs to another device")]
    WrongDevice,
    #[error("answer does not match the challenge (transaction or nonce)")]
    Mismatch,
}

fn join(lines: &[&str]) -> Result<Vec<u8>, ProtocolError> {
    if lines.iter().any(|l| l.contains('\n')) {
        return Err(ProtocolError::Newline);
    }
    Ok(lines.join("\n").into_bytes())
}

/// Proof of possession at enrollment:
/// `tollgate-enroll-v1 \n enrollment_id \n challenge \n public_key \n dist_id \n key_storage`.
pub fn enroll_bytes(
    enrollment_id: &str,
    challenge: &str,
    public_key_b64: &str,
    dist_id: &str,
    storage: KeyStorage,
) -> Result<Vec<u8>, ProtocolError> {
    join(&[
        "tollgate-enroll-v1",
        enrollment_id,
        challenge,
        public_key_b64,
        dist_id,
        storage.as_str(),
    ])
}

/// Authentication of a device's HTTP request (`Authorization` header):
/// `tollgate-agent-request-v1 \n METHOD \n path?query \n device_id \n ts \n nonce \n hex(SM3(body))`.
pub fn request_bytes(
    method: &str,
    path: &str,
    device_id: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> Result<Vec<u8>, ProtocolError> {
    let ts = ts.to_string();
    let body_hash = sm2::hex(&Sm3::digest(body));
    join(&[
        "tollgate-agent-request-v1",
        &method.to_ascii_uppercase(),
        path,
        device_id,
        &ts,
        nonce,
        &body_hash,
    ])
}

/// Answer to a login challenge, bound to the transaction, the server nonce
/// and the number the user typed:
/// `tollgate-approve-v1 \n device_id \n challenge_id \n transaction_id \n nonce \n number \n decision`.
pub fn approval_bytes(req: &ApprovalRequest) -> Result<Vec<u8>, ProtocolError> {
    join(&[
        "tollgate-approve-v1",
        &req.device_id,
        &req.challenge_id,
        &req.transaction_id,
        &req.nonce,
        &req.number,
        req.decision.as_str(),
    ])
}

/// The `Authorization: Tollgate-SM2 …` header of a device request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    pub device_id: String,
    pub ts: i64,
    pub nonce: String,
    /// base64url DER signature over [`request_bytes`].
    pub signature: String,
}

/// Header scheme name.
pub const AUTH_SCHEME: &str = "Tollgate-SM2";

impl DeviceAuth {
    pub fn to_header(&self) -> String {
        format!(
            "{AUTH_SCHEME} device=\"{}\", ts=\"{}\", nonce=\"{}\", sig=\"{}\"",
            self.device_id, self.ts, self.nonce, self.signature
        )
    }

    pub fn parse_header(value: &str) -> Result<Self, ProtocolError> {
        let rest = value
            .strip_prefix(AUTH_SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(ProtocolError::Malformed("Authorization scheme"))?;
        let (mut device, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or(ProtocolError::Malformed("Authorization parameter"))?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or(ProtocolError::Malformed("Authorization quoting"))?;
            match k {
                "device" => device = Some(v.to_owned()),
                "ts" => ts = v.parse::<i64>().ok(),
                "nonce" => nonce = Some(v.to_owned()),
                "sig" => sig = Some(v.to_owned()),
                _ => return Err(ProtocolError::Malformed("Authorization parameter name")),
            }
        }
        Ok(Self {
            device_id: device.ok_or(ProtocolError::Malformed("device"))?,
            ts: ts.ok_or(ProtocolError::Malformed("ts"))?,
            nonce: nonce.ok_or(ProtocolError::Malformed("nonce"))?,
            signature: sig.ok_or(ProtocolError::Malformed("sig"))?,
        })
    }

    /// Issuer side: checks time and signature. The caller looks up the
    /// device by `self.device_id` (refusing revoked devices) and must refuse
    /// a `(device_id, nonce)` pair seen within [`REQUEST_SKEW`].
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        device_key: &Sm2PublicKey,
        dist_id: &str,
        now: i64,
    ) -> Result<(), ProtocolError> {
        if (self.ts - now).abs() > REQUEST_SKEW {
            return Err(ProtocolError::Stale { ts: self.ts, now });
        }
        let msg = request_bytes(method, path, &self.device_id, self.ts, &self.nonce, body)?;
        verify_b64(device_key, dist_id, &msg, &self.signature)
    }
}

/// A challenge as the issuer stored it when the login asked for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub challenge_id: String,
    pub transaction_id: String,
    pub device_id: String,
    pub nonce: String,
    /// The two-digit number shown on the login page.
    pub number: String,
    pub expires_at: i64,
    /// Whether an answer was already accepted or refused for it.
    pub used: bool,
}

/// What an answer means, once its signature and binding are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// Right number, user approved: complete the step-up.
    Approved,
    /// User said it was not them.
    Denied,
    /// Wrong number: the user picked what the attacker's page did not show.
    WrongNumber,
}

/// Issuer side: checks an answer against the stored challenge. Whatever the
/// result, the issuer must then mark the challenge used (atomically with
/// this check), so each challenge is answered at most once and a wrong
/// number cannot be retried.
pub fn check_approval(
    challenge: &IssuedChallenge,
    req: &ApprovalRequest,
    device_key: &Sm2PublicKey,
    dist_id: &str,
    now: i64,
) -> Result<ApprovalOutcome, ProtocolError> {
    if challenge.used {
        return Err(ProtocolError::ChallengeUsed);
    }
    if now >= challenge.expires_at {
        return Err(ProtocolError::ChallengeExpired);
    }
    if req.device_id != challenge.device_id {
        return Err(ProtocolError::WrongDevice);
    }
    if req.challenge_id != challenge.challenge_id
        || req.transaction_id != challenge.transaction_id
        || !bool::from(req.nonce.as_bytes().ct_eq(challenge.nonce.as_bytes()))
    {
        return Err(ProtocolError::Mismatch);
    }
    verify_b64(device_key, dist_id, &approval_bytes(req)?, &req.signature)?;
    Ok(match req.decision {
        Decision::Deny => ApprovalOutcome::Denied,
        Decision::Approve
            if bool::from(req.number.as_bytes().ct_eq(challenge.number.as_bytes())) =>
        {
            ApprovalOutcome::Approved
        }
        Decision::Approve => ApprovalOutcome::WrongNumber,
    })
}

/// Verifies a base64url DER signature.
pub fn verify_b64(
    key: &Sm2PublicKey,
    dist_id: &str,
    msg: &[u8],
    sig_b64: &str,
) -> Result<(), ProtocolError> {
    let der = b64::decode(sig_b64).ok_or(ProtocolError::Malformed("signature base64url"))?;
    let sig =
        Sm2Signature::from_der(&der).map_err(|_| ProtocolError::Malformed("signature DER"))?;
    sm2::verify(key, dist_id, msg, &sig).map_err(|_| ProtocolError::BadSignature)
}

/// A fresh random two-digit number for the login page, `10`–`99` (never a
/// leading zero, so what the page shows is what the user types).
pub fn random_number() -> Result<String, getrandom::Error> {
    let n = getrandom::u32()? % 90 + 10;
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{SoftwareSigner, sign_message};
    use crate::sm2::{DEFAULT_DIST_ID, Sm2SecretKey};

    fn signed_answer(
        dev: &mut SoftwareSigner,
        ch: &IssuedChallenge,
        number: &str,
        d: Decision,
    ) -> ApprovalRequest {
        let mut req = ApprovalRequest {
            device_id: ch.device_id.clone(),
            challenge_id: ch.challenge_id.clone(),
            transaction_id: ch.transaction_id.clone(),
            nonce: ch.nonce.clone(),
            number: number.into(),
            decision: d,
            signature: String::new(),
        };
        let sig = sign_message(dev, &approval_bytes(&req).unwrap()).unwrap();
        req.signature = b64::encode(&sig.to_der());
        req
    }

    fn challenge() -> IssuedChallenge {
        IssuedChallenge {
            challenge_id: "c-1".into(),
            transaction_id: "tx-9".into(),
            device_id: "d-1".into(),
            nonce: "bm9uY2U".into(),
            number: "42".into(),
            expires_at: 1_000_120,
            used: false,
        }
    }

    #[test]
    fn approval_cases() {
        let mut dev = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), DEFAULT_DIST_ID);
        let key = dev.secret_key().public_key().clone();
        let ch = challenge();
        let now = 1_000_010;
        let check = |ch: &IssuedChallenge, req: &ApprovalRequest, now: i64| {
            check_approval(ch, req, &key, DEFAULT_DIST_ID, now)
        };

        let ok = signed_answer(&mut dev, &ch, "42", Decision::Approve);
        assert_eq!(check(&ch, &ok, now), Ok(ApprovalOutcome::Approved));
        let wrong = signed_answer(&mut dev, &ch, "24", Decision::Approve);
        assert_eq!(check(&ch, &wrong, now), Ok(ApprovalOutcome::WrongNumber));
        let deny = signed_answer(&mut dev, &ch, "42", Decision::Deny);
        assert_eq!(check(&ch, &deny, now), Ok(ApprovalOutcome::Denied));

        // replay: the same valid answer after the challenge was used
        let used = IssuedChallenge {
            used: true,
            ..ch.clone()
        };
        assert_eq!(check(&used, &ok, now), Err(ProtocolError::ChallengeUsed));
        // expiry at exactly expires_at
        assert_eq!(
            check(&ch, &ok, 1_000_120),
            Err(ProtocolError::ChallengeExpired)
        );
        // a signed answer for another challenge's nonce / transaction
        let other = IssuedChallenge {
            nonce: "b3RoZXI".into(),
            ..ch.clone()
        };
        assert_eq!(check(&other, &ok, now), Err(ProtocolError::Mismatch));
        let other = IssuedChallenge {
            transaction_id: "tx-10".into(),
            ..ch.clone()
        };
        assert_eq!(check(&other, &ok, now), Err(ProtocolError::Mismatch));
        // number changed after signing
        let mut tampered = ok.clone();
        tampered.number = "43".into();
        assert_eq!(check(&ch, &tampered, now), Err(ProtocolError::BadSignature));
        // another device's key
        let stranger = Sm2SecretKey::generate().unwrap();
        assert_eq!(
            check_approval(&ch, &ok, stranger.public_key(), DEFAULT_DIST_ID, now),
            Err(ProtocolError::BadSignature)
        );
        let mut wrong_dev = ok.clone();
        wrong_dev.device_id = "d-2".into();
        assert_eq!(check(&ch, &wrong_dev, now), Err(ProtocolError::WrongDevice));
    }

    #[test]
    fn device_request_auth_round_trip_and_failures() {
        let mut dev = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), DEFAULT_DIST_ID);
        let key = dev.secret_key().public_key().clone();
        let body = br#"{"receipts":[]}"#;
        let msg = request_bytes("post", "/v1/agent/receipts", "d-1", 5000, "n1", body).unwrap();
        let sig = b64::encode(&sign_message(&mut dev, &msg).unwrap().to_der());
        let auth = DeviceAuth {
            device_id: "d-1".into(),
            ts: 5000,
            nonce: "n1".into(),
            signature: sig,
        };
        let parsed = DeviceAuth::parse_header(&auth.to_header()).unwrap();
        assert_eq!(parsed, auth);
        parsed
            .verify(
                "POST",
                "/v1/agent/receipts",
                body,
                &key,
                DEFAULT_DIST_ID,
                5100,
            )
            .unwrap();
        assert_eq!(
            parsed.verify(
                "POST",
                "/v1/agent/receipts",
                b"{}",
                &key,
                DEFAULT_DIST_ID,
                5100
            ),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            parsed.verify("POST", "/v1/agent/grant", body, &key, DEFAULT_DIST_ID, 5100),
            Err(ProtocolError::BadSignature)
        );
        assert!(matches!(
            parsed.verify(
                "POST",
                "/v1/agent/receipts",
                body,
                &key,
                DEFAULT_DIST_ID,
                5301
            ),
            Err(ProtocolError::Stale { .. })
        ));
        assert!(DeviceAuth::parse_header("Bearer x").is_err());
        assert_eq!(
            request_bytes("GET", "/a\nb", "d", 1, "n", b""),
            Err(ProtocolError::Newline)
        );
    }

    #[test]
    fn canonical_bytes_are_exactly_as_documented() {
        let b = enroll_bytes("e-1", "Y2g", "UEs", DEFAULT_DIST_ID, KeyStorage::Tpm).unwrap();
        assert_eq!(
            b,
            b"tollgate-enroll-v1\ne-1\nY2g\nUEs\n1234567812345678\ntpm"
        );
        let b = request_bytes("get", "/v1/x?y=1", "d-1", 17, "bg", b"").unwrap();
        // SM3("") from GB/T 32905 is 1ab21d83…; asserted through its prefix
        let text = String::from_utf8(b).unwrap();
        assert!(text.starts_with("tollgate-agent-request-v1\nGET\n/v1/x?y=1\nd-1\n17\nbg\n1ab21d8355cfa17f8e61194831e81a8f"));
        for _ in 0..50 {
            let n: u32 = random_number().unwrap().parse().unwrap();
            assert!((10..=99).contains(&n));
        }
    }
}
