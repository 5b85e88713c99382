//! Device-request authentication: `Authorization: Tollgate-SM2 device=…,
//! ts=…, nonce=…, sig=…` over method, path, device, time, nonce and
//! SM3(body). Checks, in order: header shape, device known, signature and
//! clock window (±300 s), revocation, then the `(device, nonce)` pair once
//! per window — the nonce is recorded only for a verified signature, so a
//! forger cannot burn a device's nonces.

use super::{AgentError, device_key};
use crate::store::{DeviceRow, Store};
use tollgate_agent::signed::{DeviceAuth, REQUEST_SKEW};

/// Whether a revoked device may still authenticate. Only receipt upload
/// allows it, so that offline logins made after a revocation reach the
/// audit log (flagged) instead of vanishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Refuse,
    Allow,
}

/// The authenticated device, or why not (401 bad credentials, 403 revoked).
pub async fn authenticate(
    store: &Store,
    header: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
    now: i64,
    revoked: Revoked,
) -> Result<DeviceRow, AgentError> {
    let auth = DeviceAuth::parse_header(header.unwrap_or_default())
        .map_err(|e| AgentError::new(401, "invalid_request", e.to_string()))?;
    let device = store
        .device(&auth.device_id)
        .await?
        .ok_or_else(|| AgentError::new(401, "unknown_device", "unknown device"))?;
    let key = device_key(&device)?;
    auth.verify(method, path, body, &key, &device.dist_id, now)
        .map_err(|e| AgentError::new(401, "invalid_signature", e.to_string()))?;
    if device.revoked_at.is_some() && revoked == Revoked::Refuse {
        return Err(AgentError::new(
            403,
            "device_revoked",
            "this device was revoked",
        ));
    }
    if auth.nonce.is_empty() || auth.nonce.len() > 128 {
        return Err(AgentError::new(401, "invalid_request", "nonce length"));
    }
    if !store
        .use_device_nonce(&device.id, &auth.nonce, now + 2 * REQUEST_SKEW, now)
        .await?
    {
        return Err(AgentError::new(
            401,
            "replayed_request",
            "nonce already used",
        ));
    }
    Ok(device)
}
