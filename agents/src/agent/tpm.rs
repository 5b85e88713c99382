//! TPM 2.0 operations through tss-esapi (feature `tpm`).
//!
//! Every object lives under a storage primary key (ECC P-256, restricted
//! decryption, `noDA`) that is re-derived from the owner hierarchy's seed on
//! each use, so nothing needs a persistent handle. Device keys and sealed
//! secrets are stored as (public, private) blobs only the same TPM can load.
//!
//! The PIN is the authValue of the SM2 key or sealed object, and those
//! objects are *not* `noDA`: each wrong PIN increments the TPM's
//! dictionary-attack counter, and after `maxTries` failures the TPM refuses
//! all DA-protected authorizations until `recoveryTime` passes. The TPM,
//! not this program, enforces the limit. (The limits are set by the
//! platform owner with `tpm2_dictionarylockout`; tss-esapi 7 does not wrap
//! TPM2_DictionaryAttackParameters.)
//!
//! SM2: libtpms has TPM_ECC_SM2_P256 and TPM_ALG_SM2 but no SM3, so the key
//! is created with the SM2 scheme and SHA-256 as the scheme hash, and the
//! host computes `e = SM3(Z ‖ M)` and passes those 32 bytes as the digest:
//! the TPM computes `r = (e + x1) mod n`, `s = …` exactly as GB/T 32918
//! does with that e, so the result is an ordinary SM2 signature.

use std::str::FromStr;
use tss_esapi::attributes::{ObjectAttributes, ObjectAttributesBuilder};
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::constants::{CapabilityType, PropertyTag};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, CapabilityData, Digest, EccPoint, EccScheme, HashScheme, KeyDerivationFunctionScheme,
    KeyedHashScheme, Private, Public, PublicBuilder, PublicEccParametersBuilder,
    PublicKeyedHashParameters, SensitiveData, Signature, SignatureScheme,
    SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};
use zeroize::Zeroizing;

pub use super::store::TpmBlob;
use crate::b64;
use crate::secret::Pin;
use crate::sm2::{Digest32, Sm2PublicKey, Sm2Signature};

/// Default TCTI: the kernel's resource manager.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TpmError {
    #[error("no usable TPM at {tcti}: {reason}")]
    Unavailable { tcti: String, reason: String },
    #[error("wrong PIN (the TPM counted a dictionary-attack failure)")]
    WrongPin,
    #[error(
        "the TPM is in dictionary-attack lockout; wait for its recovery time or ask an administrator"
    )]
    Locked,
    #[error("the TPM does not support {0}")]
    Unsupported(String),
    #[error("PIN longer than 32 bytes cannot be a TPM authValue")]
    PinTooLong,
    #[error("stored TPM object is malformed: {0}")]
    BadBlob(&'static str),
    #[error("TPM error: {0}")]
    Other(String),
}

/// The TPM's dictionary-attack state, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaStatus {
    pub max_tries: u32,
    pub failed_tries: u32,
    pub recovery_seconds: u32,
    pub lockout_recovery_seconds: u32,
}

/// An open TPM connection.
pub struct Tpm {
    ctx: Context,
}

fn map_err(e: tss_esapi::Error) -> TpmError {
    if let tss_esapi::Error::Tss2Error(rc) = e {
        match rc.kind() {
            Some(Tss2ResponseCodeKind::AuthFail) | Some(Tss2ResponseCodeKind::BadAuth) => {
                return TpmError::WrongPin;
            }
            Some(Tss2ResponseCodeKind::Lockout) => return TpmError::Locked,
            Some(Tss2ResponseCodeKind::Curve)
            | Some(Tss2ResponseCodeKind::Scheme)
            | Some(Tss2ResponseCodeKind::Asymmetric)
            | Some(Tss2ResponseCodeKind::Hash) => {
                return TpmError::Unsupported(format!("SM2 ({e})"));
            }
            _ => {}
        }
    }
    TpmError::Other(e.to_string())
}

