//! `/v1/agent/*` (the endpoint agent's protocol, JSON) and `/account/devices*`
//! (the signed-in user's enrollment codes and devices). Thin adapters over
//! `crate::agent`.

use super::respond::{no_store, ok};
use crate::agent::auth::{Revoked, authenticate};
use crate::agent::{AgentError, approval, enroll, offline};
use crate::state::App;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        no_store(status, body)
    }
}

/// Headers, path and the size-limited raw body (device signatures cover
/// the exact bytes, so the body is parsed only after they are checked).
async fn read(app: &App, req: Request) -> Result<(HeaderMap, String, Bytes), AgentError> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, app.config.http.max_body_bytes)
        .await
        .map_err(|_| AgentError::new(413, "invalid_request", "request body too large"))?;
    Ok((parts.headers, parts.uri.path().to_string(), bytes))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AgentError> {
    serde_json::from_slice(body)
        .map_err(|e| AgentError::bad_request("invalid_request", format!("body: {e}")))
}

fn authorization(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

pub async fn enroll_begin(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (_, _, body) = read(&app, req).await?;
    Ok(ok(enroll::begin(&app, &parse(&body)?, app.now()).await?))
}

pub async fn enroll_attest(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (_, _, body) = read(&app, req).await?;
    Ok(ok(enroll::attest(&app, &parse(&body)?, app.now()).await?))
}

pub async fn enroll_finish(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (_, _, body) = read(&app, req).await?;
    let now = app.now();
    let key = offline::grant_key(&app.store, &app.master, now).await?;
    Ok(ok(enroll::finish(&app, &parse(&body)?, &key, now).await?))
}

/// A device-signed request: the authenticated device, the raw body, `now`.
async fn device_request(
    app: &App,
    req: Request,
    revoked: Revoked,
) -> Result<(crate::store::DeviceRow, Bytes, i64), AgentError> {
    let (h, path, body) = read(app, req).await?;
    let now = app.now();
    let auth = authorization(&h);
    let device = authenticate(&app.store, auth, "POST", &path, &body, now, revoked).await?;
    Ok((device, body, now))
}

pub async fn pending(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (device, _, now) = device_request(&app, req, Revoked::Refuse).await?;
    Ok(ok(approval::pending(&app, &device, now).await?))
}

pub async fn answer(
    State(app): State<App>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, AgentError> {
    let (_, _, body) = read(&app, req).await?;
    Ok(ok(
        approval::answer(&app, &id, &parse(&body)?, app.now()).await?
    ))
}

pub async fn grant(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (device, _, now) = device_request(&app, req, Revoked::Refuse).await?;
    let mut key = offline::grant_key(&app.store, &app.master, now).await?;
    let token = offline::issue_grant(&app, &device, &mut key, now).await?;
    Ok(ok(tollgate_agent::wire::GrantResponse { grant: token }))
}

/// Revoked devices may upload: their later offline logins get flagged.
pub async fn receipts(State(app): State<App>, req: Request) -> Result<Response, AgentError> {
    let (device, body, now) = device_request(&app, req, Revoked::Allow).await?;
    Ok(ok(offline::upload_receipts(
        &app,
        &device,
        &parse(&body)?,
        now,
    )
    .await?))
}

/// `GET /v1/agent/grant-key`: the public key agents pin to verify grants.
pub async fn grant_key(State(app): State<App>) -> Result<Response, AgentError> {
    let key = offline::grant_key(&app.store, &app.master, app.now()).await?;
    Ok(ok(serde_json::json!({
        "kid": key.kid,
        "public_key": key.public_b64,
        "dist_id": tollgate_agent::grant::GRANT_DIST_ID,
        "alg": "SM2-SM3"})))
}
