//! Software protection of secrets (device key, OTP seed) for terminals
//! without a TPM: ChaCha20-Poly1305 under a key derived from the PIN with
//! Argon2id. Whoever copies the file can guess PINs offline at Argon2id's
//! cost, which is why this storage is reported as `swk` and its local
//! attempt limit (see [`super::attempts`]) only stops guessing through the
//! agent itself.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::b64;
use crate::secret::Pin;

/// An encrypted secret as stored in the key store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encrypted {
    /// Always `argon2id`.
    pub kdf: String,
    /// Argon2 memory cost (KiB), iterations, parallelism.
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub salt: String,
    pub nonce: String,
    /// ChaCha20-Poly1305 ciphertext + tag, base64url.
    pub ciphertext: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SoftError {
    #[error("wrong PIN")]
    WrongPin,
    #[error("encrypted key record is malformed: {0}")]
    Malformed(&'static str),
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("system random number generator failed")]
    Random,
}

/// Argon2id cost for new records: OWASP's minimum (19 MiB, t=2, p=1),
/// about 0.1 s on a 2020s x86 core, a few tenths on Loongson/Phytium.
pub const DEFAULT_COST: (u32, u32, u32) = (19 * 1024, 2, 1);

fn derive(
    pin: &Pin,
    salt: &[u8],
    (m, t, p): (u32, u32, u32),
) -> Result<Zeroizing<[u8; 32]>, SoftError> {
    let params = Params::new(m, t, p, Some(32)).map_err(|e| SoftError::Kdf(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.expose().as_bytes(), salt, out.as_mut())
        .map_err(|e| SoftError::Kdf(e.to_string()))?;
    Ok(out)
}

fn cipher_for(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&Key::from(*key))
}

/// Encrypts `secret` under `pin`; `aad` binds the record to its context
/// (e.g. the device public key), so records cannot be swapped.
pub fn seal(
    secret: &[u8],
    pin: &Pin,
    aad: &[u8],
    cost: (u32, u32, u32),
) -> Result<Encrypted, SoftError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|_| SoftError::Random)?;
    getrandom::fill(&mut nonce).map_err(|_| SoftError::Random)?;
    let key = derive(pin, &salt, cost)?;
    let cipher = cipher_for(&key);
    let ciphertext = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: secret, aad })
        .map_err(|_| SoftError::Malformed("encryption failed"))?;
    Ok(Encrypted {
        kdf: "argon2id".into(),
        m_kib: cost.0,
        t: cost.1,
        p: cost.2,
        salt: b64::encode(&salt),
        nonce: b64::encode(&nonce),
        ciphertext: b64::encode(&ciphertext),
    })
}

/// Decrypts a record; a wrong PIN and a tampered record both fail the
/// AEAD tag and are reported as [`SoftError::WrongPin`].
pub fn open(record: &Encrypted, pin: &Pin, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SoftError> {
    if record.kdf != "argon2id" {
        return Err(SoftError::Malformed("unknown kdf"));
    }
    let salt = b64::decode(&record.salt).ok_or(SoftError::Malformed("salt"))?;
    let nonce = b64::decode(&record.nonce).ok_or(SoftError::Malformed("nonce"))?;
    let ct = b64::decode(&record.ciphertext).ok_or(SoftError::Malformed("ciphertext"))?;
    if nonce.len() != 12 {
        return Err(SoftError::Malformed("nonce length"));
    }
    let nonce: [u8; 12] = nonce
        .try_into()
        .map_err(|_| SoftError::Malformed("nonce length"))?;
    let key = derive(pin, &salt, (record.m_kib, record.t, record.p))?;
    cipher_for(&key)
        .decrypt(&Nonce::from(nonce), Payload { msg: &ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| SoftError::WrongPin)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: (u32, u32, u32) = (64, 1, 1);

    #[test]
    fn seal_open_and_wrong_pin_or_context() {
        let pin = Pin::new("2468".into());
        let rec = seal(b"device secret", &pin, b"ctx", CHEAP).unwrap();
        assert_eq!(
            open(&rec, &pin, b"ctx").unwrap().as_slice(),
            b"device secret"
        );
        assert_eq!(
            open(&rec, &Pin::new("2469".into()), b"ctx"),
            Err(SoftError::WrongPin)
        );
        assert_eq!(open(&rec, &pin, b"other"), Err(SoftError::WrongPin));
        let mut bad = rec.clone();
        bad.nonce = "AA".into();
        assert_eq!(
            open(&bad, &pin, b"ctx"),
            Err(SoftError::Malformed("nonce length"))
        );
    }
}
