//! The resource-owner password grant (RFC 6749 §4.3), for the relying
//! parties that insist on it (vCenter's Okta-style wizard asks for it).
//!
//! It exists only as a per-client opt-in (`password_grant = true`) and is
//! a login like any other: the same attempts guard and password check
//! (`LoginFlow::check_password`), the same risk score and
//! policy decision, the same audit records. Because a password is one
//! factor, the grant is refused whenever the client or the policy wants
//! more than `aal1`: the answer is `invalid_grant` saying that interactive
//! sign-in is required, and the user signs in through `/authorize`.

use super::OAuthError;
use super::client_auth::Form;
use super::grant::{AuthContext, RefreshData};
use super::token_response::{Caller, TokenResponse};
use super::tokens::{access_token, id_token};
use crate::decision::login::{LoginRequest, LoginRisk, assess, audit_data, requirement_after};
use crate::login::flow::{Asker, Origin, Refusal};
use crate::login::{Level, Method, ProvenFactor, Requirement, amr_of};
use crate::state::AppState;
use crate::store::ClientRow;
use tollgate_risk::policy::Outcome;

/// Runs the grant for an authenticated client that opted in.
pub async fn password_grant(
    app: &AppState,
    client: &ClientRow,
    form: &Form,
    caller: &Caller,
) -> Result<TokenResponse, OAuthError> {
    let now = app.now();
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
    let asker = Asker {
        client: &client.id,
        grant: Some("password"),
        expected_user: None,
    };
    let origin = Origin {
        ip: caller.ip.clone(),
        user_agent: caller.user_agent.clone(),
        ..Origin::default()
    };
    let flow = app.login_flow();
    let checked = flow.check_password(asker, username, pw, &origin);
    let user = match checked.await.map_err(|e| match e {
        crate::login::flow::FlowError::Store(e) => OAuthError::from(e),
        e => {
            tracing::error!(error = %e, "password grant check failed");
            OAuthError::server_error()
        }
    })? {
        Ok(u) => u,
        Err(Refusal::Locked) => {
            return Err(OAuthError::invalid_grant(
                "too many failed attempts; try again later",
            ));
        }
        Err(Refusal::Busy) => {
            return Err(OAuthError::temporarily_unavailable(
                "too many sign-ins at once; retry shortly",
            ));
        }
        Err(Refusal::Unavailable) => {
            return Err(OAuthError::temporarily_unavailable(
                "sign-in is unavailable right now; retry later",
            ));
        }
        Err(_) => {
            return Err(OAuthError::invalid_grant(
                "the username or password is incorrect",
            ));
        }
    };

    // A login like any other: scored and decided.
    let proven = [ProvenFactor {
        method: Method::Password,
        at: now,
    }];
    let ip = caller
        .ip
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let req = LoginRequest {
        client: &client.id,
        ip,
        user_agent: &caller.user_agent,
        device_hash: None,
        acr_values: &[],
        max_age: None,
        proven: &proven,
        // Unknown here: rules on it do not match, the stricter reading.
        second_factor: None,
        // A relying party's server, not a browser: nothing to compare.
        signals: None,
    };
    let made = assess(&app.decisions, &app.store, &user, &req, now).await;
    app.metrics.decision("login", made.decision.outcome.kind());
    app.audit(
        "policy.decision",
        &user.login,
        &client.id,
        audit_data(&made, "password-grant"),
    )
    .await;
    crate::decision::effects::announce(app.audit_sink(), "login", &user.login, &made.decision)
        .await;
    let base = Requirement {
        level: client.settings.default_level,
        max_age: None,
    };
    let policy = app.decisions.current();
    let required = match requirement_after(base, &made.decision, &policy.policy) {
        Some(r) => r,
        None => {
            if let Outcome::Deny { revoke: true, .. } = made.decision.outcome {
                crate::decision::effects::revoke_everything(
                    app.revoker(),
                    app.audit_sink(),
                    &user,
                    None,
                    &made.decision.policy_version,
                    now,
                )
                .await;
            }
            app.metrics.login("denied");
            return Err(OAuthError::invalid_grant(
                "the sign-in was refused by the security policy",
            ));
        }
    };
    if required.level > Level::Aal1 {
        app.audit(
            "login.interactive_required",
            &user.login,
            &client.id,
            serde_json::json!({"required": required.level.acr(), "grant": "password"}),
        )
        .await;
        return Err(OAuthError::invalid_grant(format!(
            "interactive sign-in is required: this sign-in needs {} (more than a password); use the authorization code flow",
            required.level.acr()
        )));
    }
    if let Err(e) = app.decisions.learn(&app.store, &made.event, now).await {
        tracing::error!(error = %e, "cannot update the risk history");
    }
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
            "score": LoginRisk::of(&made).score,
            "policy_version": &*made.decision.policy_version,
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
