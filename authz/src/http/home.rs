//! `/`: a landing page, so that someone who types the issuer's address sees
//! where to go (their account, discovery) instead of a blank 404.

use super::pages;
#[allow(unused_imports)] // used by the templates' `|t` filters
use crate::i18n::filters;
use crate::state::App;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    issuer: &'a str,
    demo: bool,
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
