//! `/userinfo` (OIDC Core §5.3): bearer token in the header (or, for POST,
//! the form body per RFC 6750 §2.2). Only an access token whose `aud`
//! names this endpoint (or the issuer) is accepted: a token minted for an
//! API is not a key to the user's claims.

use crate::oauth::OAuthError;
use crate::oauth::tokens::{audience_includes, user_claims, validate_access_token};
use crate::state::App;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

pub async fn userinfo(State(app): State<App>, req: Request) -> Result<Response, OAuthError> {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_string()));
    let token = match header_token {
        Some(t) => t,
        None if req.method() == Method::POST => {
            let (_, form) = super::token::read_form(&app, req)
                .await
                .map_err(|_| OAuthError::invalid_token("no access token"))?;
            form.get("access_token")
                .cloned()
                .ok_or_else(|| OAuthError::invalid_token("no access token"))?
        }
        None => {
            let mut e = OAuthError::invalid_token("no access token");
            e.www_authenticate = Some("Bearer realm=\"tollgate\"".into());
            return Err(e);
        }
    };
    let claims = validate_access_token(&app, &token, app.now())?;
    if !audience_includes(claims.get("aud"), |a| {
        a == app.urls.userinfo || a == app.urls.issuer
    }) {
        return Err(OAuthError::invalid_token(
            "the token is not for the userinfo endpoint",
        ));
    }
    let scope: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .map(str::to_string)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(OAuthError::insufficient_scope(
            "the token lacks the openid scope",
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or("");
    let user = match app.store.user(sub).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(OAuthError::invalid_token("the user is disabled or gone")),
    };
    let mut out = serde_json::Map::new();
    out.insert("sub".into(), serde_json::Value::from(user.id.as_str()));
    user_claims(&user, &scope, &mut out);
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(out)).into_response())
}
