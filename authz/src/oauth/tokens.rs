//! Minting ID tokens and JWT access tokens (RFC 9068), and validating our
//! own access tokens at userinfo and introspection.

use super::OAuthError;
use super::grant::AuthContext;
use crate::keys::Alg;
use crate::state::AppState;
use crate::store::UserRow;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Which algorithm signs access tokens: ES256 unless the deployment's
/// default is RS256 (resource servers validate with the JWKS either way).
fn access_alg(app: &AppState) -> Alg {
    Alg::parse(&app.config.keys.default_alg).unwrap_or(Alg::ES256)
}

/// A minted access token.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// Mints an RFC 9068 access token. `grant_id` prefixes the `jti` so that
/// revoking the grant revokes the token.
#[allow(clippy::too_many_arguments)]
pub fn access_token(
    app: &AppState,
    client_id: &str,
    audience: &str,
    sub: &str,
    scope: &[String],
    auth: Option<&AuthContext>,
    grant_id: Option<&str>,
    alg: Option<Alg>,
    now: i64,
) -> Result<AccessToken, OAuthError> {
    let ttl = app.config.tokens.access_token_ttl;
    let rnd = crate::secret::random_id(12);
    let jti = match grant_id {
        Some(g) => format!("{g}.{rnd}"),
        None => rnd,
    };
    let mut claims = Map::with_capacity(12);
    claims.insert("iss".into(), Value::from(app.urls.issuer.as_str()));
    claims.insert("sub".into(), Value::from(sub));
    // A user's token with `openid` is also for `/userinfo`, which accepts
    // nothing else (a token for an API is not a key to the user's claims).
    let for_userinfo =
        auth.is_some() && scope.iter().any(|s| s == "openid") && audience != app.urls.userinfo;
    let aud = if for_userinfo {
        json!([audience, app.urls.userinfo])
    } else {
        Value::from(audience)
    };
    claims.insert("aud".into(), aud);
    claims.insert("exp".into(), Value::from(now + ttl));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("jti".into(), Value::from(jti));
    claims.insert("client_id".into(), Value::from(client_id));
    claims.insert("scope".into(), Value::from(scope.join(" ")));
    if let Some(a) = auth {
        claims.insert("auth_time".into(), Value::from(a.auth_time));
        claims.insert("acr".into(), Value::from(a.acr.as_str()));
        claims.insert("amr".into(), json!(a.amr));
        if let Some(sid) = &a.sid {
            claims.insert("sid".into(), Value::from(sid.as_str()));
        }
    }
    let token = app
        .keyring()
        .sign(
            alg.unwrap_or_else(|| access_alg(app)),
            Some("at+jwt"),
            &claims,
            now,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign access token");
            OAuthError::server_error()
        })?;
    Ok(AccessToken {
        token,
        expires_in: ttl,
    })
}

/// Whether a token's `aud` (a string or an array) names something `want`
/// accepts.
pub fn audience_includes(aud: Option<&Value>, want: impl Fn(&str) -> bool) -> bool {
    match aud {
        Some(Value::String(a)) => want(a),
        Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).any(want),
        _ => false,
    }
}

/// The user claims a scope releases (OIDC Core §5.4 plus `upn` and `groups`).
pub fn user_claims(user: &UserRow, scope: &[String], out: &mut Map<String, Value>) {
    let has = |s: &str| scope.iter().any(|x| x == s);
    if has("profile") {
        out.insert("name".into(), Value::from(user.display_name.as_str()));
        out.insert(
            "preferred_username".into(),
            Value::from(user.login.as_str()),
        );
        if let Some(upn) = &user.upn {
            out.insert("upn".into(), Value::from(upn.as_str()));
        }
    }
    if has("email")
        && let Some(email) = &user.email
    {
        out.insert("email".into(), Value::from(email.as_str()));
    }
    if has("groups") {
        out.insert("groups".into(), json!(user.groups));
    }
}

/// Mints an ID token (OIDC Core §2) signed with the client's algorithm.
#[allow(clippy::too_many_arguments)]
pub fn id_token(
    app: &AppState,
    client_id: &str,
    alg: Alg,
    user: &UserRow,
    scope: &[String],
    nonce: Option<&str>,
    auth: &AuthContext,
    identity: Option<&super::client::IdentityClaims>,
    now: i64,
) -> Result<String, OAuthError> {
    let mut claims = Map::with_capacity(16);
    claims.insert("iss".into(), Value::from(app.urls.issuer.as_str()));
    claims.insert("sub".into(), Value::from(user.id.as_str()));
    claims.insert("aud".into(), Value::from(client_id));
    claims.insert(
        "exp".into(),
        Value::from(now + app.config.tokens.id_token_ttl),
    );
    claims.insert("iat".into(), Value::from(now));
    claims.insert("auth_time".into(), Value::from(auth.auth_time));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), Value::from(n));
    }
    claims.insert("acr".into(), Value::from(auth.acr.as_str()));
    claims.insert("amr".into(), json!(auth.amr));
    if let Some(sid) = &auth.sid {
        claims.insert("sid".into(), Value::from(sid.as_str()));
    }
    user_claims(user, scope, &mut claims);
    if let Some(ic) = identity {
        // What this relying party reads, under its names, whatever the scope.
        if let Some(upn) = ic.upn(&user.login, user.upn.as_deref()) {
            claims.insert(ic.upn_claim.clone(), Value::from(upn));
        }
        claims.insert(ic.groups_claim.clone(), json!(user.groups));
    }
    app.keyring().sign(alg, None, &claims, now).map_err(|e| {
        tracing::error!(error = %e, "cannot sign ID token");
        OAuthError::server_error()
    })
}

/// Validates one of our access tokens: signature (cached per exact token),
/// `typ`, issuer, expiry, revocation. Returns its claims.
pub fn validate_access_token(
    app: &AppState,
    token: &str,
    now: i64,
) -> Result<Arc<Value>, OAuthError> {
    let key = crate::secret::sha256(token.as_bytes());
    let claims = match app.verified.get(&key) {
        Some(c) => c,
        None => {
            let v = app
                .keyring()
                .verify(token)
                .map_err(|e| OAuthError::invalid_token(e.to_string()))?;
            if v.typ.as_deref() != Some("at+jwt") {
                return Err(OAuthError::invalid_token("not an access token"));
            }
            if v.claims["iss"].as_str() != Some(app.urls.issuer.as_str()) {
                return Err(OAuthError::invalid_token("wrong issuer"));
            }
            let c = Arc::new(v.claims);
            app.verified.put(key, c.clone());
            c
        }
    };
    if claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
        return Err(OAuthError::invalid_token("token expired"));
    }
    if app
        .revocations
        .is_revoked(claims["jti"].as_str().unwrap_or(""))
    {
        return Err(OAuthError::invalid_token("token revoked"));
    }
    Ok(claims)
}
