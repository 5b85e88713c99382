//! TPM key attestation at enrollment (`docs/agent.md`, "Attestation"):
//! what makes the issuer record a device key as hardware (`tpm`, `hwk`,
//! `phrh`). Pure checks over bytes; `enroll.rs` stores and audits.
//!
//! 1. [`start`]: the EK certificate chains to a configured manufacturer CA,
//!    the TPM's EK public carries the certificate's key, the AK is a
//!    restricted, fixed, TPM-generated signing key; the issuer makes a
//!    credential for the AK's name encrypted to the EK (`credential.rs`).
//! 2. [`verify_key`]: the secret came back (so the AK lives in the TPM
//!    that holds the EK), the AK certified the SM2 key with the
//!    enrollment's challenge, the certified name is the name of the
//!    submitted TPMT_PUBLIC, which carries the enrolled SM2 point and the
//!    attributes of a key that never leaves the TPM.

pub mod credential;
pub mod ekcert;
pub mod tpm2;

pub use ekcert::TpmTrust;

use tollgate_agent::sm2::Sm2PublicKey;
use tpm2::{PublicKey, TpmPublic, attr};

/// An attestation the issuer refuses: `code` is the error code the agent
/// gets and the audit records, `detail` says what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

fn refuse(code: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
    }
}

/// The attributes an AK must have: restricted (signs only what the TPM
/// produced), signing, bound to the TPM and its parent, generated inside.
pub const AK_ATTRIBUTES: u32 = attr::FIXED_TPM
    | attr::FIXED_PARENT
    | attr::SENSITIVE_DATA_ORIGIN
    | attr::RESTRICTED
    | attr::SIGN;

/// The attributes an attested SM2 device key must have: it cannot be
/// duplicated out of the TPM (`fixedTPM`, `fixedParent`), was generated
/// inside (`sensitiveDataOrigin`), and needs its authValue, the PIN
/// (`userWithAuth`).
pub const KEY_ATTRIBUTES: u32 = attr::FIXED_TPM
    | attr::FIXED_PARENT
    | attr::SENSITIVE_DATA_ORIGIN
    | attr::USER_WITH_AUTH
    | attr::SIGN;

/// What the first round trip hands back and what must be remembered.
#[derive(Debug, Clone)]
pub struct Activation {
    pub made: credential::MadeCredential,
    /// The secret in the credential: compared (by hash) at finish.
    pub secret: [u8; 32],
    /// The EK certificate's issuing CA.
    pub ek_issuer: String,
}

/// Step 1: checks the endorsement and the AK and makes the credential.
pub fn start(
    trust: &TpmTrust,
    ek_certificate: &[u8],
    ek_public: &[u8],
    ak_public: &[u8],
    secret: [u8; 32],
    seed: [u8; 32],
    now: i64,
) -> Result<Activation, Refusal> {
    let ek = trust
        .verify(ek_certificate, now)
        .map_err(|e| refuse("untrusted_ek", e))?;
    let ekp = TpmPublic::parse(ek_public)
        .map_err(|e| refuse("invalid_attestation", format!("ek_public: {e}")))?;
    let (Some(cert_modulus), PublicKey::Rsa { modulus, .. }) = (&ek.rsa_modulus, &ekp.key) else {
        return Err(refuse(
            "unsupported_ek",
            "only RSA 2048 endorsement keys are supported (NV index 0x01c00002)",
        ));
    };
    if tpm2::left_pad(modulus, 256) != tpm2::left_pad(cert_modulus, 256) {
        return Err(refuse(
            "ek_mismatch",
            "the TPM's EK is not the key of the EK certificate",
        ));
    }
    if ekp.symmetric != (tpm2::ALG_AES, 128, tpm2::ALG_CFB)
        || !ekp.has(attr::RESTRICTED | attr::DECRYPT | attr::FIXED_TPM)
    {
        return Err(refuse(
            "unsupported_ek",
            "the EK is not from the TCG default template (AES-128-CFB, restricted decryption)",
        ));
    }
    let ak = check_ak(ak_public)?;
    let made = credential::make_credential_rsa(&ek.spki, &ak.name, &secret, &seed)
        .map_err(|e| refuse("invalid_attestation", e))?;
    Ok(Activation {
        made,
        secret,
        ek_issuer: ek.issuer,
    })
}

