//! Token introspection (RFC 7662).
//!
//! RFC 7662 §4 leaves it to the server to decide whom it tells about a
//! token; a client that can authenticate is not thereby entitled to read
//! every user's tokens. Tollgate answers `active: true` only to the client
//! the token was issued to, to a resource server named in its `aud`, or to
//! a client holding the `introspect` permission; anyone else learns only
//! `active: false`, the same answer as for garbage.

use super::client::Permission;
use crate::state::AppState;
use crate::store::ClientRow;
use serde_json::{Value, json};

/// Whether `caller` may learn about a token issued to `client_id` for
/// `aud` (a string or an array; `None` for refresh tokens, which only
/// their own client may see).
pub fn entitled(caller: &ClientRow, client_id: &str, aud: Option<&Value>) -> bool {
    if caller.settings.may(Permission::Introspect) || caller.id == client_id {
        return true;
    }
    super::tokens::audience_includes(aud, |a| a == caller.id)
}

/// The introspection answer for `token`, asked by `caller`. Never an
/// error: anything not recognisably active, or not the caller's to know,
/// is `{"active": false}` (RFC 7662 §2.2).
pub async fn introspect(
    app: &AppState,
    caller: &ClientRow,
    token: &str,
    hint: Option<&str>,
) -> Result<Value, super::OAuthError> {
    let now = app.now();
    let looks_like_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
    if looks_like_jwt && hint != Some("refresh_token") {
        if let Ok(claims) = super::tokens::validate_access_token(app, token, now)
            && entitled(
                caller,
                claims["client_id"].as_str().unwrap_or(""),
                claims.get("aud"),
            )
        {
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
        Some(r)
            if !r.used
                && !r.grant_revoked
                && r.expires_at > now
                && entitled(caller, &r.client_id, None) =>
        {
            Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": r.client_id,
            "sub": r.user_id,
            "scope": r.data.scope.join(" "),
            "exp": r.expires_at,
            "iss": app.urls.issuer,
            "acr": r.data.auth.acr,
            "auth_time": r.data.auth.auth_time,
            }))
        }
        _ => Ok(json!({ "active": false })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::ClientSettings;

    fn client(id: &str, permissions: &[&str]) -> ClientRow {
        let c = crate::config::ClientConfig {
            id: id.into(),
            grant_types: Some(vec!["client_credentials".into()]),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        ClientRow {
            id: id.into(),
            secret_hash: Some("x".into()),
            settings: ClientSettings::from_config(&c, crate::keys::Alg::ES256, true).unwrap(),
            source: "test".into(),
        }
    }

    #[test]
    fn only_the_tokens_client_its_audience_or_a_trusted_client_learn_about_it() {
        let api = json!("https://api.example");
        let both = json!(["https://api.example", "rs"]);
        let cases = [
            (client("rp", &[]), "rp", Some(&api), true),
            (client("svc", &[]), "rp", Some(&api), false),
            (client("svc", &[]), "rp", None, false),
            (client("rs", &[]), "rp", Some(&both), true),
            (client("rs", &[]), "rp", Some(&json!("rs")), true),
            (client("rs", &[]), "rp", Some(&json!(["rsx"])), false),
            (client("audit", &["introspect"]), "rp", Some(&api), true),
            (client("audit", &["introspect"]), "rp", None, true),
        ];
        for (caller, owner, aud, want) in cases {
            assert_eq!(
                entitled(&caller, owner, aud),
                want,
                "{} {owner} {aud:?}",
                caller.id
            );
        }
    }
}
