//! Encryption of secrets at rest (signing keys now; TOTP seeds later).
//!
//! One 256-bit master key, given by file or environment, seals values with
//! AES-256-GCM. The associated data names what the value is (for example
//! `signing-key:<kid>`), so a ciphertext copied into another row fails to open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why a master key could not be loaded or a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("{0}: the master key must be 32 bytes, raw or base64-encoded")]
    BadLength(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("a sealed value could not be opened: wrong master key, or the value was altered")]
    Open,
}

/// The master key. Holds the expanded AES key only; never printed.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Parses 32 raw bytes, or base64 text of 32 bytes (surrounding whitespace ignored).
    pub fn from_material(material: &[u8], origin: &str) -> Result<Self, MasterKeyError> {
        let bytes = if material.len() == 32 {
            material.to_vec()
        } else {
            let text = String::from_utf8_lossy(material);
            STANDARD
                .decode(text.trim())
                .map_err(|_| MasterKeyError::BadLength(origin.to_string()))?
        };
        if bytes.len() != 32 {
            return Err(MasterKeyError::BadLength(origin.to_string()));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| MasterKeyError::BadLength(origin.to_string()))?;
        Ok(MasterKey(LessSafeKey::new(key)))
    }

    /// Reads the key from a file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, MasterKeyError> {
        let shown = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| MasterKeyError::Io(shown.clone(), e))?;
        Self::from_material(&data, &shown)
    }

    /// Creates a new random key file (mode 0600) for the embedded demo, or reads
    /// the one a previous start created.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self, MasterKeyError> {
        if path.exists() {
            return Self::from_file(path);
        }
        let shown = path.display().to_string();
        let text = STANDARD.encode(crate::secret::random_bytes(32));
        write_private_file(path, text.as_bytes()).map_err(|e| MasterKeyError::Io(shown, e))?;
        Self::from_file(path)
    }

    /// Encrypts `plaintext`; the result is `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::secret::random_bytes(NONCE_LEN);
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(&nonce_bytes);
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs larger than GCM allows (64 GiB).
        if self
            .0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_arr),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .is_err()
        {
            std::process::abort();
        }
        let mut out = nonce_bytes;
        out.extend_from_slice(&buf);
        out
    }

    /// Decrypts a value made by [`MasterKey::seal`] with the same context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(MasterKeyError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| MasterKeyError::Open)?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| MasterKeyError::Open)?;
        Ok(plain.to_vec())
    }
}

/// Writes a file readable only by its owner, via a temporary file and rename,
/// so a crash never leaves a half-written key behind.
pub fn write_private_file(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_material(&[7u8; 32], "test").unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let sealed = key().seal("signing-key:a", b"private");
        assert_eq!(key().open("signing-key:a", &sealed).unwrap(), b"private");
        assert!(key().open("signing-key:b", &sealed).is_err());
        let other = MasterKey::from_material(&[8u8; 32], "other").unwrap();
        assert!(other.open("signing-key:a", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(key().open("signing-key:a", &tampered).is_err());
        assert!(key().open("signing-key:a", &sealed[..5]).is_err());
    }

    #[test]
    fn key_material_is_raw_or_base64_of_32_bytes() {
        let b64 = STANDARD.encode([1u8; 32]);
        assert!(MasterKey::from_material(format!("{b64}\n").as_bytes(), "f").is_ok());
        assert!(MasterKey::from_material(b"short", "f").is_err());
        let b64_16 = STANDARD.encode([1u8; 16]);
        assert!(MasterKey::from_material(b64_16.as_bytes(), "f").is_err());
    }
}
