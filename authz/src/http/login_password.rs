//! `POST /login/{id}`: the username and password step (the attempts guard
//! before the check, the check on the password factor's backend).

use super::error::PageError;
use super::interaction::{SLOW_DOWN, client_name, load_form, too_fast, user_agent};
use super::login_finish::advance;
use super::pages;
use super::respond::busy;
use crate::login::Method;
use crate::login::lockout::{Guard, Refused};
use crate::login::password_check::{self, Outcome};
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::net::SocketAddr;

pub async fn submit(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (mut ix, headers, form) = load_form(&app, &id, req, "password").await?;
    let username = form
        .get("username")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() || ix.login.is_none())
        .or_else(|| ix.login.clone())
        .unwrap_or_default();
    let pw = crate::secret::Secret::new(form.get("password").cloned().unwrap_or_default());
    let ip = super::observe::client_ip(&app, peer, &headers);
    if let Some(tz) = super::signals::tz_field(form.get("tz").map(String::as_str)) {
        ix.tz_offset_min = Some(tz);
    }
    if too_fast(&app, &ix.id, &ip) {
        return Err(SLOW_DOWN);
    }
    let now = app.now();
    // The same page as `show`, so it keeps the passkey script (CSP).
    let again = |status: StatusCode, msg: &str| {
        super::respond::with_script(pages::render(
            status,
            &pages::LoginPage {
                id: &ix.id,
                csrf: &ix.csrf,
                client_name: client_name(&ix),
                username: &username,
                error: Some(msg),
            },
        ))
    };
    if username.is_empty() || username.len() > 256 {
        return Ok(again(StatusCode::BAD_REQUEST, "Enter your username."));
    }
    let guard = Guard::new("user", &username, &ip, app.lockout_policies());
    let reserved = match guard.reserve(&app.store, now).await {
        Ok(r) => r,
        Err(Refused::Locked) => {
            app.metrics.login("locked");
            app.audit(
                "login.locked",
                &username,
                &ip,
                serde_json::json!({"client": ix.request.client_id}),
            )
            .await;
            return Ok(again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts. Try again later.",
            ));
        }
        Err(Refused::Store(e)) => return Err(e.into()),
    };
    let user = match password_check::check(&app.store, &app.directories, &username, pw, now).await {
        Outcome::Verified(u) => Some(u),
        Outcome::Rejected => None,
        Outcome::Busy => {
            let _ = reserved.unchecked().await;
            return Ok(busy(again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins at once. Try again in a moment.",
            )));
        }
        Outcome::Unavailable => {
            // Not the user's fault: the attempt is given back.
            let _ = reserved.unchecked().await;
            app.metrics.login("unavailable");
            return Ok(busy(again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Try again later.",
            )));
        }
    };
    let same_user = ix.user_id.is_none() || user.as_ref().map(|u| &u.id) == ix.user_id.as_ref();
    let Some(user) = user.filter(|_| same_user) else {
        reserved.failed();
        app.metrics.login("failure");
        if let Ok(addr) = ip.parse() {
            app.decisions
                .record_failure(&username, addr, user_agent(&headers), now)
                .await;
        }
        app.audit(
            "login.failure",
            &username,
            &ip,
            serde_json::json!({
                "client": ix.request.client_id,
                "factor": "password",
                "user_agent": user_agent(&headers)}),
        )
        .await;
        return Ok(again(
            StatusCode::UNAUTHORIZED,
            "The username or password is incorrect.",
        ));
    };
    if let Err(e) = reserved.succeeded().await {
        tracing::error!(error = %e, "cannot clear the attempts counter");
    }
    ix.user_id = Some(user.id.clone());
    ix.login = Some(user.login.clone());
    ix.prove(Method::Password, now);
    advance(&app, ix, &headers, &ip).await
}
