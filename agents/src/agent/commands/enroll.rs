//! `tollgate-agent enroll`: create the device key where the terminal can
//! protect it best, prove possession to the issuer, store the result.

use std::path::Path;
use time::OffsetDateTime;

use super::super::client::Client;
use super::super::prompt;
use super::super::softkey;
use super::super::store::{FORMAT, KeyStore, Protected, StoreError, StoredOtp};
use super::error::{CliError, StorageChoice};
use crate::b64;
use crate::secret::Pin;
use crate::signed::enroll_bytes;
use crate::signer::{Sm2Signer, SoftwareSigner, sign_message};
use crate::sm2::{DEFAULT_DIST_ID, Sm2PublicKey, Sm2SecretKey};
use crate::wire::{
    EnrollBeginRequest, EnrollBeginResponse, EnrollFinishRequest, EnrollFinishResponse, KeyStorage,
};

pub struct EnrollArgs<'a> {
    pub state_dir: &'a Path,
    pub server: &'a str,
    pub code: &'a str,
    pub storage: StorageChoice,
    pub tcti: &'a str,
    pub dist_id: Option<&'a str>,
    pub ca_file: Option<&'a Path>,
    pub force: bool,
    pub pin_stdin: bool,
    /// The OTP algorithm to ask the issuer for; `None`: its default.
    pub otp_algorithm: Option<crate::otp::OtpAlgorithm>,
    /// `--system`: a root-owned enrollment for PAM mode, for this user.
    pub system_user: Option<&'a str>,
    /// `--insecure-http`: allow `http://` to a loopback issuer (tests).
    pub insecure_http: bool,
}

/// PIN rules: at least 4 characters; at most 32 bytes (a TPM authValue
/// with SHA-256 names cannot be longer).
fn check_pin(pin: &Pin) -> Result<(), CliError> {
    if pin.expose().chars().count() < 4 {
        return Err(CliError::Usage(
            "the PIN must have at least 4 characters".into(),
        ));
    }
    if pin.expose().len() > 32 {
        return Err(CliError::Usage("the PIN must be at most 32 bytes".into()));
    }
    Ok(())
}

fn new_pin(pin_stdin: bool) -> Result<Pin, CliError> {
    if pin_stdin {
        let pin = prompt::pin_from_stdin()?;
        check_pin(&pin)?;
        return Ok(pin);
    }
    let pin = prompt::pin_from_tty("Choose a PIN for this device: ")?;
    check_pin(&pin)?;
    let again = prompt::pin_from_tty("Repeat the PIN: ")?;
    if pin.expose() != again.expose() {
        return Err(CliError::Usage("the PINs differ".into()));
    }
    Ok(pin)
}

/// A freshly created device key: how it is stored, and a signer for the
/// proof of possession.
struct NewKey {
    /// EK certificate or public key (DER), when a TPM is used.
    ek: Option<Vec<u8>>,
    protected: Protected,
    storage: KeyStorage,
    signer: Box<dyn Sm2Signer>,
    tcti: Option<String>,
}

fn software_key(pin: &Pin, dist_id: &str) -> Result<NewKey, CliError> {
    let key = Sm2SecretKey::generate().map_err(|e| CliError::Other(e.to_string()))?;
    let public_b64 = b64::encode(&key.public_key().to_spki_der());
    let enc = softkey::seal(
        key.to_bytes().as_ref(),
        pin,
        &KeyStore::aad(&public_b64, "device-key"),
        softkey::DEFAULT_COST,
    )
    .map_err(|e| CliError::Other(e.to_string()))?;
    Ok(NewKey {
        ek: None,
        protected: Protected::Software { enc },
        storage: KeyStorage::Software,
        signer: Box::new(SoftwareSigner::new(key, dist_id)),
        tcti: None,
    })
}

