//! `GET/POST /password/reset/{token}`: the page behind an admin-issued
//! one-time link (`tollgate users reset`). The path's 256-bit secret is the
//! only credential and also serves as the form's CSRF token: a cross-site
//! form cannot know it, and one who knows it can reset directly. Showing
//! the form uses nothing up; setting the password uses the link, ends the
//! user's sessions and revokes its tokens in one transaction
//! (`Store::use_password_reset`).

use super::error::PageError;
use super::pages;
use crate::secret::Secret;
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::net::SocketAddr;

#[derive(serde::Serialize)]
pub(super) struct ResetPage<'a> {
    token: &'a str,
    login: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

impl pages::Page for ResetPage<'_> {
    const TEMPLATE: &'static str = "password_reset.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| ResetPage {
                token: "token-sample",
                login: "alice",
                min_length: 15,
                error: pages::opt(f, "The two passwords are not the same."),
            })
            .into()
    }
}

const GONE: PageError = PageError::Gone {
    title: "This link no longer works",
    message: "It was already used, it has expired, or a newer link replaced it. Ask your administrator for a new one.",
};

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

pub async fn show(
    State(app): State<App>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let hash = token_hash(&token).ok_or(GONE)?;
    let u = app
        .store
        .password_reset_user(&hash, app.now())
        .await?
        .ok_or(GONE)?;
    Ok(form_page(&app, &token, &u.login, StatusCode::OK, None))
}

pub async fn submit(
    State(app): State<App>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let ip = super::observe::client_ip(&app, peer, req.headers());
    if super::interaction::too_fast(&app, &format!("reset:{token}"), &ip) {
        return Err(super::interaction::SLOW_DOWN);
    }
    let hash = token_hash(&token).ok_or(GONE)?;
    let user = app
        .store
        .password_reset_user(&hash, app.now())
        .await?
        .ok_or(GONE)?;
    let (_, form) = super::token::read_form(&app, req).await?;
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
        return Ok(again("The two passwords differ."));
    }
    if let Err(e) = app.passwords.check(pw.expose(), &user.login) {
        return Ok(again(&e.to_string()));
    }
    let new_hash = match crate::login::password::hash_bounded(pw).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(PageError::internal(e)),
        Err(crate::login::password::Busy) => {
            return Err(PageError::Busy {
                retry_after: crate::login::password::RETRY_AFTER as u32,
            });
        }
    };
    match app
        .store
        .use_password_reset(&hash, &new_hash, app.now())
        .await?
    {
        Some(u) => {
            app.audit(
                "user.password_reset",
                &u.id,
                &u.id,
                serde_json::json!({"login": u.login, "ip": ip}),
            )
            .await;
            Ok(pages::message(
                StatusCode::OK,
                "Password set",
                "Your new password is set and your other sessions have ended. Sign in to your applications with it.",
            ))
        }
        // Used by a concurrent submit between our read and our write.
        None => Err(GONE),
    }
}
