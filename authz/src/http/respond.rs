//! Small response helpers every page shares: redirects, the CSP of pages
//! with the passkey script, JSON answers for that script, `Retry-After`.
//! A leaf: it imports no other `http` module.

use crate::login::AuthRequest;
use crate::oauth::authorize::error_redirect;
use crate::state::App;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

/// Redirects (303) to `url`.
pub(super) fn see_other(url: &str) -> Response {
    Redirect::to(url).into_response()
}

pub(super) fn redirect_error(
    app: &App,
    req: &AuthRequest,
    error: &str,
    description: &str,
) -> Response {
    see_other(&error_redirect(
        &req.redirect_uri,
        req.state.as_deref(),
        error,
        description,
        &app.urls.issuer,
    ))
}

/// The CSP of pages that load `/static/passkey.js` (which calls the JSON
/// endpoints with `fetch`): still no inline script.
pub(super) const SCRIPT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Adds [`SCRIPT_CSP`] to a page response.
pub(super) fn with_script(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPT_CSP),
    );
    resp
}

/// `/static/passkey.js`: the only script, shared by sign-in and account pages.
pub async fn passkey_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkey.js"),
    )
}

/// A JSON error for the script: `{"error": code, "message": text}`, the
/// text in the page's language.
pub(super) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": code, "message": crate::i18n::tr(message)})),
    )
        .into_response()
}

/// Turns the interaction's next-step response (a 303) into JSON the script
/// follows, keeping its cookies.
pub(super) fn as_json(resp: Response) -> Response {
    if resp.status() != StatusCode::SEE_OTHER {
        return resp;
    }
    let loc = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_string();
    let mut out = axum::Json(json!({"redirect": loc})).into_response();
    for c in resp.headers().get_all(header::SET_COOKIE) {
        out.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// Reads a JSON body (at most `max_body_bytes`) without axum's rejection
/// texts, so malformed input is audited like every other refusal.
pub(super) async fn read_json(app: &App, body: Body) -> Option<serde_json::Value> {
    let bytes = to_bytes(body, app.config.http.max_body_bytes).await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v.is_object())
}

pub(super) fn str_field<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

/// Adds `Retry-After: secs` to a response.
pub fn retry_after(mut resp: Response, secs: u32) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// Adds `Retry-After` to a 503 answered because the verifier is saturated.
pub(super) fn busy(resp: Response) -> Response {
    retry_after(resp, crate::login::password::RETRY_AFTER as u32)
}

pub(super) fn no_store(status: StatusCode, json: impl serde::Serialize) -> Response {
    let mut r = (status, axum::Json(json)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(super) fn ok(json: impl serde::Serialize) -> Response {
    no_store(StatusCode::OK, json)
}
