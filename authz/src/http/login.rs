//! `GET /login/{id}`: the page of the interaction's next step — what is
//! missing, the device approval, a factor, or the username and password.
//! It only renders; the steps are decided by `Interaction::next`.

use super::error::PageError;
use super::interaction::{client_name, load};
use super::login_step::enrolled;
use super::login_step::unmet_page;
use super::pages;
use crate::login::Next;
use crate::state::App;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let ix = load(&app, &id, &headers).await?;
    // Once for this request: every step below plans with the same list.
    let enrolled = enrolled(&app, &ix).await?;
    if ix.user_id.is_some() && ix.next(&enrolled, app.now()) == Next::Unmet {
        return Ok(unmet_page(&app, &ix, &enrolled));
    }
    if let Some(page) = super::login_device::offer(&app, &ix, &enrolled, peer, &headers).await? {
        return Ok(page);
    }
    if let Some(page) = super::factor_page::factor_step(&app, &ix, &enrolled).await? {
        return Ok(page);
    }
    let username = ix.request.login_hint.clone().unwrap_or_default();
    Ok(super::respond::with_script(pages::render(
        StatusCode::OK,
        &pages::LoginPage {
            id: &ix.id,
            csrf: &ix.csrf,
            client_name: client_name(&ix),
            username: &username,
            error: None,
        },
    )))
}
