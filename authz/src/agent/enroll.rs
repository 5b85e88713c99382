//! Enrollment: a signed-in user gets a short-lived, single-use code; the
//! agent trades it for a challenge (`begin`), for a TPM key runs the
//! credential activation (`attest`, once per enrollment), proves possession
//! of its new SM2 key by signing the challenge (`finish`, with the TPM's
//! evidence when it has one), and gets a device id, the issuer's grant key
//! and an OTP seed.
//!
//! What the agent *says* about its key (`key_storage`) is never trusted:
//! the device is recorded as `tpm` (hardware, `phrh`) only when
//! [`super::attest::verify_key`] accepted the evidence; otherwise as
//! `software`, with the reason in the device's `attestation`.

use super::AgentError;
use super::attest::{self, Evidence, Refusal};
use super::offline::GrantKey;
use crate::oauth::client::hash_secret;
use crate::secret::Secret;
use crate::state::App;
use crate::store::{DeviceRow, EnrollmentRow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tollgate_agent::otp::OtpAlgorithm;
use tollgate_agent::sm2::{DEFAULT_DIST_ID, Sm2PublicKey};
use tollgate_agent::wire::{
    EnrollAttestRequest, EnrollAttestResponse, EnrollBeginRequest, EnrollBeginResponse,
    EnrollFinishRequest, EnrollFinishResponse, KeyStorage, OtpProvision,
};
use tollgate_agent::{b64, signed};

/// How long an enrollment code is valid (seconds): long enough to walk to
/// the terminal, short enough that a code left on a screen soon dies.
pub const CODE_TTL: i64 = 600;
/// How long the agent has between `begin` and `finish`.
pub const ENROLLMENT_TTL: i64 = 300;

/// Unambiguous characters (no 0/O, 1/I/L) for codes typed by hand.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `XXX-XXX-XXX` from the alphabet: 31^9 ≈ 2^44.6 codes, single use and
/// short-lived, so guessing one within its life is hopeless.
pub fn new_code() -> Secret {
    let bytes = crate::secret::random_bytes(9);
    let mut s = String::with_capacity(11);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 3 == 0 {
            s.push('-');
        }
        // 256 % 31 = 8: a negligible bias for a single-use, expiring code.
        s.push(CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char);
    }
    Secret::new(s)
}

/// The form a code is hashed in: trimmed, upper-case, so `7kq-42m-xzp`
/// typed on the terminal matches.
fn code_hash(code: &str) -> String {
    hash_secret(&code.trim().to_ascii_uppercase())
}

/// Issues an enrollment code for `user_id`. Returns the code (shown once)
/// and its expiry.
pub async fn issue_code(app: &App, user_id: &str, now: i64) -> Result<(Secret, i64), AgentError> {
    let code = new_code();
    let expires_at = now + CODE_TTL;
    app.store
        .insert_enroll_code(&code_hash(code.expose()), user_id, expires_at)
        .await?;
    app.audit(
        "device.enroll_code_issued",
        user_id,
        user_id,
        serde_json::json!({"expires_at": expires_at}),
    )
    .await;
    Ok((code, expires_at))
}

/// `POST /v1/agent/enroll/begin`.
pub async fn begin(
    app: &App,
    req: &EnrollBeginRequest,
    now: i64,
) -> Result<EnrollBeginResponse, AgentError> {
    let random = |n| b64::random(n).map_err(|e| AgentError::internal("random", e));
    let e = EnrollmentRow {
        id: format!("e-{}", random(12)?),
        user_id: String::new(),
        challenge: random(32)?,
        expires_at: now + ENROLLMENT_TTL,
        attest_secret_hash: None,
        attest_ak: None,
        attest_ek_issuer: None,
    };
    let Some(user) = app
        .store
        .begin_enrollment(&code_hash(&req.code), &e, now)
        .await?
    else {
        app.audit(
            "device.enroll_code_refused",
            "anonymous",
            "",
            serde_json::json!({}),
        )
        .await;
        return Err(AgentError::bad_request(
            "invalid_code",
            "unknown, used or expired enrollment code",
        ));
    };
    app.audit(
        "device.enroll_begun",
        &user,
        &e.id,
        serde_json::json!({"expires_at": e.expires_at}),
    )
    .await;
    Ok(EnrollBeginResponse {
        enrollment_id: e.id,
        challenge: e.challenge,
        expires_at: e.expires_at,
        dist_id: None,
    })
}

async fn open_enrollment(app: &App, id: &str, now: i64) -> Result<EnrollmentRow, AgentError> {
    app.store.enrollment(id, now).await?.ok_or_else(|| {
        AgentError::bad_request(
            "invalid_enrollment",
            "unknown, finished or expired enrollment",
        )
    })
}

