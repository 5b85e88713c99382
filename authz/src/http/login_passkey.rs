//! `/login/{id}/passkey/options` and `/login/{id}/passkey`: the passkey
//! step of a sign-in, JSON for the page's script. Every refusal is a 4xx
//! with an audit record: malformed JSON, a stale or foreign challenge, a
//! CSRF mismatch, a bad signature, a counter that went backwards (which
//! also suspends the credential).

use super::ceremony::{begin, internal};
use super::respond::{as_json, json_error, read_json, str_field};
use crate::login::Interaction;
use crate::login::passkey::{self, PasskeyError};
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;

pub(super) async fn audit_refusal(
    app: &App,
    kind: &str,
    actor: &str,
    ix: &Interaction,
    extra: serde_json::Value,
) {
    app.audit(
        kind,
        actor,
        &ix.request.client_id,
        json!({"interaction": ix.id, "detail": extra}),
    )
    .await;
}

/// The JSON body of a passkey call, once it parsed and carried this
/// interaction's CSRF token; otherwise the refusal, audited
/// (`passkey.malformed` with `malformed`, `login.csrf_mismatch` naming
/// `step`) and answered as JSON for the script.
async fn checked_body(
    app: &App,
    ix: &Interaction,
    body: axum::body::Body,
    malformed: serde_json::Value,
    step: &str,
) -> Result<serde_json::Value, Response> {
    let Some(body) = read_json(app, body).await else {
        audit_refusal(app, "passkey.malformed", "anonymous", ix, malformed).await;
        return Err(json_error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The request is not valid JSON.",
        ));
    };
    if !crate::secret::ct_eq(str_field(&body, "csrf").as_bytes(), ix.csrf.as_bytes()) {
        audit_refusal(app, "login.csrf_mismatch", "anonymous", ix, json!(step)).await;
        return Err(json_error(
            StatusCode::FORBIDDEN,
            "csrf",
            "The page expired. Reload it and try again.",
        ));
    }
    Ok(body)
}

/// `POST /login/{id}/passkey/options`: starts an authentication ceremony.
/// Username-first when the interaction knows the user (step-up), else
/// discoverable ("Sign in with a passkey").
pub async fn passkey_options(
    State(app): State<App>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let ix = match super::interaction::load(&app, &id, &parts.headers).await {
        Ok(ix) => ix,
        Err(e) => return e.into_response(),
    };
    if let Err(resp) = checked_body(&app, &ix, body, json!("options body"), "passkey options").await
    {
        return resp;
    }
    let rows = match &ix.user_id {
        Some(uid) => match app.store.passkeys(uid).await {
            Ok(r) => Some(r),
            Err(e) => return internal(e),
        },
        None => None,
    };
    let started = passkey::relying_party(&app.config.issuer, &app.config.authenticators.rp_name)
        .and_then(|rp| passkey::start_authentication(&rp, rows.as_deref()));
    let (options, state) = match started {
        Ok(x) => x,
        Err(PasskeyError::UnknownCredential) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "no_passkey",
                "You have no passkey.",
            );
        }
        Err(e) => return internal(e),
    };
    begin(&app, &ix.id, "authenticate", &options, &state).await
}

/// `POST /login/{id}/passkey`: finishes the ceremony and proves the factor.
pub async fn passkey_finish(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let ix = match super::interaction::load(&app, &id, &headers).await {
        Ok(ix) => ix,
        Err(e) => return e.into_response(),
    };
    let ip = super::observe::client_ip(&app, peer, &headers);
    if super::interaction::too_fast(&app, &ix.id, &ip) {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "Too many attempts. Wait a minute, then try again.",
        );
    }
    let now = app.now();
    let body = match checked_body(&app, &ix, body, json!({"ip": ip}), "passkey").await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let state = match app
        .store
        .take_ceremony(str_field(&body, "ceremony"), &ix.id, "authenticate", now)
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => {
            audit_refusal(
                &app,
                "passkey.stale_challenge",
                "anonymous",
                &ix,
                json!({"ip": ip}),
            )
            .await;
            return json_error(
                StatusCode::BAD_REQUEST,
                "stale_challenge",
                "This passkey request expired. Try again.",
            );
        }
        Err(e) => return internal(e),
    };
    let response = body
        .get("response")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let outcome = authenticate(&app, &ix, &state, &response).await;
    let (auth, user) = match outcome {
        Ok(x) => x,
        Err((e, cred)) => {
            if e == PasskeyError::CounterRegression
                && let Err(err) = app.store.mark_passkey_suspicious(&cred).await
            {
                tracing::error!(error = %err, "cannot suspend passkey");
            }
            let actor = ix.user_id.clone().unwrap_or_else(|| "anonymous".into());
            audit_refusal(
                &app,
                "passkey.failure",
                &actor,
                &ix,
                json!({"reason": e.code(), "credential": cred, "ip": ip}),
            )
            .await;
            app.metrics.login("failure");
            return match e {
                PasskeyError::Malformed => json_error(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    "The passkey response is not valid.",
                ),
                PasskeyError::Internal(m) => internal(m),
                _ => json_error(
                    StatusCode::UNAUTHORIZED,
                    e.code(),
                    "That passkey could not be verified.",
                ),
            };
        }
    };
    if let Err(e) = app.store.touch_passkey(&auth.row, now).await {
        return internal(e);
    }
    let proof = crate::login::flow::Proof::Verified {
        method: auth.method,
        user: Some((user.id, user.login)),
    };
    let origin = super::login_step::origin(&app, &headers, &ip);
    let flow = super::login_step::flow(&app);
    let step = flow.submit(ix, proof, &origin).await;
    as_json(super::login_step::render(&app, step).into_response())
}

/// Looks the credential up, checks it belongs to the interaction's user
/// (if known) and to an enabled user, and runs the ceremony. Errors carry
/// the credential id for the audit record.
pub(super) async fn authenticate(
    app: &App,
    ix: &Interaction,
    state: &str,
    response: &str,
) -> Result<(passkey::Authenticated, crate::store::UserRow), (PasskeyError, String)> {
    let cred = passkey::response_cred_id(response).map_err(|e| (e, String::new()))?;
    let fail = |e: PasskeyError| (e, cred.clone());
    let row = app
        .store
        .passkey(&cred)
        .await
        .map_err(|e| fail(PasskeyError::Internal(e.to_string())))?
        .ok_or_else(|| fail(PasskeyError::UnknownCredential))?;
    if ix.user_id.as_ref().is_some_and(|u| *u != row.user_id) {
        return Err(fail(PasskeyError::UnknownCredential));
    }
    let user = match app.store.user(&row.user_id).await {
        Ok(Some(u)) if !u.disabled => u,
        _ => return Err(fail(PasskeyError::UnknownCredential)),
    };
    let rp = passkey::relying_party(&app.config.issuer, &app.config.authenticators.rp_name)
        .map_err(fail)?;
    let auth = passkey::finish_authentication(&rp, state, response, &row).map_err(fail)?;
    Ok((auth, user))
}
