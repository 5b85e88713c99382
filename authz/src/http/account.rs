//! `/account`: the user's own authenticators. List, rename and remove
//! passkeys, enroll or remove TOTP, regenerate recovery codes.
//!
//! The page signs in through the same login interaction as any client
//! (client id [`CLIENT`], no code issued). Every change needs a CSRF token
//! derived from the session cookie and a sign-in within `[authenticators]
//! reauth_window` seconds at the level of the strongest factors the user
//! holds (`login::to_change_factors`: a passkey user re-authenticates with
//! the passkey, not the password); otherwise the user is sent to sign in
//! again first. The last factor can never be removed.

use super::factors::{begin, internal, read_json, with_script};
use super::{PageError, authorize::current_session, authorize::see_other, cookies, pages};
use crate::login::interaction::FactorKind;
use crate::login::{AuthRequest, Interaction, Level, Next, Requirement, passkey};
use crate::state::App;
use crate::store::{PasskeyRow, SessionRow, UserRow};
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The pseudo-client id of the account pages' own sign-in.
pub const CLIENT: &str = "tollgate-account";

/// The factor kinds (beyond the password) a user can use right now.
pub(super) async fn enrolled_factors(app: &App, user_id: &str) -> Vec<FactorKind> {
    let mut kinds = vec![];
    if matches!(app.store.totp(user_id).await, Ok(Some(t)) if t.active) {
        kinds.push(FactorKind::Totp);
    }
    if matches!(app.store.passkeys(user_id).await, Ok(p) if p.iter().any(|p| !p.suspicious)) {
        kinds.push(FactorKind::Passkey);
    }
    kinds
}

/// The factors `user_id` holds, each at its strongest: what a change to
/// them must be re-authenticated with (`login::to_change_factors`).
pub(super) async fn held_methods(
    app: &App,
    user_id: &str,
) -> Result<Vec<crate::login::Method>, crate::store::StoreError> {
    use crate::login::Method;
    let mut held = vec![];
    if app
        .store
        .user(user_id)
        .await?
        .is_some_and(|u| u.password_hash.is_some())
    {
        held.push(Method::Password);
    }
    if app.store.totp(user_id).await?.is_some_and(|t| t.active)
        || !app.store.otp_devices(user_id).await?.is_empty()
    {
        held.push(Method::Totp);
    }
    for p in app.store.passkeys(user_id).await? {
        if !p.suspicious {
            held.push(Method::Passkey {
                user_verified: true,
                backup_eligible: p.backup_eligible,
                attested: p.attested,
            });
        }
    }
    for d in app.store.devices(Some(user_id)).await? {
        if d.revoked_at.is_none() {
            held.push(Method::DeviceKey {
                hardware: d.key_storage == "tpm",
            });
        }
    }
    Ok(held)
}

/// What a change to `user_id`'s factors needs now. A store error asks for
/// the strongest level: it fails closed.
pub(super) async fn change_requirement(app: &App, user_id: &str) -> Requirement {
    let window = app.config.authenticators.reauth_window;
    match held_methods(app, user_id).await {
        Ok(held) => crate::login::to_change_factors(&held, window),
        Err(e) => {
            tracing::error!(error = %e, "factor lookup failed");
            Requirement {
                level: Level::Phrh,
                max_age: Some(window),
            }
        }
    }
}

/// Whether session `s` proved, recently enough, what a change to its
/// user's factors needs.
pub(super) async fn fresh_for_changes(app: &App, s: &SessionRow) -> bool {
    change_requirement(app, &s.user_id)
        .await
        .met_by(&s.factors, app.now())
}

/// The factor page when the interaction knows the user and needs a factor.
pub(super) async fn factor_step(
    app: &App,
    ix: &Interaction,
) -> Result<Option<Response>, PageError> {
    let Some(uid) = ix.user_id.as_deref() else {
        return Ok(None);
    };
    let Next::Factor(kinds) = ix.next(&super::login::enrolled(app, ix).await, app.now()) else {
        return Ok(None);
    };
    let Some(user) = app.store.user(uid).await? else {
        return Ok(None);
    };
    Ok(Some(super::factors::factor_page(
        ix,
        &user.login,
        &kinds,
        StatusCode::OK,
        None,
    )))
}

/// One passkey as the account page lists it.
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: String,
    pub last_used: String,
    pub suspicious: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub login: &'a str,
    pub csrf: &'a str,
    pub passkeys: Vec<PasskeyView>,
    pub totp: bool,
    pub recovery_left: i64,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn view(p: &PasskeyRow) -> PasskeyView {
    PasskeyView {
        id: p.cred_id.clone(),
        name: p.name.clone(),
        kind: if p.backup_eligible {
            "synced"
        } else if p.attested {
            "device-bound, attested"
        } else {
            "device-bound"
        },
        created: date(p.created_at),
        last_used: p.last_used_at.map(date).unwrap_or_else(|| "never".into()),
        suspicious: p.suspicious,
    }
}

/// The CSRF token of the account forms: bound to the session cookie's
/// secret, so another site can neither read nor compute it.
pub(super) fn csrf_of(app: &App, headers: &HeaderMap) -> Option<String> {
    let token = cookies::Jar::of(app).get(headers, cookies::SESSION)?;
    Some(crate::store::hex(&crate::secret::sha256(
        format!("tollgate-account-csrf:{token}").as_bytes(),
    )))
}