/// Object attributes shared by all our objects: bound to this TPM and
/// parent, usable with the authValue. `restricted_decrypt` makes a storage
/// parent (exempt from DA: it has no secret auth); `sign` a signing key.
fn attributes(kind: ObjectKind) -> Result<ObjectAttributes, TpmError> {
    ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .with_sensitive_data_origin(kind != ObjectKind::Sealed)
        .with_no_da(kind == ObjectKind::Storage)
        .with_restricted(kind == ObjectKind::Storage)
        .with_decrypt(kind == ObjectKind::Storage)
        .with_sign_encrypt(kind == ObjectKind::Signing)
        .build()
        .map_err(map_err)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectKind {
    Storage,
    Signing,
    Sealed,
}

fn auth(pin: &Pin) -> Result<Auth, TpmError> {
    if pin.expose().len() > 32 {
        return Err(TpmError::PinTooLong);
    }
    Auth::try_from(pin.expose().as_bytes().to_vec()).map_err(|_| TpmError::PinTooLong)
}

impl Tpm {
    /// Connects through a TCTI string such as `device:/dev/tpmrm0` or
    /// `swtpm:host=127.0.0.1,port=2321`.
    pub fn open(tcti: &str) -> Result<Self, TpmError> {
        let unavailable = |reason: String| TpmError::Unavailable {
            tcti: tcti.to_owned(),
            reason,
        };
        let conf = TctiNameConf::from_str(tcti).map_err(|e| unavailable(e.to_string()))?;
        let ctx = Context::new(conf).map_err(|e| unavailable(e.to_string()))?;
        Ok(Self { ctx })
    }

    fn primary(&mut self) -> Result<KeyHandle, TpmError> {
        let attrs = attributes(ObjectKind::Storage)?;
        let public = PublicBuilder::new()
            .with_public_algorithm(PublicAlgorithm::Ecc)
            .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
            .with_object_attributes(attrs)
            .with_ecc_parameters(
                PublicEccParametersBuilder::new_restricted_decryption_key(
                    SymmetricDefinitionObject::AES_128_CFB,
                    EccCurve::NistP256,
                )
                .build()
                .map_err(map_err)?,
            )
            .with_ecc_unique_identifier(EccPoint::default())
            .build()
            .map_err(map_err)?;
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create_primary(Hierarchy::Owner, public, None, None, None, None)
            })
            .map(|r| r.key_handle)
            .map_err(map_err)
    }

    fn create_under_primary(
        &mut self,
        public: Public,
        pin: &Pin,
        sensitive: Option<SensitiveData>,
    ) -> Result<(TpmBlob, Public), TpmError> {
        let auth = auth(pin)?;
        let parent = self.primary()?;
        let result = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create(parent, public, Some(auth), sensitive, None, None)
            });
        self.flush(parent);
        let created = result.map_err(map_err)?;
        let blob = TpmBlob {
            public: b64::encode(&created.out_public.marshall().map_err(map_err)?),
            private: b64::encode(created.out_private.value()),
        };
        Ok((blob, created.out_public))
    }

    /// Runs `f` with `blob` loaded (PIN set as its authValue) and flushes it.
    fn with_loaded<T>(
        &mut self,
        blob: &TpmBlob,
        pin: &Pin,
        f: impl FnOnce(&mut Context, KeyHandle) -> tss_esapi::Result<T>,
    ) -> Result<T, TpmError> {
        let (public, private) = blob_parts(blob)?;
        let auth = auth(pin)?;
        let parent = self.primary()?;
        let loaded = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.load(parent, private, public)
            });
        self.flush(parent);
        let handle = loaded.map_err(map_err)?;
        let result = self
            .ctx
            .tr_set_auth(handle.into(), auth)
            .and_then(|()| {
                self.ctx
                    .execute_with_session(Some(AuthSession::Password), |ctx| f(ctx, handle))
            })
            .map_err(map_err);
        self.flush(handle);
        result
    }

    fn flush(&mut self, handle: KeyHandle) {
        // A failed flush leaves a transient object that the resource manager
        // (or the next TPM reset) reclaims; nothing to report to the user.
        let _ = self.ctx.flush_context(handle.into());
    }

    /// Creates an SM2 signing key (TPM_ECC_SM2_P256, TPM_ALG_SM2 with
    /// SHA-256) whose authValue is the PIN.
    pub fn create_sm2_key(&mut self, pin: &Pin) -> Result<(TpmBlob, Sm2PublicKey), TpmError> {
        let attrs = attributes(ObjectKind::Signing)?;
        let params = PublicEccParametersBuilder::new()
            .with_ecc_scheme(EccScheme::Sm2(HashScheme::new(HashingAlgorithm::Sha256)))
            .with_curve(EccCurve::Sm2P256)
            .with_is_signing_key(true)
            .with_is_decryption_key(false)
            .with_restricted(false)
            .with_key_derivation_function_scheme(KeyDerivationFunctionScheme::Null)
            .build()
            .map_err(map_err)?;
        let public = PublicBuilder::new()
            .with_public_algorithm(PublicAlgorithm::Ecc)
            .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
            .with_object_attributes(attrs)
            .with_ecc_parameters(params)
            .with_ecc_unique_identifier(EccPoint::default())
            .build()
            .map_err(map_err)?;
        let (blob, out_public) = self.create_under_primary(public, pin, None)?;
        Ok((blob, sm2_public_of(&out_public)?))
    }

    /// The SM2 public key of a stored key blob (no PIN needed).
    pub fn public_of(blob: &TpmBlob) -> Result<Sm2PublicKey, TpmError> {
        let bytes = b64::decode(&blob.public).ok_or(TpmError::BadBlob("public"))?;
        let public = Public::unmarshall(&bytes).map_err(|_| TpmError::BadBlob("public"))?;
        sm2_public_of(&public)
    }

    /// TPM2_Sign over the host-computed `e` with the SM2 scheme.
    pub fn sign_sm2(
        &mut self,
        blob: &TpmBlob,
        pin: &Pin,
        e: &Digest32,
    ) -> Result<Sm2Signature, TpmError> {
        let digest = Digest::try_from(e.to_vec()).map_err(map_err)?;
        let validation = TPMT_TK_HASHCHECK {
            tag: TPM2_ST_HASHCHECK,
            hierarchy: TPM2_RH_NULL,
            digest: Default::default(),
        };
        let validation = validation.try_into().map_err(map_err)?;
        let scheme = SignatureScheme::Sm2 {
            hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
        };
        let sig = self.with_loaded(blob, pin, |ctx, key| {
            ctx.sign(key, digest, scheme, validation)
        })?;
        match sig {
            Signature::Sm2(ecc) => {
                Sm2Signature::from_scalars(ecc.signature_r().value(), ecc.signature_s().value())
                    .map_err(|_| TpmError::Other("TPM returned an invalid SM2 signature".into()))
            }
            _ => Err(TpmError::Other("TPM returned a non-SM2 signature".into())),
        }
    }

    /// Seals `secret` (≤ 128 bytes) with the PIN as authValue.
    pub fn seal(&mut self, secret: &[u8], pin: &Pin) -> Result<TpmBlob, TpmError> {
        let attrs = attributes(ObjectKind::Sealed)?;
        let public = PublicBuilder::new()
            .with_public_algorithm(PublicAlgorithm::KeyedHash)
            .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
            .with_object_attributes(attrs)
            .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
            .with_keyed_hash_unique_identifier(Digest::default())
            .build()
            .map_err(map_err)?;
        let data = SensitiveData::try_from(secret.to_vec()).map_err(map_err)?;
        Ok(self.create_under_primary(public, pin, Some(data))?.0)
    }

    /// Unseals a secret; the TPM checks the PIN (and counts failures).
    pub fn unseal(&mut self, blob: &TpmBlob, pin: &Pin) -> Result<Zeroizing<Vec<u8>>, TpmError> {
        let data = self.with_loaded(blob, pin, |ctx, obj| ctx.unseal(obj.into()))?;
        Ok(Zeroizing::new(data.value().to_vec()))
    }

    /// The endorsement key for the issuer's device record: the EK
    /// certificate (DER) from its NV index when the manufacturer stored one
    /// (ECC P-256, then RSA 2048), else the SubjectPublicKeyInfo (DER) of
    /// the ECC P-256 EK made from the TCG default template. `None` when the
    /// TPM offers neither; enrollment goes on without it.
    pub fn endorsement(&mut self) -> Option<Vec<u8>> {
        use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ek};
        use tss_esapi::interface_types::key_bits::RsaKeyBits;
        for alg in [
            AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
        ] {
            if let Ok(cert) = ek::retrieve_ek_pubcert(&mut self.ctx, alg) {
                return Some(cert);
            }
        }
        let handle = ek::create_ek_object_2(
            &mut self.ctx,
            AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            None,
        )
        .ok()?;
        let public = self.ctx.read_public(handle).map(|(p, _, _)| p);
        self.flush(handle);
        match public.ok()? {
            Public::Ecc { unique, .. }
                if unique.x().value().len() == 32 && unique.y().value().len() == 32 =>
            {
                // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04‖x‖y }
                let mut der = vec![
                    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
                    0x04,
                ];
                der.extend_from_slice(unique.x().value());
                der.extend_from_slice(unique.y().value());
                Some(der)
            }
            _ => None,
        }
    }

    /// The RSA 2048 EK certificate (DER) from NV index 0x01c00002 (TCG EK
    /// Credential Profile), when the manufacturer stored one.
    pub fn ek_certificate(&mut self) -> Option<Vec<u8>> {
        use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ek};
        use tss_esapi::interface_types::key_bits::RsaKeyBits;
        ek::retrieve_ek_pubcert(
            &mut self.ctx,
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
        )
        .ok()
    }

    /// The RSA 2048 EK from the TCG default template (re-derived from the
    /// endorsement seed: the same key as in the EK certificate).
    fn ek_handle(&mut self) -> Result<KeyHandle, TpmError> {
        use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ek};
        use tss_esapi::interface_types::key_bits::RsaKeyBits;
        ek::create_ek_object_2(
            &mut self.ctx,
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            None,
        )
        .map_err(map_err)
    }

    /// The EK's marshalled TPMT_PUBLIC.
    pub fn ek_public(&mut self) -> Result<Vec<u8>, TpmError> {
        let ek = self.ek_handle()?;
        let public = self.ctx.read_public(ek).map(|(p, _, _)| p);
        self.flush(ek);
        public.map_err(map_err)?.marshall().map_err(map_err)
    }

    /// Creates an attestation key under the EK: ECC P-256, ECDSA-SHA256,
    /// restricted signing, fixedTPM, fixedParent, sensitiveDataOrigin.
    /// Returns its blob and marshalled TPMT_PUBLIC.
    pub fn create_ak(&mut self) -> Result<(TpmBlob, Vec<u8>), TpmError> {
        use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ak};
        use tss_esapi::interface_types::algorithm::SignatureSchemeAlgorithm;
        let ek = self.ek_handle()?;
        let created = ak::create_ak_2(
            &mut self.ctx,
            ek,
            HashingAlgorithm::Sha256,
            AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            SignatureSchemeAlgorithm::EcDsa,
            None,
            None,
        );
        self.flush(ek);
        let created = created.map_err(map_err)?;
        let public = created.out_public.marshall().map_err(map_err)?;
        let blob = TpmBlob {
            public: b64::encode(&public),
            private: b64::encode(created.out_private.value()),
        };
        Ok((blob, public))
    }

    /// Loads the AK (under a freshly derived EK) and runs `f` with both
    /// handles; flushes them after.
    fn with_ak<T>(
        &mut self,
        ak_blob: &TpmBlob,
        f: impl FnOnce(&mut Self, KeyHandle, KeyHandle) -> Result<T, TpmError>,
    ) -> Result<T, TpmError> {
        use tss_esapi::abstraction::ak;
        let (public, private) = blob_parts(ak_blob)?;
        let ek = self.ek_handle()?;
        let ak = match ak::load_ak(&mut self.ctx, ek, None, private, public) {
            Ok(h) => h,
            Err(e) => {
                self.flush(ek);
                return Err(map_err(e));
            }
        };
        let result = f(self, ek, ak);
        self.flush(ak);
        self.flush(ek);
        result
    }

    /// TPM2_ActivateCredential: the secret the issuer sealed to this
    /// TPM's EK for the AK's name. Fails unless both are in this TPM.
    pub fn activate_credential(
        &mut self,
        ak_blob: &TpmBlob,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TpmError> {
        use tss_esapi::constants::SessionType;
        use tss_esapi::interface_types::session_handles::PolicySession;
        use tss_esapi::structures::{EncryptedSecret, IdObject, SymmetricDefinition};
        let blob = IdObject::try_from(credential_blob.to_vec()).map_err(map_err)?;
        let secret = EncryptedSecret::try_from(encrypted_secret.to_vec()).map_err(map_err)?;
        self.with_ak(ak_blob, |t, ek, ak| {
            // The EK's policy: PolicySecret(endorsement hierarchy).
            let session = t
                .ctx
                .start_auth_session(
                    None,
                    None,
                    None,
                    SessionType::Policy,
                    SymmetricDefinition::AES_128_CFB,
                    HashingAlgorithm::Sha256,
                )
                .map_err(map_err)?
                .ok_or(TpmError::Other("no policy session".into()))?;
            let result = PolicySession::try_from(session)
                .and_then(|policy| {
                    t.ctx.execute_with_nullauth_session(|ctx| {
                        ctx.policy_secret(
                            policy,
                            tss_esapi::handles::AuthHandle::Endorsement,
                            Default::default(),
                            Default::default(),
                            Default::default(),
                            None,
                        )
                    })
                })
                .and_then(|_| {
                    t.ctx.execute_with_sessions(
                        (Some(AuthSession::Password), Some(session), None),
                        |ctx| ctx.activate_credential(ak, ek, blob, secret),
                    )
                });
            let _ = t
                .ctx
                .flush_context(tss_esapi::handles::SessionHandle::from(session).into());
            result
                .map(|d| Zeroizing::new(d.value().to_vec()))
                .map_err(map_err)
        })
    }

    /// TPM2_Certify of the SM2 key by the AK with `nonce` as qualifying
    /// data: the marshalled TPMS_ATTEST and TPMT_SIGNATURE. Needs the PIN
    /// (the key's authValue).
    pub fn certify(
        &mut self,
        key_blob: &TpmBlob,
        pin: &Pin,
        ak_blob: &TpmBlob,
        nonce: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
        use tss_esapi::structures::Data;
        let (public, private) = blob_parts(key_blob)?;
        let auth = auth(pin)?;
        let data = Data::try_from(nonce.to_vec()).map_err(map_err)?;
        self.with_ak(ak_blob, |t, ek, ak| {
            // swtpm and small TPMs hold 3 transient objects: the loaded AK
            // no longer needs its parent.
            t.flush(ek);
            let parent = t.primary()?;
            let loaded = t
                .ctx
                .execute_with_session(Some(AuthSession::Password), |ctx| {
                    ctx.load(parent, private, public)
                });
            t.flush(parent);
            let key = loaded.map_err(map_err)?;
            let result = t
                .ctx
                .tr_set_auth(key.into(), auth)
                .and_then(|()| {
                    t.ctx.execute_with_sessions(
                        (
                            Some(AuthSession::Password),
                            Some(AuthSession::Password),
                            None,
                        ),
                        |ctx| ctx.certify(key.into(), ak, data, SignatureScheme::Null),
                    )
                })
                .map_err(map_err);
            t.flush(key);
            let (attest, signature) = result?;
            Ok((
                attest.marshall().map_err(map_err)?,
                signature.marshall().map_err(map_err)?,
            ))
        })
    }

    /// Reads the dictionary-attack parameters and counter. (Not through
    /// `get_tpm_property`, which caches values: the counter changes.)
    pub fn da_status(&mut self) -> Result<DaStatus, TpmError> {
        let first = PropertyTag::LockoutCounter;
        let (data, _) = self
            .ctx
            .execute_without_session(|ctx| {
                ctx.get_capability(CapabilityType::TpmProperties, first.into(), 4)
            })
            .map_err(map_err)?;
        let mut status = DaStatus {
            max_tries: 0,
            failed_tries: 0,
            recovery_seconds: 0,
            lockout_recovery_seconds: 0,
        };
        if let CapabilityData::TpmProperties(props) = data {
            for p in props {
                match p.property() {
                    PropertyTag::LockoutCounter => status.failed_tries = p.value(),
                    PropertyTag::MaxAuthFail => status.max_tries = p.value(),
                    PropertyTag::LockoutInterval => status.recovery_seconds = p.value(),
                    PropertyTag::LockoutRecovery => status.lockout_recovery_seconds = p.value(),
                    _ => {}
                }
            }
        }
        Ok(status)
    }
}

