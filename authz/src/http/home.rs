//! `/`: a landing page, so that someone who types the issuer's address sees
//! where to go (their account, discovery) instead of a blank 404.

use super::pages;
use crate::state::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(serde::Serialize)]
pub(super) struct HomePage<'a> {
    issuer: &'a str,
    demo: bool,
}

impl pages::Page for HomePage<'_> {
    const TEMPLATE: &'static str = "home.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|demo| HomePage {
                issuer: "https://login.example",
                demo,
            })
            .into()
    }
}

pub async fn show(State(app): State<App>) -> Response {
    pages::render(
        StatusCode::OK,
        &HomePage {
            issuer: &app.urls.issuer,
            demo: app.config.demo,
        },
    )
}
