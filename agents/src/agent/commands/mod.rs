//! The CLI commands other than `pam` (see [`super::pam`]). Each takes the
//! state directory, the PIN where the device key is needed, and `now`.

#[cfg(feature = "tpm")]
mod attest;
mod enroll;
mod error;

pub use enroll::{EnrollArgs, enroll};
pub use error::{CliError, StorageChoice};

use std::path::{Path, PathBuf};
use time::OffsetDateTime;

use super::client::Client;
use super::offline;
use super::store::{DeviceKey, KeyStore, StoreError};
use crate::b64;
use crate::grant;
use crate::otp;
use crate::secret::Pin;
use crate::signed::approval_bytes;
use crate::signer::sign_message;
use crate::wire::{
    ApprovalRequest, ApprovalResponse, Decision, GrantResponse, PendingChallenge,
    PendingChallenges, ReceiptUpload, ReceiptUploadResponse,
};

fn client_for(store: &KeyStore) -> Result<Client, CliError> {
    Ok(Client::new(
        &store.server,
        store.ca_file.as_deref().map(Path::new),
        store.insecure_http,
    )?)
}

fn unlock(state_dir: &Path, pin: &Pin) -> Result<(KeyStore, DeviceKey), CliError> {
    let store = KeyStore::load(state_dir)?;
    let key = store.unlock(state_dir, pin)?;
    Ok((store, key))
}

fn fmt_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

pub fn status(state_dir: &Path, now: OffsetDateTime) -> Result<(), CliError> {
    let store = KeyStore::load(state_dir)?;
    let storage = store.storage();
    println!("device:       {}", store.device_id);
    println!("user:         {}", store.user);
    println!("server:       {}", store.server);
    println!("enrolled:     {}", fmt_time(store.enrolled_at));
    println!(
        "key storage:  {} (amr {}){}",
        storage.as_str(),
        storage.amr().join("+"),
        match storage {
            crate::wire::KeyStorage::Tpm => "",
            crate::wire::KeyStorage::TpmSealed => " — key sealed by the TPM, used in host memory",
            crate::wire::KeyStorage::Software =>
                " — weaker: key encrypted under the PIN, no hardware",
        }
    );
    println!("key id:       {}", store.device_public_key()?.key_id());
    println!("SM2 dist ID:  {}", store.dist_id);
    match storage {
        crate::wire::KeyStorage::Software => {
            let left = super::attempts::Attempts::new(state_dir, store.max_pin_attempts)
                .remaining()
                .map_err(StoreError::from)?;
            println!(
                "PIN attempts: {left} of {} left (local limit)",
                store.max_pin_attempts
            );
        }
        _ => tpm_status(&store),
    }
    match offline::load_grant(state_dir) {
        Err(offline::OfflineError::NoGrant) => {
            println!("offline:      no grant (run `tollgate-agent grant` while online)")
        }
        Err(e) => println!("offline:      {e}"),
        Ok(token) => match grant::verify_grant(&token, &store.grant_key()?, now) {
            Ok(g) => println!(
                "offline:      grant {} valid until {}, {} of {} offline logins used",
                g.grant_id,
                fmt_time(g.not_after),
                offline::used(state_dir, &g)?,
                g.max_offline_logins
            ),
            Err(e) => println!("offline:      unusable grant: {e}"),
        },
    }
    println!(
        "receipts:     {} waiting for upload",
        offline::pending_receipts(state_dir)?.len()
    );
    println!(
        "otp:          {}",
        store
            .otp
            .as_ref()
            .map(|o| format!("{:?}, {} digits, {} s", o.algorithm, o.digits, o.period))
            .unwrap_or_else(|| "not provisioned".into())
    );
    Ok(())
}

#[cfg(feature = "tpm")]
fn tpm_status(store: &KeyStore) {
    let tcti = store.tcti.as_deref().unwrap_or(super::tpm::DEFAULT_TCTI);
    match super::tpm::Tpm::open(tcti).and_then(|mut t| t.da_status()) {
        Ok(da) => println!(
            "TPM lockout:  {} failed of {} allowed; recovery {} s per failure",
            da.failed_tries, da.max_tries, da.recovery_seconds
        ),
        Err(e) => println!("TPM lockout:  unknown ({e})"),
    }
}

#[cfg(not(feature = "tpm"))]
fn tpm_status(_store: &KeyStore) {
    println!("TPM lockout:  unknown (built without TPM support)");
}

fn describe(ch: &PendingChallenge, now: i64) -> String {
    let o = &ch.origin;
    format!(
        "login to {} from {}{}\n  browser: {}\n  requested {} — expires in {} s",
        o.client.as_deref().unwrap_or("(unknown application)"),
        o.ip.as_deref().unwrap_or("(unknown address)"),
        o.location
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default(),
        o.user_agent.as_deref().unwrap_or("(unknown)"),
        fmt_time(ch.created_at),
        (ch.expires_at - now).max(0)
    )
}

