//! The resource-owner password grant (RFC 6749 §4.3), for the relying
//! parties that insist on it (vCenter's Okta-style wizard asks for it).
//!
//! It exists only as a per-client opt-in (`password_grant = true`) and is
//! a login like any other: `LoginFlow::password_grant` runs the same
//! attempts guard and password check as a sign-in, then the same gate
//! (`LoginFlow::decide`: risk score, policy decision, `policy.decision`
//! audit, deny and revoke) with the grant's `aal1` ceiling. This file
//! only reads the form, maps the outcome to RFC 6749 errors and mints the
//! tokens. Because a password is one
//! factor, the grant is refused whenever the client or the policy wants
//! more than `aal1`: the answer is `invalid_grant` saying that interactive
//! sign-in is required, and the user signs in through `/authorize`.

use super::OAuthError;
use super::client_auth::Form;
use super::grant::{AuthContext, RefreshData};
use super::token_response::{Caller, TokenResponse};
use super::tokens::{access_token, id_token};
use crate::login::factor::PasswordProof;
use crate::login::flow::{FlowError, GrantStep, Origin, Refusal};
use crate::login::{Level, Method, ProvenFactor, amr_of};
use crate::state::AppState;
use crate::store::ClientRow;

/// Runs the grant for an authenticated client that opted in.
pub async fn password_grant(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
    caller: &Caller,
) -> Result<TokenResponse, OAuthError> {
    let username = form
        .get("username")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| OAuthError::invalid_request("username is required"))?;
    let pw = crate::secret::Secret::new(
        form.get("password")
            .cloned()
            .ok_or_else(|| OAuthError::invalid_request("password is required"))?,
    );
    let scope = requested_scope(client, form)?;
    let origin = Origin {
        ip: caller.ip.clone(),
        user_agent: caller.user_agent.clone(),
        ..Origin::default()
    };
    let proof = PasswordProof {
        username: username.to_owned(),
        password: pw,
    };
    let flow = app.login_flow();
    // One time for the check, the gate and the tokens.
    let now = flow.now;
    let signed_in = flow.password_grant(&client.id, client.settings.default_level, proof, &origin);
    let (user, risk) = match signed_in.await.map_err(|e| match e {
        FlowError::Store(e) => OAuthError::from(e),
        e => {
            tracing::error!(error = %e, "password grant check failed");
            OAuthError::server_error()
        }
    })? {
        GrantStep::Granted { user, risk } => (user, risk),
        GrantStep::Refused(Refusal::Locked) => {
            return Err(OAuthError::invalid_grant(
                "too many failed attempts; try again later",
            ));
        }
        GrantStep::Refused(Refusal::Busy) => {
            return Err(OAuthError::temporarily_unavailable(
                "too many sign-ins at once; retry shortly",
            ));
        }
        GrantStep::Refused(Refusal::Unavailable) => {
            return Err(OAuthError::temporarily_unavailable(
                "sign-in is unavailable right now; retry later",
            ));
        }
        GrantStep::Refused(_) => {
            return Err(OAuthError::invalid_grant(
                "the username or password is incorrect",
            ));
        }
        GrantStep::Denied => {
            return Err(OAuthError::invalid_grant(
                "the sign-in was refused by the security policy",
            ));
        }
        GrantStep::Interactive { required } => {
            return Err(OAuthError::invalid_grant(format!(
                "interactive sign-in is required: this sign-in needs {} (more than a password); use the authorization code flow",
                required.acr()
            )));
        }
    };
    let proven = [ProvenFactor {
        method: Method::Password,
        at: now,
    }];
    let auth = AuthContext {
        acr: Level::Aal1.acr().to_owned(),
        amr: amr_of(&proven).into_iter().map(str::to_owned).collect(),
        auth_time: now,
        sid: None,
    };
    let grant_id = crate::secret::random_id(16);
    let refresh = if client.settings.allows_grant("refresh_token") {
        let token = crate::secret::random_token(32);
        app.store
            .insert_grant_with_refresh(
                &grant_id,
                &client.id,
                &user.id,
                &super::client::hash_secret(token.expose()),
                &RefreshData {
                    scope: scope.clone(),
                    auth: auth.clone(),
                },
                now,
                now + app.config.tokens.refresh_token_ttl,
            )
            .await?;
        Some(token.expose().to_string())
    } else {
        app.store
            .insert_grant(&grant_id, &client.id, &user.id, now)
            .await?;
        None
    };
    let at = access_token(
        app,
        &client.id,
        client.settings.audience(&client.id),
        &user.id,
        &scope,
        Some(&auth),
        Some(&grant_id),
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
            &auth,
            client.settings.identity_claims.as_ref(),
            now,
        )?)
    } else {
        None
    };
    app.metrics.login("success");
    app.audit(
        "login.success",
        &user.id,
        &client.id,
        serde_json::json!({
            "ip": caller.ip,
            "amr": auth.amr,
            "acr": auth.acr,
            "grant": "password",
            "score": risk.score,
            "policy_version": risk.policy_version,
        }),
    )
    .await;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        refresh_token: refresh,
        id_token: id,
        scope: scope.join(" "),
    })
}

/// The scope asked for, limited to the client's; `openid` by default.
fn requested_scope(client: &ClientRow, form: &Form) -> Result<Vec<String>, OAuthError> {
    let asked: Vec<String> = match form.get("scope") {
        Some(s) => s
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec!["openid".to_owned()],
    };
    if let Some(bad) = asked.iter().find(|s| !client.settings.scopes.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "scope {bad:?} is not available to this client"
        )));
    }
    Ok(asked)
}
