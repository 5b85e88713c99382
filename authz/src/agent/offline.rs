//! Offline MFA: the issuer's SM2 grant-signing key, offline grants, and
//! the receipts of offline logins.
//!
//! The grant key is dedicated (never the OIDC signing key), generated on
//! first start and stored sealed with the master key under the context
//! `grant-key:<kid>`; its public key is published at
//! `GET /v1/agent/grant-key` and sent to agents at enrollment.

use super::{AgentError, device_key, key_storage};
use crate::master_key::MasterKey;
use crate::state::App;
use crate::store::{DeviceRow, GrantKeyRow, ReceiptRow, Store};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tollgate_agent::b64;
use tollgate_agent::grant::{self, GRANT_DIST_ID, GrantClaims};
use tollgate_agent::receipt;
use tollgate_agent::signer::SoftwareSigner;
use tollgate_agent::sm2::Sm2SecretKey;
use tollgate_agent::wire::{ReceiptResult, ReceiptUpload, ReceiptUploadResponse};

/// How long an offline grant lasts (the issue's default: 72 h).
pub const GRANT_TTL: i64 = 72 * 3600;
/// Offline logins allowed under one grant.
pub const MAX_OFFLINE_LOGINS: u32 = 10;
/// Receipts accepted per upload, so one request stays small.
pub const MAX_RECEIPTS_PER_UPLOAD: usize = 100;

/// The opened grant key. Never logged: `Sm2SecretKey`'s `Debug` redacts.
pub struct GrantKey {
    pub kid: String,
    pub signer: SoftwareSigner,
    /// base64url SubjectPublicKeyInfo DER, as published.
    pub public_b64: String,
}

fn context(kid: &str) -> String {
    format!("grant-key:{kid}")
}

fn open(row: &GrantKeyRow, master: &MasterKey) -> Result<GrantKey, AgentError> {
    let sealed = STANDARD
        .decode(&row.private_sealed)
        .map_err(|e| AgentError::internal("grant key", e))?;
    let scalar = zeroize::Zeroizing::new(
        master
            .open(&context(&row.kid), &sealed)
            .map_err(|e| AgentError::internal("grant key", e))?,
    );
    let key =
        Sm2SecretKey::from_bytes(&scalar).map_err(|e| AgentError::internal("grant key", e))?;
    Ok(GrantKey {
        kid: row.kid.clone(),
        public_b64: b64::encode(&key.public_key().to_spki_der()),
        signer: SoftwareSigner::new(key, GRANT_DIST_ID),
    })
}

/// The grant key, generated and stored on first use (first start). Two
/// replicas racing both insert; both then use the oldest, so they agree.
pub async fn grant_key(
    store: &Store,
    master: &MasterKey,
    now: i64,
) -> Result<GrantKey, AgentError> {
    if let Some(row) = store.grant_key().await? {
        return open(&row, master);
    }
    let key = Sm2SecretKey::generate().map_err(|e| AgentError::internal("grant key", e))?;
    let kid = format!("gk-{}", crate::secret::random_id(8));
    let sealed = master.seal(&context(&kid), &key.to_bytes()[..]);
    store
        .insert_grant_key(&GrantKeyRow {
            kid: kid.clone(),
            private_sealed: STANDARD.encode(sealed),
            public_key: b64::encode(&key.public_key().to_spki_der()),
            created_at: now,
        })
        .await?;
    tracing::info!(kid = %kid, "created SM2 grant-signing key");
    let row = store
        .grant_key()
        .await?
        .ok_or_else(|| AgentError::internal("grant key", "vanished after insert"))?;
    open(&row, master)
}

