//! Server-rendered pages (askama templates in `authz/templates/`).

#[allow(unused_imports)] // used by the templates' `|t` filters
use crate::i18n::filters;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

/// A sign-in the user's factors cannot complete: what is missing
/// (`login::unmet::how_to_fix`), and the way back to the relying party,
/// which then gets `unmet_authentication_requirements`.
#[derive(Template)]
#[template(path = "unmet.html")]
pub struct UnmetPage<'a> {
    pub client_name: &'a str,
    pub missing: &'a str,
    pub add_on_account: bool,
    pub back: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub csrf: &'a str,
    /// Carried through the confirmation so the redirect still happens.
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "demo.html")]
pub struct DemoPage<'a> {
    pub claims: &'a str,
    pub logout: &'a str,
}

/// Renders a template with a status; pages are never cached.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A server-side failure on a page: logged with its cause and the request
/// id, shown as a generic message naming only the request id (the cause
/// may name tables or hosts). `PageError::Internal` renders this.
pub fn failed(e: &dyn std::fmt::Display) -> Response {
    let rid = super::observe::request_id();
    tracing::error!(request_id = rid.as_deref().unwrap_or("-"), error = %e, "page failed");
    render(
        StatusCode::INTERNAL_SERVER_ERROR,
        &MessagePage {
            title: "Something went wrong",
            message: "Nothing was changed. Try again later.",
            request_id: rid.as_deref(),
        },
    )
}

/// A page with a title and a message.
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &MessagePage {
            title,
            message,
            request_id: None,
        },
    )
}

/// "Approve on your device": the number to type on the agent (none when
/// the last one was refused or expired), and the continue button.
#[derive(Template)]
#[template(path = "device_approval.html")]
pub struct DeviceApprovalPage<'a> {
    pub id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub number: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Also offer the one-time-code form (agent OTP or authenticator app).
    pub otp: bool,
}
