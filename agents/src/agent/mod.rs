//! The terminal side (feature `agent`): key store, PIN handling, HTTP
//! client and the CLI commands.

pub mod attempts;
pub mod cli;
pub mod client;
pub mod commands;
pub mod fsutil;
pub mod offline;
pub mod pam;
pub mod prompt;
pub mod softkey;
pub mod store;
#[cfg(feature = "tpm")]
pub mod tpm;
pub mod trust;
