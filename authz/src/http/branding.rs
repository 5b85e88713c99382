//! `/branding/style.css` and `/branding/logo`: the operator's stylesheet
//! and logo (`[branding]`, `i18n::branding`), read at start. Every page
//! links the stylesheet after the built-in one; without a `[branding]`
//! stylesheet or logo it is empty, and without a logo `/branding/logo` is
//! a 404.

use crate::state::App;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Cached briefly: a restart with a new file shows within minutes.
const CACHE: &str = "public, max-age=300";

pub async fn stylesheet(State(app): State<App>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        app.branding.css.clone(),
    )
        .into_response()
}

pub async fn logo(State(app): State<App>) -> Response {
    match &app.branding.logo {
        Some((kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, CACHE),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
