//! The types every command and the CLI share, one level below both (so
//! `cli.rs` depends on `commands/`, never the other way round): the error
//! of the CLI boundary and where a new key is kept.

use clap::ValueEnum;

use super::super::client::ClientError;
use super::super::offline::OfflineError;
use super::super::store::StoreError;
use crate::grant::GrantError;
use crate::otp::OtpError;
use crate::signer::SignError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageChoice {
    /// TPM SM2 key if possible, else a TPM-sealed key, else software.
    Auto,
    Tpm,
    TpmSealed,
    Software,
}

/// Errors of the CLI boundary; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Offline(#[from] OfflineError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[cfg(feature = "tpm")]
    #[error(transparent)]
    Tpm(#[from] super::super::tpm::TpmError),
    #[error("reading input: {0}")]
    Input(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
