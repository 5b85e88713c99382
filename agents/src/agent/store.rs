//! The key store: one JSON file (`keystore.json` in the state directory)
//! written once at enrollment, atomically, and never rewritten afterwards
//! except by an explicit re-enrollment with `--force`.
//!
//! A key store that does not parse, or whose public key does not match its
//! protected key, is reported as corrupted and left untouched: the user (or
//! an administrator) decides whether to move it away and re-enroll.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::attempts::{self, AttemptsError};
use super::fsutil;
use super::softkey::{self, Encrypted, SoftError};
#[cfg(feature = "tpm")]
use super::tpm::{Tpm, TpmError};
use crate::b64;
use crate::otp::{OtpAlgorithm, OtpParams};
use crate::secret::{OtpSeed, Pin};
use crate::signer::{SignError, Sm2Signer, SoftwareSigner};
use crate::sm2::{Digest32, Sm2PublicKey, Sm2SecretKey, Sm2Signature};
use crate::wire::KeyStorage;

/// Format tag of the file; bumped on incompatible changes.
pub const FORMAT: &str = "tollgate-agent-keystore-v1";
pub const FILE_NAME: &str = "keystore.json";

/// What the key store file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyStore {
    pub format: String,
    /// Issuer base URL.
    pub server: String,
    pub user: String,
    pub device_id: String,
    pub dist_id: String,
    /// base64url SPKI DER of the device key.
    pub public_key: String,
    /// base64url SPKI DER of the issuer's offline-grant key.
    pub grant_public_key: String,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// TCTI of the TPM holding or sealing the secrets, if any.
    #[serde(default)]
    pub tcti: Option<String>,
    /// PEM CA bundle trusted for the issuer, if not the public roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    pub key: Protected,
    #[serde(default)]
    pub otp: Option<StoredOtp>,
    /// Software storage only: failed PINs allowed before the agent refuses.
    #[serde(default = "default_max_attempts")]
    pub max_pin_attempts: u32,
    /// Made by `enroll --system` (root, root-owned directory): the only
    /// kind of enrollment PAM mode accepts.
    #[serde(default)]
    pub system: bool,
    /// Enrolled over plain `http://` with `--insecure-http` (tests and
    /// development only): PAM mode refuses such a store.
    #[serde(default)]
    pub insecure_http: bool,
}

fn default_max_attempts() -> u32 {
    10
}

/// A secret and how it is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Protected {
    /// SM2 key inside the TPM (device key only).
    Tpm { blob: TpmBlob },
    /// Secret sealed by the TPM with the PIN as authValue.
    TpmSealed { blob: TpmBlob },
    /// Secret encrypted under a PIN-derived key.
    Software { enc: Encrypted },
}

