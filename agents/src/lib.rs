//! `tollgate_agent`: the pieces of Tollgate's endpoint agent protocol that
//! both the terminal agent and the issuer need, plus (feature `agent`) the
//! agent itself.
//!
//! # Layout
//!
//! Always built (what the issuer links with `default-features = false`):
//! - [`sm2`]: SM2 sign/verify with the distinguishing ID, SPKI and DER
//!   signature encodings.
//! - [`wire`]: the JSON bodies of the agent ↔ issuer protocol.
//! - [`signed`]: the exact bytes each party signs (enrollment proof, device
//!   request authentication, approval of a login challenge).
//! - [`token`]: the `prefix.payload.signature` envelope shared by grants
//!   and receipts.
//! - [`grant`]: offline grants (issuer-signed) and their verification.
//! - [`receipt`]: offline-login receipts (device-signed) and their
//!   verification.
//! - [`otp`]: RFC 6238 TOTP and the GM/T 0021 SM3 dynamic password.
//!
//! Feature `agent` (the terminal side): key store, PIN handling, HTTP
//! client, the CLI commands. Feature `tpm`: keys in or sealed by a TPM 2.0.
//!
//! **Invariant:** library code never reads the clock; `now` is a parameter.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "agent")]
pub mod agent;
pub mod b64;
pub mod grant;
pub mod otp;
pub mod receipt;
pub mod secret;
pub mod signed;
pub mod signer;
pub mod sm2;
pub mod token;
pub mod wire;
