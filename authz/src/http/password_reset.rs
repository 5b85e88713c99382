//! `GET/POST /password/reset/{token}`: the page behind an admin-issued
//! one-time link (`tollgate users reset`). The path's 256-bit secret is the
//! only credential and also serves as the form's CSRF token: a cross-site
//! form cannot know it, and one who knows it can reset directly. Showing
//! the form uses nothing up; setting the password uses the link, ends the
//! user's sessions and revokes its tokens in one transaction
//! (`Store::use_password_reset`).

use super::pages;
#[allow(unused_imports)] // used by the templates' `|t` filters
use crate::i18n::filters;
use crate::secret::Secret;
use crate::state::App;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage<'a> {
    token: &'a str,
    login: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

fn gone() -> Response {
    pages::message(
        StatusCode::GONE,
        "This link no longer works",
        "It was already used, it has expired, or a newer link replaced it. Ask your administrator for a new one.",
    )
}

fn form_page(
    app: &App,
    token: &str,
    login: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    pages::render(
        status,
        &ResetPage {
            token,
            login,
            min_length: app.config.passwords.min_length,
            error,
        },
    )
}

/// Only well-formed tokens reach the database (base64url of 32 bytes).
fn token_hash(token: &str) -> Option<String> {
    (token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| crate::oauth::client::hash_secret(token))
}

pub async fn show(State(app): State<App>, Path(token): Path<String>) -> Response {
    let Some(hash) = token_hash(&token) else {
        return gone();
    };
    match app.store.password_reset_user(&hash, app.now()).await {
        Ok(Some(u)) => form_page(&app, &token, &u.login, StatusCode::OK, None),
        Ok(None) => gone(),
        Err(e) => pages::failed(&e),
    }
}

pub async fn submit(
    State(app): State<App>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let ip = super::client_ip(&app, peer, req.headers());
    if super::login::too_fast(&app, &format!("reset:{token}"), &ip) {
        return super::login::slow_down();
    }
    let Some(hash) = token_hash(&token) else {
        return gone();
    };
    let user = match app.store.password_reset_user(&hash, app.now()).await {
        Ok(Some(u)) => u,
        Ok(None) => return gone(),
        Err(e) => return pages::failed(&e),
    };
    let form = match super::token::read_form(&app, req).await {
        Ok((_, f)) => f,
        Err(e) => return pages::message(e.status, "Invalid request", &e.description),
    };
    let pw = Secret::new(form.get("password").cloned().unwrap_or_default());
    let again = |msg: &str| {
        form_page(
            &app,
            &token,
            &user.login,
            StatusCode::BAD_REQUEST,
            Some(msg),
        )
    };
    if !crate::secret::ct_eq(
        pw.expose().as_bytes(),
        form.get("confirm").map_or(&b""[..], |c| c.as_bytes()),
    ) {
        return again("The two passwords differ.");
    }
    if let Err(e) = app.passwords.check(pw.expose(), &user.login) {
        return again(&e.to_string());
    }
    let new_hash = match crate::login::password::hash_bounded(pw).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return pages::failed(&e),
        Err(crate::login::password::Busy) => {
            return super::login::busy(pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Busy",
                "The server is busy; try again in a moment.",
            ));
        }
    };
    match app
        .store
        .use_password_reset(&hash, &new_hash, app.now())
        .await
    {
        Ok(Some(u)) => {
            app.audit(
                "user.password_reset",
                &u.id,
                &u.id,
                serde_json::json!({"login": u.login, "ip": ip}),
            )
            .await;
            pages::message(
                StatusCode::OK,
                "Password set",
                "Your new password is set and your other sessions have ended. Sign in to your applications with it.",
            )
        }
        // Used by a concurrent submit between our read and our write.
        Ok(None) => gone(),
        Err(e) => pages::failed(&e),
    }
}