#[cfg(feature = "tpm")]
fn tpm_key(
    choice: StorageChoice,
    tcti: &str,
    pin: &Pin,
    dist_id: &str,
) -> Result<NewKey, CliError> {
    use super::super::store::{DeviceKey, TpmBlob};
    use super::super::tpm::{Tpm, TpmError};

    let mut tpm = match Tpm::open(tcti) {
        Ok(t) => t,
        Err(e) if choice == StorageChoice::Auto => {
            eprintln!("no TPM ({e}); storing the key in software (weaker: swk)");
            return software_key(pin, dist_id);
        }
        Err(e) => return Err(e.into()),
    };
    if matches!(choice, StorageChoice::Auto | StorageChoice::Tpm) {
        match tpm.create_sm2_key(pin) {
            Ok((blob, public)) => {
                let signer = DeviceKey::Tpm {
                    tpm: Tpm::open(tcti)?,
                    blob: blob.clone(),
                    pin: pin.clone(),
                    public,
                    dist_id: dist_id.to_owned(),
                };
                return Ok(NewKey {
                    ek: tpm.endorsement(),
                    protected: Protected::Tpm { blob },
                    storage: KeyStorage::Tpm,
                    signer: Box::new(signer),
                    tcti: Some(tcti.to_owned()),
                });
            }
            Err(TpmError::Unsupported(what)) if choice == StorageChoice::Auto => {
                eprintln!(
                    "the TPM does not support {what}; sealing a software SM2 key with the TPM instead"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let key = Sm2SecretKey::generate().map_err(|e| CliError::Other(e.to_string()))?;
    let blob: TpmBlob = tpm.seal(key.to_bytes().as_ref(), pin)?;
    Ok(NewKey {
        ek: tpm.endorsement(),
        protected: Protected::TpmSealed { blob },
        storage: KeyStorage::TpmSealed,
        signer: Box::new(SoftwareSigner::new(key, dist_id)),
        tcti: Some(tcti.to_owned()),
    })
}

#[cfg(not(feature = "tpm"))]
fn tpm_key(
    choice: StorageChoice,
    _tcti: &str,
    pin: &Pin,
    dist_id: &str,
) -> Result<NewKey, CliError> {
    if choice == StorageChoice::Auto {
        eprintln!(
            "this agent was built without TPM support; storing the key in software (weaker: swk)"
        );
        return software_key(pin, dist_id);
    }
    Err(StoreError::NoTpmSupport.into())
}

/// Protects the OTP seed the same way as the key (sealed by the TPM when
/// the key is TPM-backed).
fn protect_seed(
    seed: &[u8],
    key: &NewKey,
    pin: &Pin,
    public_b64: &str,
) -> Result<Protected, CliError> {
    #[cfg(feature = "tpm")]
    if let Some(tcti) = &key.tcti {
        let blob = super::super::tpm::Tpm::open(tcti)?.seal(seed, pin)?;
        return Ok(Protected::TpmSealed { blob });
    }
    let _ = &key.tcti;
    let enc = softkey::seal(
        seed,
        pin,
        &KeyStore::aad(public_b64, "otp-seed"),
        softkey::DEFAULT_COST,
    )
    .map_err(|e| CliError::Other(e.to_string()))?;
    Ok(Protected::Software { enc })
}

pub fn enroll(args: &EnrollArgs<'_>, now: OffsetDateTime) -> Result<(), CliError> {
    if args.system_user.is_some() {
        // What PAM mode will trust: written by root, over verified TLS.
        super::super::trust::require_root()
            .map_err(|e| CliError::Usage(format!("enroll --system: {e}")))?;
        if args.insecure_http {
            return Err(CliError::Usage(
                "enroll --system needs https:// with certificate verification; \
                 --insecure-http is for tests of non-system enrollments only"
                    .into(),
            ));
        }
    }
    // Refuse early (before the code is spent) when a store exists.
    match KeyStore::load(args.state_dir) {
        Err(StoreError::NotEnrolled(_)) => {}
        Ok(existing) if !args.force => {
            return Err(CliError::Usage(format!(
                "already enrolled as device {} for {}; pass --force to replace",
                existing.device_id, existing.user
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(e.into()),
    }
    let client = Client::new(args.server, args.ca_file, args.insecure_http)?;
    let pin = new_pin(args.pin_stdin)?;
    let begin: EnrollBeginResponse = client.post(
        "/v1/agent/enroll/begin",
        &EnrollBeginRequest {
            code: args.code.to_owned(),
        },
    )?;
    let dist_id = args
        .dist_id
        .map(str::to_owned)
        .or(begin.dist_id.clone())
        .unwrap_or_else(|| DEFAULT_DIST_ID.to_owned());

    let mut key = match args.storage {
        StorageChoice::Software => software_key(&pin, &dist_id)?,
        choice => tpm_key(choice, args.tcti, &pin, &dist_id)?,
    };
    let public_b64 = b64::encode(&key.signer.public_key().to_spki_der());
    let proof = enroll_bytes(
        &begin.enrollment_id,
        &begin.challenge,
        &public_b64,
        &dist_id,
        key.storage,
    )
    .map_err(|e| CliError::Other(e.to_string()))?;
    let signature = sign_message(key.signer.as_mut(), &proof)?;
    let attestation = match &key.protected {
        #[cfg(feature = "tpm")]
        Protected::Tpm { blob } => super::attest::attest(&client, args.tcti, &begin, blob, &pin)?,
        _ => None,
    };
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let finish: EnrollFinishResponse = client.post(
        "/v1/agent/enroll/finish",
        &EnrollFinishRequest {
            enrollment_id: begin.enrollment_id.clone(),
            public_key: public_b64.clone(),
            dist_id: dist_id.clone(),
            key_storage: key.storage,
            ek: key.ek.as_deref().map(b64::encode),
            hostname,
            signature: b64::encode(&signature.to_der()),
            otp_algorithm: args.otp_algorithm,
            attestation,
        },
    )?;
    if let Some(user) = args.system_user
        && finish.user != user
    {
        return Err(CliError::Other(format!(
            "the enrollment code is for {:?}, not {user:?}; nothing was stored \
             (revoke device {} on the issuer)",
            finish.user, finish.device_id
        )));
    }
    let grant_key_der = b64::decode(&finish.grant_public_key)
        .ok_or_else(|| CliError::Other("grant_public_key is not base64url".into()))?;
    Sm2PublicKey::from_spki_der(&grant_key_der)
        .map_err(|e| CliError::Other(format!("issuer grant key: {e}")))?;

    let otp = match &finish.otp {
        None => None,
        Some(p) => {
            let seed = zeroize::Zeroizing::new(
                b64::decode(&p.seed)
                    .ok_or_else(|| CliError::Other("OTP seed is not base64url".into()))?,
            );
            Some(StoredOtp {
                algorithm: p.algorithm,
                digits: p.digits,
                period: p.period,
                seed: protect_seed(&seed, &key, &pin, &public_b64)?,
            })
        }
    };
    let store = KeyStore {
        format: FORMAT.into(),
        server: args.server.trim_end_matches('/').to_owned(),
        user: finish.user.clone(),
        device_id: finish.device_id.clone(),
        dist_id,
        public_key: public_b64,
        grant_public_key: finish.grant_public_key.clone(),
        enrolled_at: now.unix_timestamp(),
        tcti: key.tcti.clone(),
        ca_file: args.ca_file.map(|p| p.display().to_string()),
        key: key.protected.clone(),
        otp,
        max_pin_attempts: 10,
        system: args.system_user.is_some(),
        insecure_http: args.insecure_http,
    };
    store.save(args.state_dir, args.force)?;
    // The issuer's record, not our claim, says what the key proves.
    let recorded = finish.key_storage.unwrap_or(KeyStorage::Software);
    println!(
        "enrolled device {} for {} at {}; key storage: {}; the issuer records it as {} (amr {}): {}",
        store.device_id,
        store.user,
        store.server,
        key.storage.as_str(),
        recorded.as_str(),
        recorded.amr().join("+"),
        finish.attestation.as_deref().unwrap_or("no reason given")
    );
    Ok(())
}