/// A TPM object as stored: marshalled TPMT_PUBLIC and the TPM-encrypted
/// private part, base64url. Only the TPM that created it can load it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmBlob {
    pub public: String,
    pub private: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredOtp {
    pub algorithm: OtpAlgorithm,
    pub digits: u32,
    pub period: u64,
    pub seed: Protected,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not enrolled: {0} does not exist (run `tollgate-agent enroll`)")]
    NotEnrolled(PathBuf),
    #[error(
        "key store {path} is corrupted ({reason}); it was left as it is — move it away and re-enroll"
    )]
    Corrupted { path: PathBuf, reason: String },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wrong PIN")]
    WrongPin,
    #[error(transparent)]
    Attempts(#[from] AttemptsError),
    #[cfg(feature = "tpm")]
    #[error(transparent)]
    Tpm(#[from] TpmError),
    #[error("this agent was built without TPM support but the key store needs the TPM")]
    NoTpmSupport,
    #[error("{0}")]
    Other(String),
}

impl KeyStore {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// Loads and sanity-checks the key store; never writes.
    pub fn load(state_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path(state_dir);
        let bytes = fsutil::read_optional(&path)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?
            .ok_or_else(|| StoreError::NotEnrolled(path.clone()))?;
        let corrupted = |reason: String| StoreError::Corrupted {
            path: path.clone(),
            reason,
        };
        let store: KeyStore =
            serde_json::from_slice(&bytes).map_err(|e| corrupted(e.to_string()))?;
        if store.format != FORMAT {
            return Err(corrupted(format!("unknown format {:?}", store.format)));
        }
        store
            .device_public_key()
            .map_err(|e| corrupted(e.to_string()))?;
        store.grant_key().map_err(|e| corrupted(e.to_string()))?;
        #[cfg(feature = "tpm")]
        if let Protected::Tpm { blob } = &store.key {
            let in_blob = Tpm::public_of(blob).map_err(|e| corrupted(e.to_string()))?;
            if Some(in_blob) != store.device_public_key().ok() {
                return Err(corrupted(
                    "TPM key blob does not match the public key".into(),
                ));
            }
        }
        Ok(store)
    }

    /// Writes the key store atomically. Refuses to replace an existing file
    /// unless `replace` is set, and never replaces a corrupted one.
    pub fn save(&self, state_dir: &Path, replace: bool) -> Result<(), StoreError> {
        let path = Self::path(state_dir);
        match Self::load(state_dir) {
            Err(StoreError::NotEnrolled(_)) => {}
            // Corrupted or unreadable: never replaced.
            Err(e) => return Err(e),
            Ok(existing) if !replace => {
                return Err(StoreError::Other(format!(
                    "already enrolled as device {} for {}; pass --force to replace",
                    existing.device_id, existing.user
                )));
            }
            Ok(_) => {}
        }
        fsutil::create_private_dir(state_dir).map_err(|source| StoreError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Other(e.to_string()))?;
        fsutil::write_atomic(&path, &json).map_err(|source| StoreError::Io { path, source })
    }

    pub fn device_public_key(&self) -> Result<Sm2PublicKey, StoreError> {
        spki(&self.public_key)
    }

    pub fn grant_key(&self) -> Result<Sm2PublicKey, StoreError> {
        spki(&self.grant_public_key)
    }

    pub fn storage(&self) -> KeyStorage {
        match self.key {
            Protected::Tpm { .. } => KeyStorage::Tpm,
            Protected::TpmSealed { .. } => KeyStorage::TpmSealed,
            Protected::Software { .. } => KeyStorage::Software,
        }
    }

    /// Additional data binding software-encrypted secrets to this device key.
    pub fn aad(public_key_b64: &str, what: &str) -> Vec<u8> {
        format!("{FORMAT}\n{what}\n{public_key_b64}").into_bytes()
    }

    /// Unlocks the device key with the PIN, counting failures for software
    /// keys (the TPM counts its own).
    pub fn unlock(&self, state_dir: &Path, pin: &Pin) -> Result<DeviceKey, StoreError> {
        let public = self.device_public_key()?;
        match &self.key {
            #[cfg(feature = "tpm")]
            Protected::Tpm { blob } => Ok(DeviceKey::Tpm {
                tpm: Tpm::open(self.tcti.as_deref().unwrap_or(super::tpm::DEFAULT_TCTI))?,
                blob: blob.clone(),
                pin: pin.clone(),
                public,
                dist_id: self.dist_id.clone(),
            }),
            _ => {
                let scalar = self.open_secret(state_dir, &self.key, pin, "device-key")?;
                let key = Sm2SecretKey::from_bytes(&scalar).map_err(|e| StoreError::Corrupted {
                    path: Self::path(state_dir),
                    reason: e.to_string(),
                })?;
                if key.public_key() != &public {
                    return Err(StoreError::Corrupted {
                        path: Self::path(state_dir),
                        reason: "stored key does not match the public key".into(),
                    });
                }
                Ok(DeviceKey::Software(SoftwareSigner::new(
                    key,
                    self.dist_id.clone(),
                )))
            }
        }
    }

    /// Unlocks the OTP seed with the PIN.
    pub fn otp_seed(
        &self,
        state_dir: &Path,
        pin: &Pin,
    ) -> Result<(OtpSeed, OtpParams), StoreError> {
        let otp = self
            .otp
            .as_ref()
            .ok_or_else(|| StoreError::Other("no OTP seed was provisioned at enrollment".into()))?;
        let seed = self.open_secret(state_dir, &otp.seed, pin, "otp-seed")?;
        let params = OtpParams {
            algorithm: otp.algorithm,
            digits: otp.digits,
            period: otp.period,
        };
        Ok((OtpSeed::new(seed.to_vec()), params))
    }

    fn open_secret(
        &self,
        state_dir: &Path,
        protected: &Protected,
        pin: &Pin,
        what: &str,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        match protected {
            Protected::Software { enc } => {
                let counter = attempts::Attempts::new(state_dir, self.max_pin_attempts);
                counter.check()?;
                match softkey::open(enc, pin, &Self::aad(&self.public_key, what)) {
                    Ok(secret) => {
                        counter.reset()?;
                        Ok(secret)
                    }
                    Err(SoftError::WrongPin) => {
                        counter.fail()?;
                        Err(StoreError::WrongPin)
                    }
                    Err(e) => Err(StoreError::Corrupted {
                        path: Self::path(state_dir),
                        reason: e.to_string(),
                    }),
                }
            }
            #[cfg(feature = "tpm")]
            Protected::TpmSealed { blob } => {
                let mut tpm = Tpm::open(self.tcti.as_deref().unwrap_or(super::tpm::DEFAULT_TCTI))?;
                Ok(tpm.unseal(blob, pin)?)
            }
            #[allow(unreachable_patterns)]
            _ => Err(StoreError::NoTpmSupport),
        }
    }
}

fn spki(b64_der: &str) -> Result<Sm2PublicKey, StoreError> {
    let der = b64::decode(b64_der)
        .ok_or_else(|| StoreError::Other("public key is not base64url".into()))?;
    Sm2PublicKey::from_spki_der(&der).map_err(|e| StoreError::Other(e.to_string()))
}

/// An unlocked device key, ready to sign.
pub enum DeviceKey {
    Software(SoftwareSigner),
    #[cfg(feature = "tpm")]
    Tpm {
        tpm: Tpm,
        blob: TpmBlob,
        pin: Pin,
        public: Sm2PublicKey,
        dist_id: String,
    },
}

impl Sm2Signer for DeviceKey {
    fn public_key(&self) -> &Sm2PublicKey {
        match self {
            DeviceKey::Software(s) => s.public_key(),
            #[cfg(feature = "tpm")]
            DeviceKey::Tpm { public, .. } => public,
        }
    }

    fn dist_id(&self) -> &str {
        match self {
            DeviceKey::Software(s) => s.dist_id(),
            #[cfg(feature = "tpm")]
            DeviceKey::Tpm { dist_id, .. } => dist_id,
        }
    }

    fn sign_digest(&mut self, e: &Digest32) -> Result<Sm2Signature, SignError> {
        match self {
            DeviceKey::Software(s) => s.sign_digest(e),
            #[cfg(feature = "tpm")]
            DeviceKey::Tpm { tpm, blob, pin, .. } => {
                tpm.sign_sm2(blob, pin, e).map_err(|err| match err {
                    TpmError::WrongPin => SignError::WrongPin,
                    TpmError::Locked => SignError::Locked(err.to_string()),
                    other => SignError::Tpm(other.to_string()),
                })
            }
        }
    }
}
