//! `POST /login/{id}/totp`: a one-time code for the identified user — a
//! TOTP code, an enrolled agent's OTP or a recovery code, all the `otp`
//! factor. The guard and the check are `LoginFlow::submit`'s (`Proof::Otp`);
//! this reads the form and shows the factor page again with what went wrong.

use super::error::PageError;
use super::factor_page::factor_page;
use crate::login::Next;
use crate::login::factor::OtpProof;
use crate::login::flow::{Proof, Refusal, Step};
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::net::SocketAddr;

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
    let proof = Proof::Otp(OtpProof {
        code: form.get("code").cloned().unwrap_or_default(),
    });
    let origin = super::login_step::origin(&app, &headers, &ip);
    let flow = super::login_step::flow(&app);
    let (why, ix) = match flow.submit(ix, proof, &origin).await {
        Ok(Step::Refused { why, ix }) => (why, ix),
        step => return super::login_step::render(&app, step),
    };
    let again = |status, msg: &str| factor_page(&ix, &user.login, &kinds, status, Some(msg));
    Ok(match why {
        Refusal::Locked => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Try again later.",
        ),
        Refusal::Replayed => again(
            StatusCode::UNAUTHORIZED,
            "That code was already used. Wait for the next one.",
        ),
        _ => again(StatusCode::UNAUTHORIZED, "That code is not correct."),
    })
}
