//! `POST /login/{id}/totp`: a one-time code for the identified user — a
//! TOTP code, an enrolled agent's OTP or a recovery code, all the `otp`
//! factor, behind one attempts guard (`totp:<login>`).

use super::error::PageError;
use super::factor_page::factor_page;
use super::totp_seal::open_secret;
use crate::agent::otp::AgentOtp;
use crate::login::lockout::{Guard, Refused};
use crate::login::totp;
use crate::login::{Method, Next};
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::net::SocketAddr;

/// What a submitted code proved: `Ok(kind, device)` with the enrolled
/// agent device whose OTP it was, if any.
pub(super) enum CodeCheck {
    Ok(&'static str, Option<String>),
    Wrong,
    Replayed,
}

/// Checks a TOTP code (each step once), an enrolled agent's OTP (each step
/// once per device, `agent::otp`) or, failing those, a recovery code
/// (single use). All count as a one-time password (`otp`): something you
/// have, never phishing-resistant.
pub(super) async fn check_code(
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

/// `POST /login/{id}/totp`: a TOTP or recovery code for the identified user.
pub async fn totp_submit(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (ix, headers, form) = super::interaction::load_form(&app, &id, req, "totp").await?;
    let (Some(user_id), now) = (ix.user_id.clone(), app.now()) else {
        return Ok(super::interaction::see_login(&ix.id));
    };
    let user = match app.store.user(&user_id).await? {
        Some(u) if !u.disabled => u,
        _ => return Ok(super::interaction::see_login(&ix.id)),
    };
    let ip = super::observe::client_ip(&app, peer, &headers);
    if super::interaction::too_fast(&app, &ix.id, &ip) {
        return Err(super::interaction::SLOW_DOWN);
    }
    let kinds = match ix.next(&super::login_step::enrolled(&app, &ix).await?, now) {
        Next::Factor(k) => k,
        _ => return Ok(super::interaction::see_login(&ix.id)),
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
            let proof = crate::login::flow::Proof::Verified {
                method: Method::Totp,
                user: None,
            };
            let origin = super::login_step::origin(&app, &headers, &ip);
            let flow = super::login_step::flow(&app);
            super::login_step::render(&app, flow.submit(ix, proof, &origin).await)
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
