//! WebAuthn ceremony state as the JSON endpoints keep it: stored single
//! use, owned by one interaction or session, expiring (`store/factors.rs`).

use super::respond::json_error;
use crate::state::App;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Stores a ceremony's state and answers `{ceremony, options}`.
pub(super) async fn begin(
    app: &App,
    owner: &str,
    kind: &str,
    options: &str,
    state: &str,
) -> Response {
    let ceremony = crate::secret::random_id(16);
    let ttl = app.config.authenticators.challenge_ttl;
    if let Err(e) = app
        .store
        .put_ceremony(&ceremony, owner, kind, state, app.now() + ttl)
        .await
    {
        return internal(e);
    }
    let options: serde_json::Value = serde_json::from_str(options).unwrap_or_default();
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"ceremony": ceremony, "options": options})),
    )
        .into_response()
}

pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "passkey ceremony failed");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong.",
    )
}
