//! The token-side error type: rendered as RFC 6749 §5.2 JSON.

use axum::http::StatusCode;

/// An OAuth error response. `description` is for the client developer and
/// never contains secrets or internal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The RFC 6749 / OIDC error code.
    pub error: &'static str,
    pub description: String,
    /// For 401s: the `WWW-Authenticate` header value.
    pub www_authenticate: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// Client authentication failed (RFC 6749 §5.2): 401 with a challenge
    /// naming the scheme the client should use.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        OAuthError {
            www_authenticate: Some("Basic realm=\"tollgate\"".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
        }
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    /// RFC 6750 §3.1: a bad bearer token at a protected resource.
    pub fn invalid_token(d: impl Into<String>) -> Self {
        let d = d.into();
        OAuthError {
            www_authenticate: Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{d}\""
            )),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
        }
    }
    pub fn insufficient_scope(d: impl Into<String>) -> Self {
        let d = d.into();
        OAuthError {
            www_authenticate: Some(format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{d}\""
            )),
            ..Self::new(StatusCode::FORBIDDEN, "insufficient_scope", d)
        }
    }
    /// The caller is authenticated but not permitted (a missing client
    /// permission): 403 `access_denied`.
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", d)
    }
    /// 429: a per-subject budget is spent.
    pub fn rate_limited(d: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", d)
    }
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request body too large",
        )
    }
    /// An internal failure; the detail is logged by the caller, not shown.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error; see the server log",
        )
    }
    pub fn temporarily_unavailable(d: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            d,
        )
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        OAuthError::server_error()
    }
}
