//! The terminal side (feature `agent`): key store, PIN handling, HTTP
//! client and the CLI commands.

pub mod attempts;
pub mod fsutil;
pub mod softkey;
pub mod store;
#[cfg(feature = "tpm")]
pub mod tpm;
