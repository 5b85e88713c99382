//! Token introspection (RFC 7662).

use crate::state::AppState;
use serde_json::{Value, json};

/// The introspection answer for `token`. Never an error: anything not
/// recognisably active is `{"active": false}` (RFC 7662 §2.2).
pub async fn introspect(
    app: &AppState,
    token: &str,
    hint: Option<&str>,
) -> Result<Value, super::OAuthError> {
    let now = app.now();
    let looks_like_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
    if looks_like_jwt && hint != Some("refresh_token") {
        if let Ok(claims) = super::tokens::validate_access_token(app, token, now) {
            let mut out = json!({ "active": true, "token_type": "Bearer" });
            for k in [
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "acr",
                "amr",
                "auth_time",
                "sid",
            ] {
                if let Some(v) = claims.get(k) {
                    out[k] = v.clone();
                }
            }
            return Ok(out);
        }
        return Ok(json!({ "active": false }));
    }
    let hash = super::client::hash_secret(token);
    match app.store.refresh(&hash).await? {
        Some(r) if !r.used && !r.grant_revoked && r.expires_at > now => Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": r.client_id,
            "sub": r.user_id,
            "scope": r.data.scope.join(" "),
            "exp": r.expires_at,
            "iss": app.urls.issuer,
            "acr": r.data.auth.acr,
            "auth_time": r.data.auth.auth_time,
        })),
        _ => Ok(json!({ "active": false })),
    }
}
