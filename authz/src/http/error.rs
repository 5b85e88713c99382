//! `PageError`: the one error type of the browser pages, the way
//! `OAuthError` is that of the protocol endpoints. Handlers return
//! `Result<Response, PageError>` and use `?`.
//!
//! Each variant is what the user may see: a title and a sentence, a status,
//! and `Retry-After` where waiting helps. `Internal` carries its cause only
//! to the log (with the request id, `pages::failed`); the page says that
//! something went wrong and names the request id, never the cause (it may
//! name tables or hosts). A store error is always `Internal`: it is never
//! read as "no such user" or "not signed in".

use super::pages;
use super::respond::retry_after;
use crate::store::StoreError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a page request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The request itself is malformed (400): what is wrong with it.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The body is over `[http] max_body_bytes` (413).
    #[error("request too large")]
    TooLarge,
    /// There is no such thing (404).
    #[error("not found: {title}")]
    NotFound {
        title: &'static str,
        message: &'static str,
    },
    /// It existed and is over: used, expired or replaced (410).
    #[error("gone: {title}")]
    Gone {
        title: &'static str,
        message: &'static str,
    },
    /// Too many attempts from here or on this account (429): wait
    /// `retry_after` seconds.
    #[error("too many attempts")]
    TooManyAttempts { retry_after: u32 },
    /// The server cannot take this now (503): the verifier is saturated or
    /// a dependency is down; try again in `retry_after` seconds.
    #[error("busy")]
    Busy { retry_after: u32 },
    /// Refused (403): the request is understood and will not be served.
    #[error("forbidden: {title}")]
    Forbidden {
        title: &'static str,
        message: &'static str,
    },
    /// The security policy refused the sign-in (403); `set_cookie` ends
    /// the browser's session cookie.
    #[error("refused by policy")]
    PolicyDenied { set_cookie: String },
    /// Already done (409): e.g. a sign-in completed twice.
    #[error("conflict: {title}")]
    Conflict {
        title: &'static str,
        message: &'static str,
    },
    /// Sign in (again) first: a 303 to `to` (`/account`, `/account/reauth`).
    #[error("sign in first at {to}")]
    SignIn { to: &'static str },
    /// A fault after the sign-in was taken: the client waits, so the
    /// browser goes back to it (303) with `server_error` at this address.
    #[error("back to the client")]
    BackToClient(String),
    /// A fault on our side (500). The cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl PageError {
    /// An internal error from any cause (logged when rendered, never shown).
    pub fn internal(cause: impl std::fmt::Display) -> PageError {
        PageError::Internal(cause.to_string())
    }

    /// The status the page is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::NotFound { .. } => StatusCode::NOT_FOUND,
            PageError::Gone { .. } => StatusCode::GONE,
            PageError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            PageError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Forbidden { .. } | PageError::PolicyDenied { .. } => StatusCode::FORBIDDEN,
            PageError::Conflict { .. } => StatusCode::CONFLICT,
            PageError::SignIn { .. } | PageError::BackToClient(_) => StatusCode::SEE_OTHER,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        PageError::internal(e)
    }
}

/// A form that could not be read (`token::read_form`): the client's
/// mistake as 400 or 413, a server fault as `Internal`.
impl From<crate::oauth::OAuthError> for PageError {
    fn from(e: crate::oauth::OAuthError) -> PageError {
        match e.status {
            StatusCode::PAYLOAD_TOO_LARGE => PageError::TooLarge,
            s if s.is_server_error() => PageError::Internal(e.description),
            _ => PageError::BadRequest(e.description),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            PageError::BadRequest(m) => pages::message(status, "Invalid request", &m),
            PageError::TooLarge => {
                pages::message(status, "Invalid request", "The request is too large.")
            }
            PageError::NotFound { title, message }
            | PageError::Gone { title, message }
            | PageError::Forbidden { title, message }
            | PageError::Conflict { title, message } => pages::message(status, title, message),
            PageError::TooManyAttempts { retry_after: s } => retry_after(
                pages::message(
                    status,
                    "Too many attempts",
                    "Wait a minute, then try again.",
                ),
                s,
            ),
            PageError::Busy { retry_after: s } => retry_after(
                pages::message(
                    status,
                    "Sign-in is unavailable right now",
                    "The server is busy. Try again in a moment.",
                ),
                s,
            ),
            PageError::PolicyDenied { set_cookie } => {
                let mut page = pages::message(
                    status,
                    "Sign-in refused",
                    "This sign-in was refused by your organisation's security policy. \
                     If this was you, contact your administrator.",
                );
                if let Ok(v) = set_cookie.parse() {
                    page.headers_mut().append(header::SET_COOKIE, v);
                }
                page
            }
            PageError::SignIn { to } => axum::response::Redirect::to(to).into_response(),
            PageError::BackToClient(to) => super::respond::see_other(&to),
            PageError::Internal(cause) => pages::failed(&cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    /// Each variant: its status, its `Retry-After`, and words the page must
    /// (and must not) contain.
    #[tokio::test]
    async fn each_variant_renders_its_status_and_headers() {
        let cases: Vec<(PageError, u16, Option<&str>, &str)> = vec![
            (
                PageError::BadRequest("No user.".into()),
                400,
                None,
                "No user.",
            ),
            (
                PageError::NotFound {
                    title: "This sign-in has expired",
                    message: "Start again.",
                },
                404,
                None,
                "This sign-in has expired",
            ),
            (
                PageError::Gone {
                    title: "This link no longer works",
                    message: "Ask again.",
                },
                410,
                None,
                "This link no longer works",
            ),
            (
                PageError::TooManyAttempts { retry_after: 60 },
                429,
                Some("60"),
                "Too many attempts",
            ),
            (PageError::Busy { retry_after: 2 }, 503, Some("2"), "busy"),
            (
                PageError::Forbidden {
                    title: "Sign-in refused",
                    message: "By policy.",
                },
                403,
                None,
                "Sign-in refused",
            ),
            (
                PageError::PolicyDenied {
                    set_cookie: "tg_session=; Max-Age=0".into(),
                },
                403,
                None,
                "security policy",
            ),
            (
                PageError::Conflict {
                    title: "Already completed",
                    message: "Go back.",
                },
                409,
                None,
                "Already completed",
            ),
            (
                PageError::SignIn {
                    to: "/account/reauth",
                },
                303,
                None,
                "",
            ),
        ];
        for (e, status, retry, shows) in cases {
            let what = format!("{e:?}");
            let r = e.into_response();
            assert_eq!(r.status().as_u16(), status, "{what}");
            let got = r
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(got.as_deref(), retry, "{what}");
            assert!(body(r).await.contains(shows), "{what}");
        }
    }

    /// An internal error (and every store error) is a 500 whose page shows
    /// neither the cause nor a hint of "no such user", but the request id.
    #[tokio::test]
    async fn internal_errors_never_leak_their_cause() {
        let store: PageError = StoreError::Corrupt("table login_failures on db-7".into()).into();
        assert!(matches!(store, PageError::Internal(_)));
        for e in [store, PageError::internal("secret host 10.0.0.7")] {
            let r =
                super::super::observe::scope_for_test("rid-42", async { e.into_response() }).await;
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let page = body(r).await;
            for leak in ["login_failures", "db-7", "10.0.0.7", "secret host"] {
                assert!(!page.contains(leak), "{leak} leaked: {page}");
            }
            assert!(page.contains("Something went wrong"), "{page}");
            assert!(page.contains("rid-42"), "the page names the request id");
        }
    }
}
