//! Token revocation (RFC 7009).

use crate::state::AppState;
use crate::store::ClientRow;

/// Revokes `token` if it belongs to `client`. Unknown or foreign tokens are
/// ignored: RFC 7009 §2.2 answers 200 either way, so revocation cannot be
/// used to probe for valid tokens.
pub async fn revoke(
    app: &AppState,
    client: &ClientRow,
    token: &str,
) -> Result<(), super::OAuthError> {
    let now = app.now();
    let hash = super::client::hash_secret(token);
    if let Some(r) = app.store.refresh(&hash).await? {
        if r.client_id == client.id {
            app.store
                .revoke_grant(&r.grant_id, "revoked by client", now)
                .await?;
            app.revocations.insert(&r.grant_id);
            app.audit(
                "token.revoked",
                &client.id,
                &r.grant_id,
                serde_json::json!({"token_type": "refresh_token"}),
            )
            .await;
        }
        return Ok(());
    }
    if let Ok(v) = app.keyring().verify(token) {
        let c = &v.claims;
        if c["client_id"].as_str() == Some(client.id.as_str())
            && let (Some(jti), Some(exp)) = (c["jti"].as_str(), c["exp"].as_i64())
        {
            app.store.revoke_jti(jti, exp).await?;
            app.revocations.insert(jti);
            app.audit(
                "token.revoked",
                &client.id,
                jti,
                serde_json::json!({"token_type": "access_token"}),
            )
            .await;
        }
    }
    Ok(())
}
