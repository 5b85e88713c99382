//! Login-time factors inside an interaction: the passkey ceremony
//! (`/login/{id}/passkey/options`, `/login/{id}/passkey`, JSON for the
//! page's script) and TOTP or recovery-code entry (`/login/{id}/totp`, a
//! plain form that works without JavaScript).
//!
//! Every refusal is a 4xx with an audit record: malformed JSON, a stale or
//! foreign challenge, a CSRF mismatch, a bad signature, a counter that went
//! backwards (which also suspends the credential).

use super::{PageError, login, pages};
use crate::agent::otp::AgentOtp;
use crate::login::interaction::FactorKind;
use crate::login::lockout::{Guard, Refused};
use crate::login::passkey::{self, PasskeyError};
use crate::login::totp;
use crate::login::{Interaction, Method, Next};
use crate::state::App;
use askama::Template;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;

/// The CSP of pages that load `/static/passkey.js` (which calls the JSON
/// endpoints with `fetch`): still no inline script.
pub(super) const SCRIPT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Adds [`SCRIPT_CSP`] to a page response.
pub(super) fn with_script(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPT_CSP),
    );
    resp
}

/// `/static/passkey.js`: the only script, shared by sign-in and account pages.
pub async fn passkey_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkey.js"),
    )
}

/// "Confirm it's you" / "This action needs a stronger sign-in": only the
/// factors that can still reach the required level.
#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub login: &'a str,
    pub step_up: bool,
    pub required: &'a str,
    pub password: bool,
    pub totp: bool,
    pub passkey: bool,
    pub error: Option<&'a str>,
}

/// Renders the factor page for `kinds`.
pub(super) fn factor_page(
    ix: &Interaction,
    login_name: &str,
    kinds: &[FactorKind],
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let page = FactorPage {
        id: &ix.id,
        csrf: &ix.csrf,
        client_name: login::client_name(ix),
        login: login_name,
        step_up: ix.session_id.is_some(),
        required: ix.requirement.level.acr(),
        password: kinds.contains(&FactorKind::Password),
        totp: kinds.contains(&FactorKind::Totp),
        passkey: kinds.contains(&FactorKind::Passkey),
        error,
    };
    let resp = pages::render(status, &page);
    if page.passkey {
        with_script(resp)
    } else {
        resp
    }
}

/// A JSON error for the script: `{"error": code, "message": text}`.
fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": code, "message": message})),
    )
        .into_response()
}

