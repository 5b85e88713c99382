//! `/account/devices*`: the signed-in user's enrollment codes and devices
//! (JSON, the account CSRF token in [`CSRF_HEADER`]). Thin adapters over
//! `crate::agent`.

use super::respond::ok;
use super::session::current_session;
use crate::agent::manage::{self, Actor};
use crate::agent::{AgentError, enroll};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

/// The signed-in session, or 401.
pub(super) async fn signed_in(
    app: &App,
    h: &HeaderMap,
) -> Result<crate::store::SessionRow, AgentError> {
    current_session(app, h)
        .await?
        .ok_or_else(|| AgentError::new(401, "login_required", "sign in first"))
}

/// The header a signed-in browser's script sends the account CSRF token in
/// (the `csrf` of the `/account` page) on the device calls that change
/// state. `SameSite=Lax` alone does not stop a sibling subdomain, and a
/// cross-site form can set no header.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in session of a state-changing `/account/devices` call, once
/// its CSRF token matched (a mismatch is audited, 403 `csrf_mismatch`).
pub(super) async fn signed_in_change(
    app: &App,
    h: &HeaderMap,
    change: &str,
) -> Result<crate::store::SessionRow, AgentError> {
    let s = signed_in(app, h).await?;
    let want = super::session::csrf_of(app, h).unwrap_or_default();
    let got = h
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if want.is_empty() || !crate::secret::ct_eq(got.as_bytes(), want.as_bytes()) {
        app.audit(
            "account.csrf_mismatch",
            &s.user_id,
            change,
            serde_json::json!({"sid": s.id}),
        )
        .await;
        return Err(AgentError::new(
            403,
            "csrf_mismatch",
            format!("send the account page's CSRF token in {CSRF_HEADER}"),
        ));
    }
    Ok(s)
}

/// The pseudo-client a policy names to set the level device enrollment
/// needs (`when: {client: [tollgate-devices]}`).
pub const DEVICES_CLIENT: &str = "tollgate-devices";

/// `POST /account/devices/enroll-code`: a code for `tollgate-agent enroll`,
/// with the account CSRF token in [`CSRF_HEADER`]. A code binds a factor,
/// so, like every other binding, it needs a sign-in within `[authenticators]
/// reauth_window` at the level of the strongest factor held
/// (`login::to_change_factors`); then the policy decides the level the
/// session must have (client `tollgate-devices`, action `request`). Below
/// either the answer is 403 `insufficient_user_authentication` naming the
/// level.
pub async fn enroll_code(
    State(app): State<App>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    h: HeaderMap,
) -> Result<Response, AgentError> {
    let session = signed_in_change(&app, &h, "device.enroll_code").await?;
    let need = super::account_guard::change_requirement(&app, &session.user_id).await;
    if !need.met_by(&session.factors, app.now()) {
        return Err(AgentError::new(
            403,
            "insufficient_user_authentication",
            format!(
                "enrolling a device needs a sign-in at {} within {} s with your strongest \
                 factor; sign in again at /account/reauth",
                need.level.acr(),
                need.max_age.unwrap_or_default()
            ),
        ));
    }
    let now = app.now();
    let user = app
        .store
        .user(&session.user_id)
        .await?
        .ok_or_else(|| AgentError::new(401, "login_required", "sign in first"))?;
    let level = crate::login::Level::reached(&session.factors);
    let ip = super::observe::client_ip(&app, peer, &h).parse().ok();
    // Enrolling a device binds a factor: the policy asks aal2 of users who
    // already have a second factor, and lets a user with none get a first
    // one with the password (`device-enrollment*` rules, docs/policy.md).
    // An active device is the `Device` kind: one read of what the user holds.
    let second_factor = crate::login::factor::enrolled(&app.store, &user.id)
        .await?
        .iter()
        .any(|k| *k != crate::login::interaction::FactorKind::Password);
    let attributes = crate::decision::login::user_attributes(&user);
    let history = app
        .decisions
        .cached_history(&app.store, &user.login, now)
        .await;
    let made = app
        .decisions
        .decide(
            crate::decision::Subject {
                login: &user.login,
                groups: &user.groups,
                attributes: &attributes,
            },
            &crate::decision::Request {
                client: Some(DEVICES_CLIENT),
                action: tollgate_risk::policy::Action::Request,
                path: Some("/account/devices/enroll-code"),
                ip,
                user_agent: h
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                session: level.map(|l| tollgate_risk::policy::SessionState {
                    acr: l.acr(),
                    auth_time: session.auth_time,
                }),
                second_factor: Some(second_factor),
                ..crate::decision::Request::default()
            },
            history.as_ref(),
            false,
            false,
            now,
        )
        .await;
    app.metrics
        .decision("device_enroll", made.decision.outcome.kind());
    match &made.decision.outcome {
        tollgate_risk::policy::Outcome::Allow => {}
        tollgate_risk::policy::Outcome::StepUp {
            required_acr,
            max_age,
        } => {
            let within = max_age
                .map(|m| format!(" within {m} s"))
                .unwrap_or_default();
            return Err(AgentError::new(
                403,
                "insufficient_user_authentication",
                format!(
                    "enrolling a device needs a sign-in at {required_acr}{within}; sign in again with a stronger factor"
                ),
            ));
        }
        tollgate_risk::policy::Outcome::Deny { .. } => {
            app.audit(
                "policy.decision",
                &user.login,
                DEVICES_CLIENT,
                serde_json::json!({"point": "device_enroll", "decision": made.decision}),
            )
            .await;
            return Err(AgentError::new(
                403,
                "access_denied",
                "the security policy does not allow enrolling a device now",
            ));
        }
    }
    let (code, expires_at) = enroll::issue_code(&app, &user.id, now).await?;
    Ok(ok(
        serde_json::json!({"code": code.expose(), "expires_at": expires_at}),
    ))
}

/// `GET /account/devices`.
pub async fn my_devices(State(app): State<App>, h: HeaderMap) -> Result<Response, AgentError> {
    let user = signed_in(&app, &h).await?.user_id;
    Ok(ok(
        serde_json::json!({"devices": manage::list(&app.store, Some(&user)).await?}),
    ))
}

/// `POST /account/devices/{id}/revoke`, with the account CSRF token in
/// [`CSRF_HEADER`]. No fresh sign-in: a user whose device was stolen must
/// be able to cut it off with the session they have.
pub async fn revoke_mine(
    State(app): State<App>,
    Path(id): Path<String>,
    h: HeaderMap,
) -> Result<Response, AgentError> {
    let user = signed_in_change(&app, &h, "device.revoke").await?.user_id;
    manage::revoke(&app.store, Actor::User(&user), &id, app.now()).await?;
    Ok(ok(
        serde_json::json!({"device_id": id, "status": "revoked"}),
    ))
}
