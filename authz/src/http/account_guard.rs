//! What a change on `/account` needs: the session, the CSRF token bound
//! to its cookie, and a sign-in within `[authenticators] reauth_window` at
//! the level of the strongest factor the user holds
//! (`login::to_change_factors`); a store error asks for the strongest
//! level (fails closed).

use super::error::PageError;
use super::session::{csrf_of, current_session};
use crate::login::Requirement;
use crate::state::App;
use crate::store::{SessionRow, UserRow};
use axum::extract::Request;
use axum::http::HeaderMap;
use serde_json::json;

/// What a change to `user_id`'s factors needs now
/// (`LoginFlow::change_requirement`; fails closed).
pub(super) async fn change_requirement(app: &App, user_id: &str) -> Requirement {
    super::login_step::flow(app)
        .change_requirement(user_id)
        .await
}

/// Whether session `s` proved, recently enough, what a change to its
/// user's factors needs.
pub(super) async fn fresh_for_changes(app: &App, s: &SessionRow) -> bool {
    change_requirement(app, &s.user_id)
        .await
        .met_by(&s.factors, app.now())
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