/// Turns the interaction's next-step response (a 303) into JSON the script
/// follows, keeping its cookies.
fn as_json(resp: Response) -> Response {
    if resp.status() != StatusCode::SEE_OTHER {
        return resp;
    }
    let loc = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_string();
    let mut out = axum::Json(json!({"redirect": loc})).into_response();
    for c in resp.headers().get_all(header::SET_COOKIE) {
        out.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// Reads a JSON body (at most `max_body_bytes`) without axum's rejection
/// texts, so malformed input is audited like every other refusal.
pub(super) async fn read_json(app: &App, body: Body) -> Option<serde_json::Value> {
    let bytes = to_bytes(body, app.config.http.max_body_bytes).await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v.is_object())
}

fn str_field<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

async fn audit_refusal(
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

/// `POST /login/{id}/passkey/options`: starts an authentication ceremony.
/// Username-first when the interaction knows the user (step-up), else
/// discoverable ("Sign in with a passkey").
pub async fn passkey_options(
    State(app): State<App>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let ix = match login::load(&app, &id, &parts.headers).await {
        Ok(ix) => ix,
        Err(e) => return e.into_response(),
    };
    let Some(body) = read_json(&app, body).await else {
        audit_refusal(
            &app,
            "passkey.malformed",
            "anonymous",
            &ix,
            json!("options body"),
        )
        .await;
        return json_error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The request is not valid JSON.",
        );
    };
    if !crate::secret::ct_eq(str_field(&body, "csrf").as_bytes(), ix.csrf.as_bytes()) {
        audit_refusal(
            &app,
            "login.csrf_mismatch",
            "anonymous",
            &ix,
            json!("passkey options"),
        )
        .await;
        return json_error(
            StatusCode::FORBIDDEN,
            "csrf",
            "The page expired. Reload it and try again.",
        );
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

/// `POST /login/{id}/passkey`: finishes the ceremony and proves the factor.
pub async fn passkey_finish(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let mut ix = match login::load(&app, &id, &headers).await {
        Ok(ix) => ix,
        Err(e) => return e.into_response(),
    };
    let ip = super::observe::client_ip(&app, peer, &headers);
    if login::too_fast(&app, &ix.id, &ip) {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "Too many attempts. Wait a minute, then try again.",
        );
    }
    let now = app.now();
    let Some(body) = read_json(&app, body).await else {
        audit_refusal(
            &app,
            "passkey.malformed",
            "anonymous",
            &ix,
            json!({"ip": ip}),
        )
        .await;
        return json_error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The request is not valid JSON.",
        );
    };
    if !crate::secret::ct_eq(str_field(&body, "csrf").as_bytes(), ix.csrf.as_bytes()) {
        audit_refusal(
            &app,
            "login.csrf_mismatch",
            "anonymous",
            &ix,
            json!("passkey"),
        )
        .await;
        return json_error(
            StatusCode::FORBIDDEN,
            "csrf",
            "The page expired. Reload it and try again.",
        );
    }
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
    ix.user_id = Some(user.id.clone());
    ix.login = Some(user.login.clone());
    ix.prove(auth.method, now);
    as_json(
        login::advance(&app, ix, &headers, &ip)
            .await
            .into_response(),
    )
}

/// Looks the credential up, checks it belongs to the interaction's user
/// (if known) and to an enabled user, and runs the ceremony. Errors carry
/// the credential id for the audit record.
async fn authenticate(
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

/// What a submitted code proved: `Ok(kind, device)` with the enrolled
/// agent device whose OTP it was, if any.
enum CodeCheck {
    Ok(&'static str, Option<String>),
    Wrong,
    Replayed,
}

/// Checks a TOTP code (each step once), an enrolled agent's OTP (each step
/// once per device, `agent::otp`) or, failing those, a recovery code
/// (single use). All count as a one-time password (`otp`): something you
/// have, never phishing-resistant.
async fn check_code(
    app: &App,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<CodeCheck, PageError> {
    let code = code.trim();
    if code.len() > 32 {
        return Ok(CodeCheck::Wrong);
    }
    if let Some(t) = app.store.totp(user_id).await?
        && t.active
    {
        let secret = open_secret(app, user_id, &t.secret_sealed)?;
        let p = totp::Params::from_config(&app.config.authenticators);
        if let Some(step) = totp::verify(p, &secret, code, now) {
            return Ok(if app.store.use_totp_step(user_id, step).await? {
                CodeCheck::Ok("totp", None)
            } else {
                CodeCheck::Replayed
            });
        }
    }
    match crate::agent::otp::check(app, user_id, code, now)
        .await
        .map_err(PageError::internal)?
    {
        AgentOtp::Accepted { device_id } => return Ok(CodeCheck::Ok("agent_otp", Some(device_id))),
        AgentOtp::Replayed => return Ok(CodeCheck::Replayed),
        AgentOtp::NoMatch => {}
    }
    if code.chars().any(|c| c.is_ascii_alphabetic()) {
        let used = app
            .store
            .use_recovery_code(user_id, &totp::recovery_hash(code), now)
            .await?;
        if used {
            return Ok(CodeCheck::Ok("recovery_code", None));
        }
    }
    Ok(CodeCheck::Wrong)
}

/// Opens a sealed TOTP secret (context `totp:<user_id>`).
pub(super) fn open_secret(
    app: &App,
    user_id: &str,
    sealed_b64: &str,
) -> Result<Vec<u8>, PageError> {
    use base64::Engine;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed_b64)
        .map_err(PageError::internal)?;
    app.master
        .open(&format!("totp:{user_id}"), &sealed)
        .map_err(PageError::internal)
}

/// `POST /login/{id}/totp`: a TOTP or recovery code for the identified user.
pub async fn totp_submit(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (mut ix, headers, form) = login::load_form(&app, &id, req, "totp").await?;
    let (Some(user_id), now) = (ix.user_id.clone(), app.now()) else {
        return Ok(login::see_login(&ix.id));
    };
    let user = match app.store.user(&user_id).await? {
        Some(u) if !u.disabled => u,
        _ => return Ok(login::see_login(&ix.id)),
    };
    let ip = super::observe::client_ip(&app, peer, &headers);
    if login::too_fast(&app, &ix.id, &ip) {
        return Err(login::SLOW_DOWN);
    }
    let kinds = match ix.next(&login::enrolled(&app, &ix).await, now) {
        Next::Factor(k) => k,
        _ => return Ok(login::see_login(&ix.id)),
    };
    let again = |status, msg: &str| factor_page(&ix, &user.login, &kinds, status, Some(msg));
    // A key of its own: a correct password clears `user:<login>`, and must
    // not reopen guessing of the second factor.
    let guard = Guard::new("totp", &user.login, &ip, app.lockout_policies());
    let reserved = match guard.reserve(&app.store, now).await {
        Ok(r) => r,
        Err(Refused::Locked) => {
            app.metrics.login("locked");
            app.audit("login.locked", &user_id, &ip, json!({"factor": "totp"}))
                .await;
            return Ok(again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts. Try again later.",
            ));
        }
        Err(Refused::Store(e)) => return Err(e.into()),
    };
    let code = form.get("code").map(String::as_str).unwrap_or("");
    let checked = match check_code(&app, &user_id, code, now).await {
        Ok(c) => c,
        Err(e) => {
            // Never checked: the attempt is given back.
            let _ = reserved.unchecked().await;
            return Err(e);
        }
    };
    match checked {
        CodeCheck::Ok(how, device) => {
            if let Err(e) = reserved.succeeded().await {
                tracing::error!(error = %e, "cannot clear the attempts counter");
            }
            app.audit(
                "login.factor",
                &user_id,
                &ip,
                json!({"factor": how, "device_id": device, "client": ix.request.client_id}),
            )
            .await;
            ix.prove(Method::Totp, now);
            login::advance(&app, ix, &headers, &ip).await
        }
        CodeCheck::Wrong | CodeCheck::Replayed => {
            reserved.failed();
            let replay = matches!(checked, CodeCheck::Replayed);
            app.metrics.login("failure");
            app.audit(
                "login.failure",
                &user_id,
                &ip,
                json!({"factor": "totp", "replay": replay, "client": ix.request.client_id}),
            )
            .await;
            Ok(again(
                StatusCode::UNAUTHORIZED,
                if replay {
                    "That code was already used. Wait for the next one."
                } else {
                    "That code is not correct."
                },
            ))
        }
    }
}
