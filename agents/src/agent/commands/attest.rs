//! The agent's half of TPM key attestation at enrollment (`docs/agent.md`,
//! "Attestation"): EK certificate and EK public, a fresh AK, the
//! issuer's credential activated by this TPM, and the SM2 key certified by
//! the AK with the enrollment challenge. What the issuer then records is
//! its decision, not ours.

use super::super::client::Client;
use super::super::store::TpmBlob;
use super::super::tpm::Tpm;
use super::error::CliError;
use crate::b64;
use crate::secret::Pin;
use crate::wire::{EnrollAttestRequest, EnrollAttestResponse, EnrollBeginResponse, KeyAttestation};

/// Runs the round trip for the SM2 key in `key_blob`. `None` when the TPM
/// holds no EK certificate: nothing about it can be verified, and the
/// issuer will record the key as software.
pub fn attest(
    client: &Client,
    tcti: &str,
    begin: &EnrollBeginResponse,
    key_blob: &TpmBlob,
    pin: &Pin,
) -> Result<Option<KeyAttestation>, CliError> {
    let mut tpm = Tpm::open(tcti)?;
    let Some(ek_certificate) = tpm.ek_certificate() else {
        eprintln!(
            "this TPM has no EK certificate (NV 0x01c00002): its keys cannot be attested, \
             the issuer will record the key as software"
        );
        return Ok(None);
    };
    let ek_public = tpm.ek_public()?;
    let (ak, ak_public) = tpm.create_ak()?;
    let made: EnrollAttestResponse = client.post(
        "/v1/agent/enroll/attest",
        &EnrollAttestRequest {
            enrollment_id: begin.enrollment_id.clone(),
            ek_certificate: b64::encode(&ek_certificate),
            ek_public: b64::encode(&ek_public),
            ak_public: b64::encode(&ak_public),
        },
    )?;
    let bad = |what: &str| CliError::Other(format!("issuer sent a malformed {what}"));
    let blob = b64::decode(&made.credential_blob).ok_or_else(|| bad("credential_blob"))?;
    let secret = b64::decode(&made.encrypted_secret).ok_or_else(|| bad("encrypted_secret"))?;
    let activated = tpm.activate_credential(&ak, &blob, &secret)?;
    let nonce = b64::decode(&begin.challenge).ok_or_else(|| bad("challenge"))?;
    let (certify_info, certify_signature) = tpm.certify(key_blob, pin, &ak, &nonce)?;
    Ok(Some(KeyAttestation {
        activated_secret: b64::encode(&activated),
        key_public: key_blob.public.clone(),
        certify_info: b64::encode(&certify_info),
        certify_signature: b64::encode(&certify_signature),
    }))
}
