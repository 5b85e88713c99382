//! `/login/{id}/passkey/options` and `/login/{id}/passkey`: the passkey
//! step of a sign-in, JSON for the page's script. Every refusal is a 4xx
//! with an audit record: malformed JSON, a stale or foreign challenge, a
//! CSRF mismatch, a bad signature, a counter that went backwards (which
//! also suspends the credential). The assertion is checked by
//! `LoginFlow::submit` (`Proof::Passkey`); the ceremony state and the JSON
//! stay here.

use super::ceremony::{begin, internal};
use super::respond::{as_json, json_error, read_json, str_field};
use crate::login::Interaction;
use crate::login::factor::PasskeyProof;
use crate::login::flow::{FlowError, Proof, Refusal, Step};
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
    let flow = super::login_step::flow(&app);
    let mut origin = super::login_step::origin(&app, &headers, &ip);
    origin.signals.tz_offset_min =
        super::signals::tz_field(body.get("tz").and_then(|v| v.as_str()));
    let why = match flow
        .submit(
            ix,
            Proof::Passkey(PasskeyProof { state, response }),
            &origin,
        )
        .await
    {
        Ok(Step::Refused { why, .. }) => why,
        // A fault is JSON for the script too.
        Err(e @ (FlowError::Store(_) | FlowError::Internal(_))) => return internal(e),
        step => return as_json(super::login_step::render(&app, step).into_response()),
    };
    match why {
        Refusal::Malformed => json_error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The passkey response is not valid.",
        ),
        Refusal::Passkey(code) => json_error(
            StatusCode::UNAUTHORIZED,
            code,
            "That passkey could not be verified.",
        ),
        _ => json_error(
            StatusCode::UNAUTHORIZED,
            "refused",
            "That passkey could not be verified.",
        ),
    }
}