/// Audits an attestation refusal and turns it into the agent's error.
async fn refused(app: &App, user: &str, enrollment: &str, r: Refusal) -> AgentError {
    app.audit(
        "device.attestation_refused",
        user,
        enrollment,
        serde_json::json!({"error": r.code, "reason": r.detail}),
    )
    .await;
    AgentError::bad_request(r.code, r.detail)
}

fn decode(field: &'static str, v: &str) -> Result<Vec<u8>, AgentError> {
    b64::decode(v).ok_or_else(|| {
        AgentError::bad_request("invalid_request", format!("{field} is not base64url"))
    })
}

/// `POST /v1/agent/enroll/attest`: checks the EK certificate and the AK,
/// and answers with a credential only the TPM holding both can activate.
/// Runs at most once per enrollment (the AK cannot be swapped afterwards).
pub async fn attest(
    app: &App,
    req: &EnrollAttestRequest,
    now: i64,
) -> Result<EnrollAttestResponse, AgentError> {
    let e = open_enrollment(app, &req.enrollment_id, now).await?;
    let ek_cert = decode("ek_certificate", &req.ek_certificate)?;
    let ek_public = decode("ek_public", &req.ek_public)?;
    let ak_public = decode("ak_public", &req.ak_public)?;
    let mut secret = [0u8; 32];
    let mut seed = [0u8; 32];
    secret.copy_from_slice(&crate::secret::random_bytes(32));
    seed.copy_from_slice(&crate::secret::random_bytes(32));
    let activation = match attest::start(
        &app.tpm_trust,
        &ek_cert,
        &ek_public,
        &ak_public,
        secret,
        seed,
        now,
    ) {
        Ok(a) => a,
        Err(r) => return Err(refused(app, &e.user_id, &e.id, r).await),
    };
    let started = app
        .store
        .start_enrollment_attestation(
            &e.id,
            &attest::secret_hash_of(&activation.secret),
            &req.ak_public,
            &activation.ek_issuer,
            now,
        )
        .await?;
    if !started {
        let r = Refusal {
            code: "attestation_replayed",
            detail: "this enrollment already ran its credential activation".into(),
        };
        return Err(refused(app, &e.user_id, &e.id, r).await);
    }
    app.audit(
        "device.attestation_started",
        &e.user_id,
        &e.id,
        serde_json::json!({"ek_issuer": activation.ek_issuer}),
    )
    .await;
    Ok(EnrollAttestResponse {
        credential_blob: b64::encode(&activation.made.credential_blob),
        encrypted_secret: b64::encode(&activation.made.encrypted_secret),
    })
}

/// What the issuer records for the key: `tpm` with the verified chain, or
/// `software` with the reason. Evidence that does not verify is refused
/// (an error, audited), not downgraded: the agent claimed a TPM key and
/// could not prove it.
async fn verified_storage(
    app: &App,
    e: &EnrollmentRow,
    req: &EnrollFinishRequest,
    key: &Sm2PublicKey,
) -> Result<(KeyStorage, String), AgentError> {
    let Some(ev) = &req.attestation else {
        let why = match req.key_storage {
            KeyStorage::Software => "software key".to_string(),
            claimed => format!(
                "not attested: the agent claimed {} but sent no TPM attestation",
                claimed.as_str()
            ),
        };
        return Ok((KeyStorage::Software, why));
    };
    let (Some(hash), Some(ak)) = (&e.attest_secret_hash, &e.attest_ak) else {
        let r = Refusal {
            code: "activation_failed",
            detail: "no credential activation ran for this enrollment".into(),
        };
        return Err(refused(app, &e.user_id, &e.id, r).await);
    };
    let evidence = (
        decode("activated_secret", &ev.activated_secret)?,
        decode("key_public", &ev.key_public)?,
        decode("certify_info", &ev.certify_info)?,
        decode("certify_signature", &ev.certify_signature)?,
    );
    let challenge = decode("challenge", &e.challenge)?;
    let checked = attest::verify_key(
        hash,
        &decode("ak", ak)?,
        &challenge,
        key,
        &Evidence {
            activated_secret: &evidence.0,
            key_public: &evidence.1,
            certify_info: &evidence.2,
            certify_signature: &evidence.3,
        },
    );
    if let Err(r) = checked {
        return Err(refused(app, &e.user_id, &e.id, r).await);
    }
    let issuer = e.attest_ek_issuer.clone().unwrap_or_default();
    Ok((
        KeyStorage::Tpm,
        format!("attested: EK certificate from {issuer}; AK activated; SM2 key certified fixedTPM"),
    ))
}

