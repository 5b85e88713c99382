//! "Approve on your device": the login page's device-approval step.
//!
//! When the interaction needs a factor and the user has an active agent
//! device, `offer` shows a two-digit number (creating the challenges);
//! the user types it on the terminal; "I approved it, continue" posts to
//! `/login/{id}/device`, where `LoginFlow::submit` (`Proof::Device`)
//! turns the approval into a proven `DeviceKey` factor once. No JavaScript and no meta refresh: the user
//! presses the button when the agent says it is done.

use super::error::PageError;
use super::pages;
use crate::agent::approval::{self, LoginApproval};
use crate::login::factor::DeviceApproval;
use crate::login::flow::{Proof, Step};
use crate::login::interaction::FactorKind;
use crate::login::{Interaction, Next};
use crate::state::App;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::net::SocketAddr;
use tollgate_agent::wire::LoginOrigin;

fn origin(app: &App, ix: &Interaction, peer: SocketAddr, headers: &HeaderMap) -> LoginOrigin {
    LoginOrigin {
        ip: Some(super::observe::client_ip(app, peer, headers)),
        location: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect()),
        client: Some(ix.request.client_id.clone()),
    }
}

/// The page; with `otp`, it also takes a one-time code (the agent's
/// `tollgate-agent otp`, or an authenticator app's) for the same step.
fn page(
    ix: &Interaction,
    otp: bool,
    status: StatusCode,
    number: Option<&str>,
    error: Option<&str>,
) -> Response {
    pages::render(
        status,
        &pages::DeviceApprovalPage {
            id: &ix.id,
            csrf: &ix.csrf,
            client_name: super::interaction::client_name(ix),
            number,
            error,
            otp,
        },
    )
}

/// The factor kinds that can still help, when the user is known.
fn useful(ix: &Interaction, enrolled: &[FactorKind], now: i64) -> Vec<FactorKind> {
    match ix.next(enrolled, now) {
        Next::Factor(kinds) if ix.user_id.is_some() => kinds,
        _ => vec![],
    }
}

/// Whether the next step is a device approval.
fn wants_device(ix: &Interaction, enrolled: &[FactorKind], now: i64) -> bool {
    useful(ix, enrolled, now).contains(&FactorKind::Device)
}

/// The device-approval page, when that is the next step; `None` lets the
/// login page show its other steps.
pub(super) async fn offer(
    app: &App,
    ix: &Interaction,
    enrolled: &[FactorKind],
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<Response>, PageError> {
    let Some(user) = ix.user_id.as_deref() else {
        return Ok(None);
    };
    if !wants_device(ix, enrolled, app.now()) {
        return Ok(None);
    }
    let o = origin(app, ix, peer, headers);
    render_state(app, ix, enrolled, user, &o, false)
        .await
        .map(Some)
}

async fn render_state(
    app: &App,
    ix: &Interaction,
    enrolled: &[FactorKind],
    user: &str,
    o: &LoginOrigin,
    renew: bool,
) -> Result<Response, PageError> {
    let otp = useful(ix, enrolled, app.now()).contains(&FactorKind::Totp);
    let approval = approval::for_login(app, &ix.id, user, o, renew, app.now())
        .await
        .map_err(|e| PageError::internal(e.description))?;
    Ok(match approval {
        LoginApproval::Pending { number, .. } => page(ix, otp, StatusCode::OK, Some(&number), None),
        LoginApproval::Approved { .. } => page(
            ix,
            otp,
            StatusCode::OK,
            None,
            Some("Approved on your device. Press continue."),
        ),
        LoginApproval::Refused { outcome } => {
            let why = match outcome.as_str() {
                "rejected" => {
                    "The number typed on the device did not match. Show a new number and try again."
                }
                "denied" => "The sign-in was refused on the device.",
                _ => "The number expired. Show a new number and try again.",
            };
            page(ix, otp, StatusCode::OK, None, Some(why))
        }
        LoginApproval::NoDevice => {
            return Err(PageError::Forbidden {
                title: "No device",
                message: "You have no enrolled device. Go back to the application and start again.",
            });
        }
    })
}

/// `POST /login/{id}/device`: `action=continue` completes the step with an
/// approval, `action=renew` shows a new number.
pub async fn submit(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (ix, headers, form) = super::interaction::load_form(&app, &id, req, "device").await?;
    let Some(user) = ix.user_id.clone() else {
        return Ok(super::interaction::see_login(&ix.id));
    };
    let enrolled = super::login_step::enrolled(&app, &ix).await?;
    if !wants_device(&ix, &enrolled, app.now()) {
        return Ok(super::interaction::see_login(&ix.id));
    }
    let ip = super::observe::client_ip(&app, peer, &headers);
    if super::interaction::too_fast(&app, &ix.id, &ip) {
        return Err(super::interaction::SLOW_DOWN);
    }
    if form.get("action").map(String::as_str) == Some("renew") {
        let o = origin(&app, &ix, peer, &headers);
        return render_state(&app, &ix, &enrolled, &user, &o, true).await;
    }
    // The same gate as every other factor: an account re-authentication
    // (user known, no decision yet) is decided and audited there too.
    let flow = super::login_step::flow(&app);
    let step = flow
        .submit(
            ix,
            Proof::Device(DeviceApproval),
            &super::login_step::origin(&app, &headers, &ip),
        )
        .await;
    let ix = match step {
        Ok(Step::Refused { ix, .. }) => ix,
        step => return super::login_step::render(&app, step),
    };
    let o = origin(&app, &ix, peer, &headers);
    match approval::for_login(&app, &ix.id, &user, &o, false, app.now()).await {
        Ok(LoginApproval::Pending { number, .. }) => Ok(page(
            &ix,
            useful(&ix, &enrolled, app.now()).contains(&FactorKind::Totp),
            StatusCode::OK,
            Some(&number),
            Some("Not approved yet. Type the number on your device, then continue."),
        )),
        _ => render_state(&app, &ix, &enrolled, &user, &o, false).await,
    }
}
