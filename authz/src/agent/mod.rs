//! The issuer's side of the endpoint-agent protocol (`docs/agent.md`):
//! enrollment, device-request authentication, login approval with number
//! matching, offline grants and receipts. Built on the server-side helpers
//! of `tollgate_agent` (SM2, signed messages, grant and receipt tokens).
//!
//! # Layout
//!
//! - [`enroll`]: enrollment codes for signed-in users, begin/attest/finish.
//! - [`attest`]: TPM key attestation (EK certificate, credential
//!   activation, certification): the only way a key is recorded as `tpm`.
//! - [`auth`]: the `Authorization: Tollgate-SM2 …` device-request check.
//! - [`approval`]: challenges for a login, pending list, answers, and what
//!   the login page learns from them.
//! - [`offline`]: the SM2 grant-signing key, offline grants, receipts.
//! - [`manage`]: listing and revoking devices (user and admin).
//! - [`otp`]: agent OTPs as the `otp` factor at sign-in.
//!
//! Logic only: handlers in `http::agent` parse, call one function, map the
//! [`AgentError`]. Time always comes in as `now`.

pub mod approval;
pub mod attest;
pub mod auth;
pub mod enroll;
pub mod manage;
pub mod offline;
pub mod otp;

use crate::store::StoreError;
use tollgate_agent::wire::KeyStorage;

/// A refusal of an agent request, rendered as
/// `{"error", "error_description"}` with `status`. Internal failures keep
/// their detail for the log and show the client a generic message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl AgentError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        AgentError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(400, error, description)
    }

    /// An internal failure: logged here with its detail, shown generically.
    pub fn internal(what: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, what, "agent request failed");
        Self::new(500, "server_error", "internal error")
    }
}

impl From<StoreError> for AgentError {
    fn from(e: StoreError) -> Self {
        AgentError::internal("store", e)
    }
}

/// Parses the stored key-storage kind (written by us from the enum).
pub fn key_storage(s: &str) -> Option<KeyStorage> {
    match s {
        "tpm" => Some(KeyStorage::Tpm),
        "tpm-sealed" => Some(KeyStorage::TpmSealed),
        "software" => Some(KeyStorage::Software),
        _ => None,
    }
}

/// The device's SM2 public key from its stored SPKI (base64url).
pub fn device_key(
    d: &crate::store::DeviceRow,
) -> Result<tollgate_agent::sm2::Sm2PublicKey, AgentError> {
    tollgate_agent::b64::decode(&d.public_key)
        .and_then(|der| tollgate_agent::sm2::Sm2PublicKey::from_spki_der(&der).ok())
        .ok_or_else(|| {
            AgentError::internal("device key", format!("device {} key unreadable", d.id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_storage_round_trips_and_refuses_unknown() {
        for k in [KeyStorage::Tpm, KeyStorage::TpmSealed, KeyStorage::Software] {
            assert_eq!(key_storage(k.as_str()), Some(k));
        }
        assert_eq!(key_storage("hsm"), None);
    }
}
