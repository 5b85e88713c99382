//! `/account/passkeys*`: register (JSON for the page's script), rename
//! and remove passkeys, each behind the account guard.

use super::account::render;
use super::account_guard::{factor_count, field, form_change, guard};
use super::ceremony::{begin, internal};
use super::error::PageError;
use super::respond::read_json;
use super::session::CLIENT;
use crate::login::passkey;
use crate::state::App;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn passkey_options(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(body) = read_json(&app, body).await else {
        app.audit(
            "passkey.malformed",
            "anonymous",
            CLIENT,
            json!("registration options"),
        )
        .await;
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "malformed"})),
        )
            .into_response();
    };
    let csrf = body.get("csrf").and_then(|v| v.as_str()).unwrap_or("");
    let (s, u) = match guard(&app, &parts.headers, csrf, "passkey.register").await {
        Ok(x) => x,
        Err(r) => return json_from(r),
    };
    let existing = match app.store.passkeys(&u.id).await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    let started = passkey::relying_party(&app.config.issuer, &app.config.authenticators.rp_name)
        .and_then(|rp| {
            passkey::start_registration(
                &rp,
                &u.id,
                &u.login,
                &u.display_name,
                &existing,
                app.attestation.enabled(),
            )
        });
    match started {
        Ok((options, state)) => begin(&app, &s.id, "register", &options, &state).await,
        Err(e) => internal(e),
    }
}

/// A guard's refusal as JSON the script understands.
pub(super) fn json_from(e: PageError) -> Response {
    match e {
        PageError::SignIn { to } => axum::Json(json!({"redirect": to})).into_response(),
        PageError::Internal(cause) => internal(cause),
        other => (
            other.status(),
            axum::Json(json!({"error": "refused", "message": "Reload the page and try again."})),
        )
            .into_response(),
    }
}

/// `POST /account/passkeys` (JSON `{csrf, ceremony, response, name}`).
pub async fn passkey_register(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(body) = read_json(&app, body).await else {
        app.audit(
            "passkey.malformed",
            "anonymous",
            CLIENT,
            json!("registration"),
        )
        .await;
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "malformed"})),
        )
            .into_response();
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (s, u) = match guard(&app, &parts.headers, &text("csrf"), "passkey.register").await {
        Ok(x) => x,
        Err(r) => return json_from(r),
    };
    let now = app.now();
    let state = match app
        .store
        .take_ceremony(&text("ceremony"), &s.id, "register", now)
        .await
    {
        Ok(Some(st)) => st,
        Ok(None) => {
            app.audit(
                "passkey.stale_challenge",
                &u.id,
                CLIENT,
                json!({"sid": s.id}),
            )
            .await;
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "stale_challenge"})),
            )
                .into_response();
        }
        Err(e) => return internal(e),
    };
    let response = body
        .get("response")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let finished = passkey::relying_party(&app.config.issuer, &app.config.authenticators.rp_name)
        .and_then(|rp| {
            passkey::finish_registration(
                &rp,
                &state,
                &response,
                &u.id,
                &text("name"),
                &app.attestation,
                now,
            )
        });
    let row = match finished {
        Ok(r) => r,
        Err(e) => {
            app.audit(
                "passkey.register_failed",
                &u.id,
                CLIENT,
                json!({"reason": e.code()}),
            )
            .await;
            let status = if e.code() == "internal" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            return (
                status,
                axum::Json(
                    json!({"error": e.code(), "message": "The passkey could not be registered."}),
                ),
            )
                .into_response();
        }
    };
    if let Err(e) = app.store.insert_passkey(&row).await {
        app.audit(
            "passkey.register_failed",
            &u.id,
            CLIENT,
            json!({"reason": e.to_string()}),
        )
        .await;
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({"error": "conflict"})),
        )
            .into_response();
    }
    app.audit(
        "passkey.registered",
        &u.id,
        CLIENT,
        json!({"credential": row.cred_id, "aaguid": row.aaguid, "backup_eligible": row.backup_eligible, "attested": row.attested}),
    )
    .await;
    let kind = if row.backup_eligible {
        "fido2-platform"
    } else {
        "fido2-roaming"
    };
    crate::events::credential_changed(&app, &u.id, kind, "create", "user").await;
    axum::Json(json!({"redirect": "/account?done=passkey"})).into_response()
}

/// `POST /account/passkeys/{id}/rename` (form `csrf`, `name`).
pub async fn passkey_rename(
    State(app): State<App>,
    Path(cred): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    let (headers, f, s, u) = form_change(&app, req, "passkey.rename").await?;
    let name = passkey::clean_name(field(&f, "name"));
    match app.store.rename_passkey(&u.id, &cred, &name).await? {
        true => {
            app.audit(
                "passkey.renamed",
                &u.id,
                CLIENT,
                json!({"credential": cred, "name": name}),
            )
            .await;
            render(&app, &headers, &s, Some("Passkey renamed."), None).await
        }
        false => {
            render(
                &app,
                &headers,
                &s,
                None,
                Some("That passkey does not exist."),
            )
            .await
        }
    }
}

/// `POST /account/passkeys/{id}/remove` (form `csrf`).
pub async fn passkey_remove(
    State(app): State<App>,
    Path(cred): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    let (headers, _, s, u) = form_change(&app, req, "passkey.remove").await?;
    if factor_count(&app, &u).await <= 1 {
        return render(
            &app,
            &headers,
            &s,
            None,
            Some("You cannot remove your last way to sign in."),
        )
        .await;
    }
    match app.store.delete_passkey(&u.id, &cred).await? {
        true => {
            app.audit(
                "passkey.removed",
                &u.id,
                CLIENT,
                json!({"credential": cred}),
            )
            .await;
            crate::events::credential_changed(&app, &u.id, "fido2-roaming", "delete", "user").await;
            render(&app, &headers, &s, Some("Passkey removed."), None).await
        }
        false => {
            render(
                &app,
                &headers,
                &s,
                None,
                Some("That passkey does not exist."),
            )
            .await
        }
    }
}
