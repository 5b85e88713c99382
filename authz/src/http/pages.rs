//! Server-rendered pages: each page is a [`Page`], a `Serialize` context
//! naming its template (`authz/templates/`, or the operator's override,
//! `templates.rs`), rendered by [`render`].

use super::templates::Templates;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Value;

/// A page's context: the variables its template gets (the fields, an
/// `Option` being `none` when absent).
pub trait Page: serde::Serialize + Sized {
    /// The template it renders, one of `templates::BUILTIN`.
    const TEMPLATE: &'static str;
    /// Contexts that between them take every branch of the built-in
    /// template: the start-up check renders an override with each.
    fn samples() -> Vec<Self>;
}

#[derive(serde::Serialize)]
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
#[derive(serde::Serialize)]
pub struct UnmetPage<'a> {
    pub client_name: &'a str,
    pub missing: &'a str,
    pub add_on_account: bool,
    pub back: &'a str,
}

#[derive(serde::Serialize)]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: Option<&'a str>,
}

#[derive(serde::Serialize)]
pub struct LogoutPage<'a> {
    pub csrf: &'a str,
    /// Carried through the confirmation so the redirect still happens.
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

#[derive(serde::Serialize)]
pub struct DemoPage<'a> {
    pub claims: &'a str,
    pub logout: &'a str,
}

/// Renders `page` with its template (the server's override if it has
/// one) and a status; pages are never cached. A template that fails here
/// (the start-up check makes that unlikely) is logged and answered with
/// the generic 500 page and the request id, never a panic.
pub fn render<P: Page>(status: StatusCode, page: &P) -> Response {
    match with_templates(|t| t.render(P::TEMPLATE, &Value::from_serialize(page))) {
        Ok(html) => html_page(status, html),
        Err(e) => {
            let rid = super::observe::request_id();
            tracing::error!(
                request_id = rid.as_deref().unwrap_or("-"),
                template = P::TEMPLATE,
                error = %e,
                "template failed"
            );
            internal_error(rid.as_deref())
        }
    }
}

fn html_page(status: StatusCode, html: String) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `f` of the current server's templates (the built-in ones outside a
/// request).
fn with_templates<T>(f: impl FnOnce(&Templates) -> T) -> T {
    match crate::i18n::branding() {
        Some(b) => f(&b.templates),
        None => f(&Templates::default()),
    }
}

/// A server-side failure on a page: logged with its cause and the request
/// id, shown as a generic message naming only the request id (the cause
/// may name tables or hosts). `PageError::Internal` renders this.
pub fn failed(e: &dyn std::fmt::Display) -> Response {
    let rid = super::observe::request_id();
    tracing::error!(request_id = rid.as_deref().unwrap_or("-"), error = %e, "page failed");
    internal_error(rid.as_deref())
}

/// The generic 500 page: the server's `message.html`, else the built-in
/// one, else plain text, each naming the request id.
fn internal_error(rid: Option<&str>) -> Response {
    let page = Value::from_serialize(MessagePage {
        title: "Something went wrong",
        message: "Nothing was changed. Try again later.",
        request_id: rid,
    });
    let html = with_templates(|t| t.render(MessagePage::TEMPLATE, &page))
        .or_else(|_| Templates::render_built_in(MessagePage::TEMPLATE, &page));
    match html {
        Ok(html) => html_page(StatusCode::INTERNAL_SERVER_ERROR, html),
        Err(e) => {
            tracing::error!(error = %e, "the error page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, "no-store")],
                format!("Internal error. Request id: {}", rid.unwrap_or("-")),
            )
                .into_response()
        }
    }
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
#[derive(serde::Serialize)]
pub struct DeviceApprovalPage<'a> {
    pub id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub number: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Also offer the one-time-code form (agent OTP or authenticator app).
    pub otp: bool,
}

/// A sample of an optional field: `Some(v)` in the first sample, `None`
/// in the second, so the start-up check takes both branches.
pub(super) fn opt(first: bool, v: &str) -> Option<&str> {
    first.then_some(v)
}

impl Page for LoginPage<'_> {
    const TEMPLATE: &'static str = "login.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| LoginPage {
                id: "ix-sample",
                csrf: "csrf-sample",
                client_name: "Sample app",
                username: "alice",
                error: opt(f, "The username or password is incorrect."),
            })
            .into()
    }
}

impl Page for UnmetPage<'_> {
    const TEMPLATE: &'static str = "unmet.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| UnmetPage {
                client_name: "Sample app",
                missing: "a passkey",
                add_on_account: f,
                back: "https://app.example/cb?error=unmet_authentication_requirements",
            })
            .into()
    }
}

impl Page for MessagePage<'_> {
    const TEMPLATE: &'static str = "message.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| MessagePage {
                title: "Something went wrong",
                message: "Nothing was changed. Try again later.",
                request_id: opt(f, "request-id-sample"),
            })
            .into()
    }
}

impl Page for LogoutPage<'_> {
    const TEMPLATE: &'static str = "logout.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| LogoutPage {
                csrf: "csrf-sample",
                client_id: opt(f, "sample-client"),
                post_logout_redirect_uri: opt(f, "https://app.example/bye"),
                state: opt(f, "state-sample"),
            })
            .into()
    }
}

impl Page for DemoPage<'_> {
    const TEMPLATE: &'static str = "demo.html";
    fn samples() -> Vec<Self> {
        vec![DemoPage {
            claims: "{\"sub\": \"alice\"}",
            logout: "/end_session",
        }]
    }
}

impl Page for DeviceApprovalPage<'_> {
    const TEMPLATE: &'static str = "device_approval.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| DeviceApprovalPage {
                id: "ix-sample",
                csrf: "csrf-sample",
                client_name: "Sample app",
                number: opt(f, "42"),
                error: opt(f, "That approval expired. Ask for a new number."),
                otp: f,
            })
            .into()
    }
}
