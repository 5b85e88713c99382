//! JSON bodies of the agent ↔ issuer protocol (docs/agent.md has the
//! endpoints). Binary values are base64url without padding; instants are
//! Unix seconds. Unknown fields are rejected on requests the issuer parses
//! (`deny_unknown_fields`) and ignored on responses the agent parses, so
//! the issuer can add response fields without breaking deployed agents.

use serde::{Deserialize, Serialize};

/// Where the device key lives; decides the `amr` the issuer may claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStorage {
    /// SM2 key generated in and never leaving the TPM.
    Tpm,
    /// Software SM2 key sealed by the TPM (TPM without SM2): hardware
    /// protects it at rest, but it is in host memory while signing.
    TpmSealed,
    /// Software key encrypted under a PIN-derived key.
    Software,
}

impl KeyStorage {
    /// RFC 8176 `amr` values an approval with this key proves: only a key
    /// that never leaves the TPM counts as `hwk`.
    pub fn amr(self) -> [&'static str; 2] {
        match self {
            KeyStorage::Tpm => ["hwk", "pin"],
            KeyStorage::TpmSealed | KeyStorage::Software => ["swk", "pin"],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStorage::Tpm => "tpm",
            KeyStorage::TpmSealed => "tpm-sealed",
            KeyStorage::Software => "software",
        }
    }
}

/// `POST /v1/agent/enroll/begin`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollBeginRequest {
    /// The short-lived enrollment code the signed-in user got from the issuer.
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollBeginResponse {
    pub enrollment_id: String,
    /// Random, base64url; signed back in the finish request.
    pub challenge: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Distinguishing ID the issuer wants device keys to use.
    #[serde(default)]
    pub dist_id: Option<String>,
}

/// `POST /v1/agent/enroll/finish`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollFinishRequest {
    pub enrollment_id: String,
    /// base64url SPKI DER of the new device key.
    pub public_key: String,
    pub dist_id: String,
    pub key_storage: KeyStorage,
    /// base64url DER of the TPM's EK certificate (X.509) when the TPM holds
    /// one, else of the EK public key (SubjectPublicKeyInfo, ECC P-256 EK
    /// from the TCG default template); absent for software keys.
    #[serde(default)]
    pub ek: Option<String>,
    pub hostname: String,
    /// base64url DER SM2 signature over [`crate::signed::enroll_bytes`].
    pub signature: String,
    /// The OTP algorithm the agent asks for (default `totp-sha1`; GM/T 0021
    /// terminals ask for `sm3-gmt0021`). The issuer verifies the device's
    /// codes with it at sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_algorithm: Option<crate::otp::OtpAlgorithm>,
    /// The TPM's evidence that the device key lives in it, after the
    /// credential-activation round trip (`/v1/agent/enroll/attest`).
    /// Without it the issuer records the key as software, whatever
    /// `key_storage` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<KeyAttestation>,
}

/// `POST /v1/agent/enroll/attest`: the TPM's endorsement and a fresh
/// attestation key (AK), for the issuer to seal a secret to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollAttestRequest {
    pub enrollment_id: String,
    /// base64url DER of the EK certificate from its NV index
    /// (RSA 2048: 0x01c00002, TCG EK Credential Profile).
    pub ek_certificate: String,
    /// base64url marshalled TPMT_PUBLIC of the EK the TPM derives from the
    /// default template (must carry the certificate's key).
    pub ek_public: String,
    /// base64url marshalled TPMT_PUBLIC of the AK (restricted signing key
    /// in the endorsement hierarchy).
    pub ak_public: String,
}

/// The output of the issuer's TPM2_MakeCredential for the AK's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollAttestResponse {
    /// base64url TPM2B_ID_OBJECT buffer (integrity HMAC + encrypted secret).
    pub credential_blob: String,
    /// base64url TPM2B_ENCRYPTED_SECRET buffer (the seed, encrypted to the EK).
    pub encrypted_secret: String,
}

/// The finish request's proof that the SM2 key is a TPM key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttestation {
    /// base64url of what TPM2_ActivateCredential returned.
    pub activated_secret: String,
    /// base64url marshalled TPMT_PUBLIC of the SM2 key.
    pub key_public: String,
    /// base64url marshalled TPMS_ATTEST of TPM2_Certify(SM2 key, AK) with
    /// the enrollment challenge as qualifying data.
    pub certify_info: String,
    /// base64url marshalled TPMT_SIGNATURE by the AK over `certify_info`.
    pub certify_signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollFinishResponse {
    pub device_id: String,
    pub user: String,
    /// What the issuer recorded (only an attested key is `tpm`).
    #[serde(default)]
    pub key_storage: Option<KeyStorage>,
    /// Why, in words (shown by the agent and in device lists).
    #[serde(default)]
    pub attestation: Option<String>,
    /// base64url SPKI DER of the issuer's offline-grant key.
    pub grant_public_key: String,
    /// OTP seed for `tollgate-agent otp`, if the issuer provisions one.
    #[serde(default)]
    pub otp: Option<OtpProvision>,
}

/// An OTP seed handed to the agent once, at enrollment, over TLS.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpProvision {
    pub algorithm: crate::otp::OtpAlgorithm,
    pub digits: u32,
    pub period: u64,
    /// base64url seed.
    pub seed: String,
}

impl std::fmt::Debug for OtpProvision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OtpProvision({:?}, {} digits, {}s, seed redacted)",
            self.algorithm, self.digits, self.period
        )
    }
}

/// One login waiting for this device's approval
/// (`POST /v1/agent/challenges/pending` answers a list of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChallenge {
    pub challenge_id: String,
    /// The login transaction (step-up ceremony) this approves.
    pub transaction_id: String,
    /// Server nonce, base64url, signed back.
    pub nonce: String,
    /// Where the login comes from, shown to the user before they approve.
    pub origin: LoginOrigin,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; 120 s after creation.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoginOrigin {
    #[serde(default)]
    pub ip: Option<String>,
    /// "City, Country" as the issuer's geo database reports it.
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// OIDC client (application) the user is logging in to.
    #[serde(default)]
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChallenges {
    pub challenges: Vec<PendingChallenge>,
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

/// `POST /v1/agent/challenges/{challenge_id}/answer`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub device_id: String,
    pub challenge_id: String,
    pub transaction_id: String,
    pub nonce: String,
    /// The two-digit number the user typed after reading it on the login page.
    pub number: String,
    pub decision: Decision,
    /// base64url DER SM2 signature over [`crate::signed::approval_bytes`].
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalResponse {
    /// `approved`, `denied` (user said no) or `rejected` (wrong number).
    pub status: String,
}

/// `POST /v1/agent/grant` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantResponse {
    /// `tgg1.…` token.
    pub grant: String,
}

/// `POST /v1/agent/receipts`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptUpload {
    /// `tgr1.…` tokens.
    pub receipts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptUploadResponse {
    pub results: Vec<ReceiptResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptResult {
    pub receipt_id: String,
    /// `accepted`, `flagged` (stored and audited, with reasons) or
    /// `rejected` (bad signature / unknown grant: not stored). The agent
    /// deletes its copy for all three; it retries only on transport errors.
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Error body of every agent endpoint (non-2xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}
