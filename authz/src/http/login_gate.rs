//! The policy gate of a sign-in: once the user is known, the decision
//! point decides (audited as `policy.decision`) and the interaction's
//! requirement becomes the stronger of its own and the policy's; a deny
//! ends the sign-in (and, with `revoke`, everything the user holds).

use super::cookies;
use super::error::PageError;
use super::interaction::{device_hash, user_agent};
use crate::login::Interaction;
use crate::login::interaction::FactorKind;
use crate::state::App;
use axum::http::HeaderMap;

/// The policy decision for a login whose user is now known: recorded in
/// the interaction and the audit log, then applied to its requirement.
/// `Err` ends the login (a deny, or a store error).
pub(super) async fn gate(
    app: &App,
    ix: &mut Interaction,
    enrolled: &[FactorKind],
    headers: &HeaderMap,
    ip: &str,
) -> Result<(), PageError> {
    use crate::decision::login::{LoginRequest, LoginRisk, assess, audit_data, requirement_after};
    let now = app.now();
    let Some(uid) = ix.user_id.clone() else {
        return Ok(());
    };
    let user = app.store.user(&uid).await?.ok_or(PageError::Forbidden {
        title: "Sign-in refused",
        message: "This account does not exist any more.",
    })?;
    let device = device_hash(app, headers);
    let signals = super::signals::read(headers, ix.tz_offset_min);
    let addr = ip
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let req = LoginRequest {
        client: &ix.request.client_id,
        ip: addr,
        user_agent: user_agent(headers),
        device_hash: device.as_deref(),
        acr_values: &ix.request.acr_values,
        max_age: ix.request.max_age,
        proven: &ix.proven,
        second_factor: Some(enrolled.iter().any(|k| *k != FactorKind::Password)),
        signals: Some(&signals),
    };
    let made = assess(&app.decisions, &app.store, &user, &req, now).await;
    app.metrics.decision("login", made.decision.outcome.kind());
    app.audit(
        "policy.decision",
        &user.login,
        &ix.request.client_id,
        audit_data(&made, &ix.id),
    )
    .await;
    crate::decision::effects::announce(app, "login", &user.login, &made.decision).await;
    ix.risk = Some(LoginRisk::of(&made));
    let policy = app.decisions.current();
    match requirement_after(ix.requirement, &made.decision, &policy.policy) {
        Some(r) => {
            ix.requirement = r;
            Ok(())
        }
        None => {
            let _ = app.store.take_interaction(&ix.id).await;
            app.metrics.login("denied");
            if let tollgate_risk::policy::Outcome::Deny { revoke: true, .. } = made.decision.outcome
            {
                crate::decision::effects::revoke_everything(
                    app,
                    &user,
                    device.as_deref(),
                    &made.decision.policy_version,
                    now,
                )
                .await;
            }
            Err(PageError::PolicyDenied {
                set_cookie: cookies::Jar::of(app).clear(cookies::SESSION),
            })
        }
    }
}