pub fn approve(
    state_dir: &Path,
    pin: &Pin,
    number: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), CliError> {
    let (store, mut key) = unlock(state_dir, pin)?;
    let client = client_for(&store)?;
    let now = now.unix_timestamp();
    let pending: PendingChallenges = client.post_signed(
        "/v1/agent/challenges/pending",
        &serde_json::json!({}),
        &store.device_id,
        &mut key,
        now,
    )?;
    let live: Vec<_> = pending
        .challenges
        .into_iter()
        .filter(|c| c.expires_at > now)
        .collect();
    if live.is_empty() {
        println!("no login is waiting for approval");
        return Ok(());
    }
    for ch in live {
        eprintln!("{}", describe(&ch, now));
        let answer = match number {
            Some(n) => n.to_owned(),
            None => super::prompt::line(
                "Type the two-digit number shown on the login page, or n if this is not you: ",
            )?,
        };
        let (decision, number) = if answer.eq_ignore_ascii_case("n") {
            (Decision::Deny, "--".to_owned())
        } else if answer.len() == 2 && answer.bytes().all(|b| b.is_ascii_digit()) {
            (Decision::Approve, answer)
        } else {
            return Err(CliError::Usage(format!(
                "{answer:?} is not a two-digit number"
            )));
        };
        let mut req = ApprovalRequest {
            device_id: store.device_id.clone(),
            challenge_id: ch.challenge_id.clone(),
            transaction_id: ch.transaction_id.clone(),
            nonce: ch.nonce.clone(),
            number,
            decision,
            signature: String::new(),
        };
        let msg = approval_bytes(&req).map_err(|e| CliError::Other(e.to_string()))?;
        req.signature = b64::encode(&sign_message(&mut key, &msg)?.to_der());
        let path = format!("/v1/agent/challenges/{}/answer", ch.challenge_id);
        let resp: ApprovalResponse = client.post(&path, &req)?;
        match resp.status.as_str() {
            "approved" => println!("approved"),
            "denied" => println!("refused; the login was stopped"),
            other => {
                return Err(CliError::Other(format!(
                    "the issuer did not accept the answer: {other}"
                )));
            }
        }
    }
    Ok(())
}

pub fn grant(state_dir: &Path, pin: &Pin, now: OffsetDateTime) -> Result<(), CliError> {
    let (store, mut key) = unlock(state_dir, pin)?;
    let client = client_for(&store)?;
    let resp: GrantResponse = client.post_signed(
        "/v1/agent/grant",
        &serde_json::json!({}),
        &store.device_id,
        &mut key,
        now.unix_timestamp(),
    )?;
    // Never store a grant we could not use.
    let g = grant::verify_grant(&resp.grant, &store.grant_key()?, now)?;
    g.check_device(&store.device_id, &store.device_public_key()?)?;
    g.check_user(&store.user)?;
    offline::save_grant(state_dir, &resp.grant)?;
    println!(
        "offline grant {} stored: valid until {}, up to {} offline logins",
        g.grant_id,
        fmt_time(g.not_after),
        g.max_offline_logins
    );
    Ok(())
}

pub fn upload(state_dir: &Path, pin: &Pin, now: OffsetDateTime) -> Result<(), CliError> {
    let pending = offline::pending_receipts(state_dir)?;
    if pending.is_empty() {
        println!("no receipts to upload");
        return Ok(());
    }
    let (store, mut key) = unlock(state_dir, pin)?;
    let client = client_for(&store)?;
    let body = ReceiptUpload {
        receipts: pending.iter().map(|(_, t)| t.clone()).collect(),
    };
    let resp: ReceiptUploadResponse = client.post_signed(
        "/v1/agent/receipts",
        &body,
        &store.device_id,
        &mut key,
        now.unix_timestamp(),
    )?;
    let path_of = |id: &str| -> Option<&PathBuf> {
        pending
            .iter()
            .map(|(p, _)| p)
            .find(|p| p.file_stem().and_then(|s| s.to_str()) == Some(id))
    };
    for r in &resp.results {
        // The issuer has decided about this receipt (stored, flagged or
        // refused for good): the local copy has done its job.
        if let Some(p) = path_of(&r.receipt_id) {
            std::fs::remove_file(p).map_err(|e| StoreError::Io {
                path: p.clone(),
                source: e,
            })?;
        }
        let reasons = if r.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.reasons.join(", "))
        };
        println!("receipt {}: {}{reasons}", r.receipt_id, r.status);
    }
    Ok(())
}

pub fn otp(state_dir: &Path, pin: &Pin, now: OffsetDateTime) -> Result<(), CliError> {
    let store = KeyStore::load(state_dir)?;
    let (seed, params) = store.otp_seed(state_dir, pin)?;
    let unix = now.unix_timestamp();
    let code = otp::generate(&seed, params, unix)?;
    let period = i64::try_from(params.period).unwrap_or(30);
    println!("{code}");
    eprintln!(
        "valid for {} more seconds",
        period - unix.rem_euclid(period)
    );
    Ok(())
}
