//! The token endpoint's grants: `authorization_code`, `refresh_token`,
//! `client_credentials`, and the opt-in `password` (`password_grant.rs`).

use super::OAuthError;
use super::client_auth::Form;
use super::grant::RefreshData;
pub use super::token_response::{Caller, TokenResponse};
use super::tokens::{access_token, id_token};
use crate::state::AppState;
use crate::store::{ClientRow, ConsumeCode, UseRefresh};

fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

fn scopes(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs the grant named in `form` for an authenticated client.
pub async fn exchange(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
    caller: &Caller,
) -> Result<TokenResponse, OAuthError> {
    let grant = required(form, "grant_type")?;
    if !super::client::GRANT_TYPES.contains(&grant) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {grant:?} is not supported"
        )));
    }
    if !client.settings.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use {grant}"
        )));
    }
    let resp = match grant {
        "authorization_code" => authorization_code(app, client, form).await?,
        "refresh_token" => refresh_token(app, client, form).await?,
        "password" => {
            // Belt and braces: the grant list already needs the opt-in.
            if !client.settings.password_grant {
                return Err(OAuthError::unauthorized_client(
                    "this client may not use password",
                ));
            }
            super::password_grant::password_grant(app, client, form, caller).await?
        }
        _ => client_credentials(app, client, form)?,
    };
    app.metrics.token_issued(match grant {
        "authorization_code" => "authorization_code",
        "refresh_token" => "refresh_token",
        "password" => "password",
        _ => "client_credentials",
    });
    Ok(resp)
}

async fn authorization_code(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let now = app.now();
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let code_hash = super::client::hash_secret(code);
    let row = match app.store.consume_code(&code_hash, now).await? {
        ConsumeCode::Fresh(row) => row,
        ConsumeCode::Replayed { grant_id } => {
            app.revocations.insert(&grant_id);
            app.audit(
                "token.code_replayed",
                &client.id,
                &grant_id,
                serde_json::json!({"action": "grant revoked"}),
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "authorization code was already used; tokens issued from it are revoked",
            ));
        }
        ConsumeCode::Revoked => {
            return Err(OAuthError::invalid_grant(
                "the authorization code's grant was revoked (the session ended)",
            ));
        }
        ConsumeCode::Unknown => {
            return Err(OAuthError::invalid_grant("unknown authorization code"));
        }
    };
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    if row.data.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&row.data.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !super::pkce::valid_verifier(verifier) || !super::pkce::verify(verifier, challenge) {
                return Err(OAuthError::invalid_grant("PKCE verification failed"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_request("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier given but no code_challenge was sent",
            ));
        }
        (None, None) => {}
    }
    let user = active_user(app, &row.user_id).await?;
    let at = access_token(
        app,
        &client.id,
        client.settings.audience(&client.id),
        &user.id,
        &row.data.scope,
        Some(&row.data.auth),
        Some(&row.grant_id),
        None,
        now,
    )?;
    let id = if row.data.scope.iter().any(|s| s == "openid") {
        Some(id_token(
            app,
            &client.id,
            client.settings.id_token_alg,
            &user,
            &row.data.scope,
            row.data.nonce.as_deref(),
            &row.data.auth,
            client.settings.identity_claims.as_ref(),
            now,
        )?)
    } else {
        None
    };
    let refresh = if client.settings.allows_grant("refresh_token") {
        let token = crate::secret::random_token(32);
        let data = RefreshData {
            scope: row.data.scope.clone(),
            auth: row.data.auth.clone(),
        };
        app.store
            .insert_refresh(
                &row.grant_id,
                &super::client::hash_secret(token.expose()),
                &data,
                now,
                now + app.config.tokens.refresh_token_ttl,
            )
            .await?;
        Some(token.expose().to_string())
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        refresh_token: refresh,
        id_token: id,
        scope: row.data.scope.join(" "),
    })
}

async fn active_user(app: &AppState, id: &str) -> Result<crate::store::UserRow, OAuthError> {
    match app.store.user(id).await? {
        Some(u) if !u.disabled => Ok(u),
        _ => Err(OAuthError::invalid_grant("the user is disabled or gone")),
    }
}

async fn refresh_token(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let now = app.now();
    let presented = required(form, "refresh_token")?;
    let old_hash = super::client::hash_secret(presented);
    let Some(row) = app.store.refresh(&old_hash).await? else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if row.grant_revoked {
        return Err(OAuthError::invalid_grant("refresh token was revoked"));
    }
    if row.used {
        app.store
            .revoke_grant(&row.grant_id, "refresh token reused", now)
            .await?;
        app.revocations.insert(&row.grant_id);
        app.audit(
            "token.refresh_reused",
            &client.id,
            &row.grant_id,
            serde_json::json!({"action": "family revoked"}),
        )
        .await;
        return Err(OAuthError::invalid_grant(
            "refresh token was already used; the token family is revoked",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("refresh token expired"));
    }
    let scope = match form.get("scope") {
        Some(s) => {
            let asked = scopes(s);
            if let Some(extra) = asked.iter().find(|s| !row.data.scope.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra:?} was not granted originally"
                )));
            }
            asked
        }
        None => row.data.scope.clone(),
    };
    let user = active_user(app, &row.user_id).await?;
    let new = crate::secret::random_token(32);
    let data = RefreshData {
        scope: row.data.scope.clone(),
        auth: row.data.auth.clone(),
    };
    let rotated = app
        .store
        .rotate_refresh(
            &row.grant_id,
            &old_hash,
            &super::client::hash_secret(new.expose()),
            &data,
            now,
            now + app.config.tokens.refresh_token_ttl,
        )
        .await?;
    if rotated == UseRefresh::Reused {
        app.revocations.insert(&row.grant_id);
        app.audit(
            "token.refresh_reused",
            &client.id,
            &row.grant_id,
            serde_json::json!({"action": "family revoked"}),
        )
        .await;
        return Err(OAuthError::invalid_grant(
            "refresh token was already used; the token family is revoked",
        ));
    }
    let at = access_token(
        app,
        &client.id,
        client.settings.audience(&client.id),
        &user.id,
        &scope,
        Some(&row.data.auth),
        Some(&row.grant_id),
        None,
        now,
    )?;
    let id = if scope.iter().any(|s| s == "openid") {
        Some(id_token(
            app,
            &client.id,
            client.settings.id_token_alg,
            &user,
            &scope,
            None,
            &row.data.auth,
            client.settings.identity_claims.as_ref(),
            now,
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        refresh_token: Some(new.expose().to_string()),
        id_token: id,
        scope: scope.join(" "),
    })
}

fn client_credentials(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let now = app.now();
    let scope = match form.get("scope") {
        Some(s) => {
            let asked = scopes(s);
            if let Some(bad) = asked.iter().find(|s| {
                *s == "openid" || *s == "offline_access" || !client.settings.scopes.contains(s)
            }) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {bad:?} is not available to this client"
                )));
            }
            asked
        }
        None => vec![],
    };
    let at = access_token(
        app,
        &client.id,
        client.settings.audience(&client.id),
        &client.id,
        &scope,
        None,
        None,
        Some(client.settings.id_token_alg),
        now,
    )?;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        refresh_token: None,
        id_token: None,
        scope: scope.join(" "),
    })
}
