//! `/account`: the user's own authenticators. The page signs in through
//! the same login interaction as any client (client id
//! [`super::session::CLIENT`], no code issued). Every change needs a CSRF
//! token derived from the session cookie and a fresh sign-in at the level
//! of the strongest factors the user holds (`account_guard.rs`). The last
//! factor can never be removed. Passkeys are `account_passkeys.rs`, TOTP
//! and recovery codes `account_totp.rs`, devices `account_devices.rs`.

use super::error::PageError;
use super::respond::{see_other, with_script};
use super::session::{csrf_of, current_session};
use super::{cookies, pages};
use crate::state::App;
use crate::store::{PasskeyRow, SessionRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

/// One passkey as the account page lists it.
#[derive(serde::Serialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: String,
    pub last_used: String,
    pub suspicious: bool,
}

#[derive(serde::Serialize)]
pub struct AccountPage<'a> {
    pub login: &'a str,
    pub csrf: &'a str,
    pub passkeys: Vec<PasskeyView>,
    pub totp: bool,
    pub recovery_left: i64,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl pages::Page for AccountPage<'_> {
    const TEMPLATE: &'static str = "account.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| AccountPage {
                login: "alice",
                csrf: "csrf-sample",
                passkeys: if f {
                    vec![PasskeyView {
                        id: "credential-sample".into(),
                        name: "Laptop".into(),
                        kind: "synced",
                        created: "2026-01-01 09:00 UTC".into(),
                        last_used: "never".into(),
                        suspicious: true,
                    }]
                } else {
                    vec![]
                },
                totp: f,
                recovery_left: 10,
                notice: pages::opt(f, "Passkey renamed."),
                error: pages::opt(f, "You cannot remove your last way to sign in."),
            })
            .into()
    }
}

pub(super) fn date(t: i64) -> String {
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

pub(super) fn view(p: &PasskeyRow) -> PasskeyView {
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

/// Starts the account sign-in (or re-authentication when `session` is
/// given: its factors are carried but none is fresh enough).
pub(super) async fn sign_in(app: &App, session: Option<SessionRow>) -> Result<Response, PageError> {
    let (ix, browser) = super::login_step::flow(app).start_account(session).await?;
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