/// An AK the issuer accepts: ECC P-256, ECDSA-SHA256, [`AK_ATTRIBUTES`].
pub fn check_ak(ak_public: &[u8]) -> Result<TpmPublic, Refusal> {
    let ak =
        TpmPublic::parse(ak_public).map_err(|e| refuse("invalid_ak", format!("ak_public: {e}")))?;
    if !ak.has(AK_ATTRIBUTES) || ak.has(attr::DECRYPT) {
        return Err(refuse(
            "invalid_ak",
            "the AK is not a restricted, fixed, TPM-generated signing key",
        ));
    }
    match ak.key {
        PublicKey::Ecc { curve, .. }
            if curve == tpm2::ECC_NIST_P256 && ak.scheme == (tpm2::ALG_ECDSA, tpm2::ALG_SHA256) =>
        {
            Ok(ak)
        }
        _ => Err(refuse(
            "invalid_ak",
            "the AK must be ECC P-256 with ECDSA-SHA256",
        )),
    }
}

/// How the activation secret is remembered between the round trips (hex
/// SHA-256: a database reader cannot answer an activation with it).
pub fn secret_hash_of(secret: &[u8]) -> String {
    crate::secret::sha256(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The evidence of the finish request, decoded.
pub struct Evidence<'a> {
    pub activated_secret: &'a [u8],
    pub key_public: &'a [u8],
    pub certify_info: &'a [u8],
    pub certify_signature: &'a [u8],
}

/// Step 2: checks the evidence against what step 1 remembered (the
/// secret's hash and the AK) and the key being enrolled. `challenge` is
/// the enrollment's challenge, the qualifying data of the certification.
pub fn verify_key(
    secret_hash: &str,
    ak_public: &[u8],
    challenge: &[u8],
    key: &Sm2PublicKey,
    ev: &Evidence<'_>,
) -> Result<(), Refusal> {
    let got = secret_hash_of(ev.activated_secret);
    if !crate::secret::ct_eq(got.as_bytes(), secret_hash.as_bytes()) {
        return Err(refuse(
            "activation_failed",
            "the activated secret is not the one sealed for this enrollment's AK",
        ));
    }
    let ak = check_ak(ak_public)?;
    let kp = TpmPublic::parse(ev.key_public)
        .map_err(|e| refuse("invalid_attestation", format!("key_public: {e}")))?;
    if !kp.has(KEY_ATTRIBUTES) || kp.has(attr::RESTRICTED) || kp.has(attr::DECRYPT) {
        return Err(refuse(
            "weak_key_attributes",
            "the SM2 key lacks fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth or sign",
        ));
    }
    let PublicKey::Ecc { curve, x, y } = &kp.key else {
        return Err(refuse("key_mismatch", "the TPM key is not an ECC key"));
    };
    let (kx, ky) = key.coordinates();
    let same = *curve == tpm2::ECC_SM2_P256
        && tpm2::left_pad(x, 32).as_deref() == Some(&kx[..])
        && tpm2::left_pad(y, 32).as_deref() == Some(&ky[..]);
    if !same {
        return Err(refuse(
            "key_mismatch",
            "the certified TPM key is not the SM2 key being enrolled",
        ));
    }
    let info = tpm2::CertifyInfo::parse(ev.certify_info)
        .map_err(|e| refuse("invalid_attestation", format!("certify_info: {e}")))?;
    if info.magic != tpm2::GENERATED_VALUE {
        return Err(refuse(
            "invalid_attestation",
            "certify_info: not TPM-generated",
        ));
    }
    if info.extra_data != challenge {
        return Err(refuse(
            "stale_certification",
            "the certification does not carry this enrollment's challenge",
        ));
    }
    if info.name != kp.name {
        return Err(refuse(
            "name_mismatch",
            "the certified name is not the name of the submitted key",
        ));
    }
    let (hash, r, s) = tpm2::parse_ecdsa_signature(ev.certify_signature)
        .map_err(|e| refuse("invalid_attestation", format!("certify_signature: {e}")))?;
    let PublicKey::Ecc { x: ax, y: ay, .. } = &ak.key else {
        return Err(refuse("invalid_ak", "the AK is not an ECC key"));
    };
    let (Some(r), Some(s), Some(ax), Some(ay)) = (
        tpm2::left_pad(&r, 32),
        tpm2::left_pad(&s, 32),
        tpm2::left_pad(ax, 32),
        tpm2::left_pad(ay, 32),
    ) else {
        return Err(refuse("invalid_attestation", "ECDSA values out of range"));
    };
    let mut point = vec![0x04];
    point.extend_from_slice(&ax);
    point.extend_from_slice(&ay);
    let sig = [r, s].concat();
    let ok = hash == tpm2::ALG_SHA256
        && aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        )
        .verify(ev.certify_info, &sig)
        .is_ok();
    if !ok {
        return Err(refuse(
            "bad_certification_signature",
            "the certification is not signed by the activated AK",
        ));
    }
    Ok(())
}