/// `POST /v1/agent/grant`: a fresh grant for an authenticated, active
/// device, valid from `now` for [`GRANT_TTL`].
pub async fn issue_grant(
    app: &App,
    device: &DeviceRow,
    key: &mut GrantKey,
    now: i64,
) -> Result<String, AgentError> {
    let user = app
        .store
        .user(&device.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| AgentError::new(403, "access_denied", "the user is disabled"))?;
    let storage = key_storage(&device.key_storage)
        .ok_or_else(|| AgentError::internal("device", "unknown key storage"))?;
    let claims = GrantClaims {
        v: 1,
        grant_id: format!("g-{}", crate::secret::random_id(12)),
        iss: app.urls.issuer.clone(),
        user: user.login.clone(),
        device_id: device.id.clone(),
        device_public_key: device.public_key.clone(),
        device_dist_id: device.dist_id.clone(),
        key_storage: storage,
        issued_at: now,
        not_after: now + GRANT_TTL,
        max_offline_logins: MAX_OFFLINE_LOGINS,
    };
    let token = grant::sign_grant(&claims, &mut key.signer)
        .map_err(|e| AgentError::internal("grant signing", e))?;
    let json = serde_json::to_string(&claims).map_err(|e| AgentError::internal("grant", e))?;
    app.store
        .insert_offline_grant(&claims.grant_id, &device.id, &json, now, claims.not_after)
        .await?;
    app.audit(
        "device.grant_issued",
        &device.user_id,
        &device.id,
        serde_json::json!({
            "grant_id": claims.grant_id,
            "kid": key.kid,
            "not_after": claims.not_after,
            "max_offline_logins": claims.max_offline_logins,
        }),
    )
    .await;
    Ok(token)
}

/// `POST /v1/agent/receipts`: verifies each receipt with the device key,
/// stores it once, and audits it as an offline login (`offline.login`),
/// flagged when the grant had expired, the limit was exceeded, the device
/// was revoked before the login, or receipt and grant disagree.
pub async fn upload_receipts(
    app: &App,
    device: &DeviceRow,
    up: &ReceiptUpload,
    now: i64,
) -> Result<ReceiptUploadResponse, AgentError> {
    if up.receipts.len() > MAX_RECEIPTS_PER_UPLOAD {
        return Err(AgentError::bad_request(
            "invalid_request",
            format!("at most {MAX_RECEIPTS_PER_UPLOAD} receipts per upload"),
        ));
    }
    let key = device_key(device)?;
    let mut results = Vec::with_capacity(up.receipts.len());
    for token in &up.receipts {
        results.push(one_receipt(app, device, &key, token, now).await?);
    }
    Ok(ReceiptUploadResponse { results })
}

fn rejected(id: String, why: impl Into<String>) -> ReceiptResult {
    ReceiptResult {
        receipt_id: id,
        status: "rejected".into(),
        reasons: vec![why.into()],
    }
}

async fn one_receipt(
    app: &App,
    device: &DeviceRow,
    key: &tollgate_agent::sm2::Sm2PublicKey,
    token: &str,
    now: i64,
) -> Result<ReceiptResult, AgentError> {
    let Ok(peek) = receipt::peek_receipt(token) else {
        return Ok(rejected(String::new(), "malformed"));
    };
    if peek.device_id != device.id {
        return Ok(rejected(peek.receipt_id, "receipt of another device"));
    }
    let claims = match receipt::verify_receipt(token, key, &device.dist_id) {
        Ok(c) => c,
        Err(e) => return Ok(rejected(peek.receipt_id, e.to_string())),
    };
    let grant: Option<GrantClaims> = match app.store.offline_grant(&claims.grant_id).await? {
        Some(json) => serde_json::from_str(&json).ok(),
        None => None,
    };
    let Some(grant) = grant.filter(|g| g.device_id == device.id) else {
        return Ok(rejected(claims.receipt_id, "unknown grant"));
    };
    let flags: Vec<String> = receipt::audit_receipt(&claims, &grant, device.revoked_at)
        .iter()
        .map(|f| f.code().to_owned())
        .collect();
    let stored = app
        .store
        .insert_receipt(&ReceiptRow {
            id: claims.receipt_id.clone(),
            device_id: device.id.clone(),
            grant_id: claims.grant_id.clone(),
            login_at: claims.login_at,
            sequence: i64::from(claims.sequence),
            flags: flags.clone(),
            uploaded_at: now,
        })
        .await?;
    if !stored {
        return Ok(rejected(claims.receipt_id, "duplicate"));
    }
    app.audit(
        if flags.is_empty() {
            "offline.login"
        } else {
            "offline.login_flagged"
        },
        &device.user_id,
        &device.id,
        serde_json::json!({
            "receipt_id": claims.receipt_id,
            "grant_id": claims.grant_id,
            "user": claims.user,
            "login_at": claims.login_at,
            "sequence": claims.sequence,
            "service": claims.service,
            "tty": claims.tty,
            "amr": key_storage(&device.key_storage).map(|k| k.amr()),
            "flags": flags,
        }),
    )
    .await;
    Ok(ReceiptResult {
        receipt_id: claims.receipt_id,
        status: if flags.is_empty() {
            "accepted"
        } else {
            "flagged"
        }
        .into(),
        reasons: flags,
    })
}
