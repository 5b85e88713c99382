//! What a session remembers of the factors proven in it, as stored JSON.
//! The types live here, below `login/` (which re-exports them and gives
//! them meaning: levels, `amr`), so the store imports nothing from login.

use serde::{Deserialize, Serialize};

/// A way of proving identity. Later issues add variants (TOTP, passkey,
/// agent device key); the level ladder and `amr` mapping are the only places
/// that need to learn about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Something you know.
    Password,
    /// A time-based one-time password (never phishing-resistant).
    Totp,
    /// A WebAuthn credential. `backup_eligible` (synced) caps it at `phr`;
    /// a device-bound one reaches `phrh` only when `attested` (its
    /// attestation satisfied the policy at registration). `attested`
    /// defaults to false so sessions serialised before it existed still read.
    Passkey {
        user_verified: bool,
        backup_eligible: bool,
        #[serde(default)]
        attested: bool,
    },
    /// An enrolled agent's SM2 device key, unlocked by the user's PIN, over a
    /// number-matched approval. `hardware`: the key lives in the TPM.
    DeviceKey { hardware: bool },
}

/// A factor proven at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenFactor {
    pub method: Method,
    /// Unix seconds.
    pub at: i64,
}