/// The (public, private) parts of a stored blob.
fn blob_parts(blob: &TpmBlob) -> Result<(Public, Private), TpmError> {
    let public_bytes = b64::decode(&blob.public).ok_or(TpmError::BadBlob("public"))?;
    let private_bytes = b64::decode(&blob.private).ok_or(TpmError::BadBlob("private"))?;
    let public = Public::unmarshall(&public_bytes).map_err(|_| TpmError::BadBlob("public"))?;
    let private = Private::try_from(private_bytes).map_err(|_| TpmError::BadBlob("private"))?;
    Ok((public, private))
}

fn sm2_public_of(public: &Public) -> Result<Sm2PublicKey, TpmError> {
    match public {
        Public::Ecc { unique, .. } => {
            let mut sec1 = vec![0x04];
            let pad = |v: &[u8]| -> Result<[u8; 32], TpmError> {
                if v.len() > 32 {
                    return Err(TpmError::BadBlob("ECC coordinate"));
                }
                let mut out = [0u8; 32];
                out[32 - v.len()..].copy_from_slice(v);
                Ok(out)
            };
            sec1.extend_from_slice(&pad(unique.x().value())?);
            sec1.extend_from_slice(&pad(unique.y().value())?);
            Sm2PublicKey::from_sec1(&sec1).map_err(|_| TpmError::BadBlob("not an SM2 point"))
        }
        _ => Err(TpmError::BadBlob("not an ECC key")),
    }
}