/// `POST /v1/agent/enroll/finish`: verifies the proof with the submitted
/// key, stores the device, and answers with the grant key and OTP seed.
pub async fn finish(
    app: &App,
    req: &EnrollFinishRequest,
    grant_key: &GrantKey,
    now: i64,
) -> Result<EnrollFinishResponse, AgentError> {
    let enrollment = open_enrollment(app, &req.enrollment_id, now).await?;
    let key = b64::decode(&req.public_key)
        .and_then(|der| Sm2PublicKey::from_spki_der(&der).ok())
        .ok_or_else(|| {
            AgentError::bad_request(
                "invalid_key",
                "public_key is not an SM2 SubjectPublicKeyInfo",
            )
        })?;
    if req.dist_id.is_empty() || req.dist_id.len() > 64 || req.hostname.len() > 255 {
        return Err(AgentError::bad_request(
            "invalid_request",
            "dist_id or hostname out of range",
        ));
    }
    if req
        .ek
        .as_deref()
        .is_some_and(|ek| b64::decode(ek).is_none())
    {
        return Err(AgentError::bad_request(
            "invalid_request",
            "ek is not base64url",
        ));
    }
    let msg = signed::enroll_bytes(
        &enrollment.id,
        &enrollment.challenge,
        &req.public_key,
        &req.dist_id,
        req.key_storage,
    )
    .map_err(|e| AgentError::bad_request("invalid_request", e.to_string()))?;
    if let Err(e) = signed::verify_b64(&key, &req.dist_id, &msg, &req.signature) {
        app.audit(
            "device.enroll_refused",
            &enrollment.user_id,
            &enrollment.id,
            serde_json::json!({"reason": e.to_string()}),
        )
        .await;
        return Err(AgentError::bad_request("invalid_proof", e.to_string()));
    }
    let (storage, attestation) = verified_storage(app, &enrollment, req, &key).await?;
    if storage != KeyStorage::Tpm && app.config.agent.require_attestation {
        let r = Refusal {
            code: "attestation_required",
            detail: format!("this issuer enrolls only attested TPM keys ({attestation})"),
        };
        return Err(refused(app, &enrollment.user_id, &enrollment.id, r).await);
    }
    let user = app
        .store
        .user(&enrollment.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| AgentError::new(403, "access_denied", "the user is disabled"))?;
    let device = DeviceRow {
        id: format!("d-{}", crate::secret::random_id(12)),
        user_id: user.id.clone(),
        public_key: b64::encode(&key.to_spki_der()),
        dist_id: req.dist_id.clone(),
        key_storage: storage.as_str().to_string(),
        claimed_storage: Some(req.key_storage.as_str().to_string()),
        attestation,
        ek: req.ek.clone(),
        hostname: req.hostname.clone(),
        created_at: now,
        revoked_at: None,
    };
    let otp_algorithm = req.otp_algorithm.unwrap_or(OtpAlgorithm::TotpSha1);
    let seed = crate::secret::random_bytes(otp_algorithm.seed_len());
    let sealed = STANDARD.encode(app.master.seal(&format!("device-otp:{}", device.id), &seed));
    app.store
        .complete_enrollment(
            &enrollment.id,
            &device,
            Some(&sealed),
            otp_algorithm.as_str(),
            now,
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(m) => {
                AgentError::bad_request("invalid_enrollment", m)
            }
            other => other.into(),
        })?;
    app.audit(
        "device.enrolled",
        &user.id,
        &device.id,
        serde_json::json!({
            "key_storage": device.key_storage,
            "claimed_storage": req.key_storage.as_str(),
            "attestation": device.attestation,
            "hostname": device.hostname,
            "ek": device.ek.is_some(),
            "dist_id_default": device.dist_id == DEFAULT_DIST_ID,
        }),
    )
    .await;
    Ok(EnrollFinishResponse {
        key_storage: Some(storage),
        attestation: Some(device.attestation.clone()),
        device_id: device.id,
        user: user.login,
        grant_public_key: grant_key.public_b64.clone(),
        otp: Some(OtpProvision {
            algorithm: otp_algorithm,
            digits: super::otp::DIGITS,
            period: super::otp::PERIOD,
            seed: b64::encode(&seed),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_normalised() {
        for _ in 0..50 {
            let c = new_code();
            let s = c.expose();
            assert_eq!(s.len(), 11, "{s}");
            assert_eq!(s.matches('-').count(), 2);
            assert!(
                s.bytes().all(|b| b == b'-' || CODE_ALPHABET.contains(&b)),
                "{s}"
            );
            assert_eq!(code_hash(s), code_hash(&format!("  {} ", s.to_lowercase())));
        }
        assert_ne!(code_hash("AAA-AAA-AAA"), code_hash("AAA-AAA-AAB"));
    }
}