/// Starts the account sign-in (or re-authentication when `session` is
/// given: its factors are carried but none is fresh enough).
async fn sign_in(app: &App, session: Option<SessionRow>) -> Result<Response, PageError> {
    let now = app.now();
    let browser = crate::secret::random_token(32);
    let ix = Interaction {
        id: crate::secret::random_id(16),
        csrf: crate::secret::random_id(24),
        browser: crate::oauth::client::hash_secret(browser.expose()),
        request: AuthRequest {
            client_id: CLIENT.into(),
            redirect_uri: "/account".into(),
            scope: vec![],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt_login: false,
            prompt_none: false,
            max_age: None,
            acr_values: vec![],
            login_hint: None,
        },
        requirement: match &session {
            Some(s) => change_requirement(app, &s.user_id).await,
            None => Requirement {
                level: Level::Aal1,
                max_age: None,
            },
        },
        user_id: session.as_ref().map(|s| s.user_id.clone()),
        login: None,
        session_id: session.as_ref().map(|s| s.id.clone()),
        proven: session.map(|s| s.factors).unwrap_or_default(),
        expires_at: now + app.config.login.interaction_ttl,
        risk: None,
    };
    super::login::save(app, &ix).await?;
    let mut resp = see_other(&format!("/login/{}", ix.id));
    let cookie = cookies::Jar::of(app).set(
        cookies::LOGIN,
        browser.expose(),
        app.config.login.interaction_ttl,
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /account/reauth`: sign in again before a change.
pub async fn reauth(State(app): State<App>, headers: HeaderMap) -> Result<Response, PageError> {
    let session = current_session(&app, &headers).await?;
    sign_in(&app, session).await
}

pub(super) async fn render(
    app: &App,
    headers: &HeaderMap,
    s: &SessionRow,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let user = app
        .store
        .user(&s.user_id)
        .await?
        .ok_or(PageError::SignIn { to: "/account" })?;
    let passkeys = app.store.passkeys(&s.user_id).await?;
    let totp = app.store.totp(&s.user_id).await?;
    let left = app.store.recovery_codes_left(&s.user_id).await?;
    let csrf = csrf_of(app, headers).unwrap_or_default();
    Ok(with_script(pages::render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &AccountPage {
            login: &user.login,
            csrf: &csrf,
            passkeys: passkeys.iter().map(view).collect(),
            totp: totp.is_some_and(|t| t.active),
            recovery_left: left,
            notice,
            error,
        },
    )))
}

/// `GET /account`
pub async fn show(State(app): State<App>, headers: HeaderMap) -> Result<Response, PageError> {
    match current_session(&app, &headers).await? {
        Some(s) => render(&app, &headers, &s, None, None).await,
        None => sign_in(&app, None).await,
    }
}

/// Checks session, CSRF and freshness for a change. `Err` is the response.
pub(super) async fn guard(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
    change: &str,
) -> Result<(SessionRow, UserRow), PageError> {
    let Some(s) = current_session(app, headers).await? else {
        return Err(PageError::SignIn { to: "/account" });
    };
    let want = csrf_of(app, headers).unwrap_or_default();
    if want.is_empty() || !crate::secret::ct_eq(csrf.as_bytes(), want.as_bytes()) {
        app.audit(
            "account.csrf_mismatch",
            &s.user_id,
            change,
            json!({"sid": s.id}),
        )
        .await;
        return Err(PageError::Forbidden {
            title: "The form expired",
            message: "Reload the page and try again.",
        });
    }
    if !fresh_for_changes(app, &s).await {
        return Err(PageError::SignIn {
            to: "/account/reauth",
        });
    }
    match app.store.user(&s.user_id).await? {
        Some(u) => Ok((s, u)),
        None => Err(PageError::SignIn { to: "/account" }),
    }
}

pub(super) async fn form(app: &App, req: Request) -> Result<(HeaderMap, Form), PageError> {
    Ok(super::token::read_form(app, req).await?)
}

pub(super) fn field<'a>(f: &'a std::collections::HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("")
}

/// How many factors the user has (password, TOTP, passkeys).
pub(super) async fn factor_count(app: &App, u: &UserRow) -> usize {
    let pk = app
        .store
        .passkeys(&u.id)
        .await
        .map(|p| p.len())
        .unwrap_or(usize::MAX / 2);
    let totp = matches!(app.store.totp(&u.id).await, Ok(Some(t)) if t.active) as usize;
    u.password_hash.is_some() as usize + pk + totp
}

/// `POST /account/passkeys/options` (JSON `{csrf}`): starts registration.
/// A form POST that changes the account: its headers, fields, session and
/// user, once the CSRF and freshness checks passed.
pub(super) async fn form_change(
    app: &App,
    req: Request,
    change: &str,
) -> Result<(HeaderMap, Form, SessionRow, UserRow), PageError> {
    let (headers, f) = form(app, req).await?;
    let (s, u) = guard(app, &headers, field(&f, "csrf"), change).await?;
    Ok((headers, f, s, u))
}

pub(super) type Form = std::collections::HashMap<String, String>;

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
fn json_from(e: PageError) -> Response {
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
