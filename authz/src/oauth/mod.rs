//! OAuth 2.0 / OpenID Connect protocol logic. Knows nothing about HTTP
//! beyond the status codes of its own errors: handlers in `http/` parse
//! requests, call into here, and render the result.

pub mod authorize;
pub mod client;
pub mod client_auth;
pub mod error;
pub mod grant;
pub mod introspect;
pub mod password_grant;
pub mod pkce;
pub mod revocation;
pub mod token;
pub mod token_response;
pub mod tokens;

pub use error::OAuthError;
