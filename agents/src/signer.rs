//! The one interface every device key offers, whether it lives in the TPM,
//! is sealed by it, or is a software key: sign a 32-byte `e`. Message
//! hashing (`e = SM3(Z ‖ M)`) is done once, on the host, in
//! [`sign_message`], so all key kinds sign the same value.

use crate::sm2::{self, Digest32, Sm2Error, Sm2PublicKey, Sm2SecretKey, Sm2Signature};

/// Why a device key could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("wrong PIN")]
    WrongPin,
    #[error("PIN locked out: {0}")]
    Locked(String),
    #[error(transparent)]
    Sm2(#[from] Sm2Error),
    #[error("TPM: {0}")]
    Tpm(String),
}

/// A device key able to sign SM2 digests.
pub trait Sm2Signer {
    fn public_key(&self) -> &Sm2PublicKey;
    /// The distinguishing ID registered with the issuer for this key.
    fn dist_id(&self) -> &str;
    fn sign_digest(&mut self, e: &Digest32) -> Result<Sm2Signature, SignError>;
}

/// Signs `msg` with the signer's distinguishing ID.
pub fn sign_message(signer: &mut dyn Sm2Signer, msg: &[u8]) -> Result<Sm2Signature, SignError> {
    let e = sm2::message_digest(signer.dist_id(), signer.public_key(), msg)?;
    signer.sign_digest(&e)
}

/// A software key plus its distinguishing ID (also the issuer's grant key).
#[derive(Debug, Clone)]
pub struct SoftwareSigner {
    key: Sm2SecretKey,
    dist_id: String,
}

impl SoftwareSigner {
    pub fn new(key: Sm2SecretKey, dist_id: impl Into<String>) -> Self {
        Self {
            key,
            dist_id: dist_id.into(),
        }
    }

    pub fn secret_key(&self) -> &Sm2SecretKey {
        &self.key
    }
}

impl Sm2Signer for SoftwareSigner {
    fn public_key(&self) -> &Sm2PublicKey {
        self.key.public_key()
    }

    fn dist_id(&self) -> &str {
        &self.dist_id
    }

    fn sign_digest(&mut self, e: &Digest32) -> Result<Sm2Signature, SignError> {
        Ok(self.key.sign_digest(e)?)
    }
}
