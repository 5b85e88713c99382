//! What a code and a refresh token remember about the authorization, as
//! stored JSON. Below `oauth/` (`oauth::grant` re-exports it) so the store
//! imports nothing from oauth.

use serde::{Deserialize, Serialize};

/// Stored with an authorization code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeData {
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth: AuthContext,
}

/// Stored with a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshData {
    pub scope: Vec<String>,
    pub auth: AuthContext,
}

/// How the user authenticated: what `acr`, `amr` and `auth_time` say.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthContext {
    pub acr: String,
    pub amr: Vec<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
}
