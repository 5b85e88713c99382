//! What every grant of the token endpoint shares, one level below
//! `token.rs` and `password_grant.rs` so that neither imports the other
//! for it: who called, and the successful response.

use serde::Serialize;

/// The successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// Who is calling the token endpoint: what the password grant scores.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub ip: String,
    pub user_agent: String,
}
