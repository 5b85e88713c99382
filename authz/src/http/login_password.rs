//! `POST /login/{id}`: the username and password step. The attempts guard,
//! the check and what follows are `LoginFlow::submit`'s; this reads the
//! form and shows the login page again with what went wrong.

use super::error::PageError;
use super::interaction::{SLOW_DOWN, client_name, load_form, too_fast};
use super::login_step::render;
use super::pages;
use super::respond::busy;
use crate::login::factor::PasswordProof;
use crate::login::flow::{Proof, Refusal, Step};
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
    let (ix, headers, form) = load_form(&app, &id, req, "password").await?;
    let username = form
        .get("username")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() || ix.login.is_none())
        .or_else(|| ix.login.clone())
        .unwrap_or_default();
    let pw = crate::secret::Secret::new(form.get("password").cloned().unwrap_or_default());
    let ip = super::observe::client_ip(&app, peer, &headers);
    if too_fast(&app, &ix.id, &ip) {
        return Err(SLOW_DOWN);
    }
    let flow = super::login_step::flow(&app);
    let mut origin = super::login_step::origin(&app, &headers, &ip);
    origin.signals.tz_offset_min = super::signals::tz_field(form.get("tz").map(String::as_str));
    let proof = Proof::Password(PasswordProof {
        username: username.clone(),
        password: pw,
    });
    let (why, ix) = match flow.submit(ix, proof, &origin).await {
        Ok(Step::Refused { why, ix }) => (why, ix),
        step => return render(&app, step),
    };
    // The same page as `show`, so it keeps the passkey script (CSP).
    let page = |status: StatusCode, msg: &str| {
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
    Ok(match why {
        Refusal::Malformed => page(StatusCode::BAD_REQUEST, "Enter your username."),
        Refusal::Locked => page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Try again later.",
        ),
        Refusal::Busy => busy(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins at once. Try again in a moment.",
        )),
        Refusal::Unavailable => busy(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable right now. Try again later.",
        )),
        Refusal::Wrong | Refusal::Replayed | Refusal::Pending | Refusal::Passkey(_) => page(
            StatusCode::UNAUTHORIZED,
            "The username or password is incorrect.",
        ),
    })
}
