//! The policy gate of a sign-in: once the user is known, the decision
//! point decides (audited as `policy.decision`) and the interaction's
//! requirement becomes the stronger of its own and the policy's; a deny
//! ends the sign-in (and, with `revoke`, everything the user holds).
//! Every factor and a carried browser session (`/authorize`) pass here.

use super::{FlowError, LoginFlow, Origin, Step};
use crate::decision::login::{LoginRequest, LoginRisk, assess, audit_data, requirement_after};
use crate::login::Interaction;
use crate::login::interaction::FactorKind;
use tollgate_risk::policy::Outcome;

impl LoginFlow<'_> {
    /// The policy decision for a login whose user is now known: recorded
    /// in the interaction and the audit log, then applied to its
    /// requirement. `Some(Step::Denied)` ends the login.
    pub async fn gate(
        &self,
        ix: &mut Interaction,
        enrolled: &[FactorKind],
        origin: &Origin,
    ) -> Result<Option<Step>, FlowError> {
        let now = self.now;
        let Some(uid) = ix.user_id.clone() else {
            return Ok(None);
        };
        let user = self.store.user(&uid).await?.ok_or(FlowError::UserGone)?;
        let addr = origin
            .ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let req = LoginRequest {
            client: &ix.request.client_id,
            ip: addr,
            user_agent: &origin.user_agent,
            device_hash: origin.device_hash.as_deref(),
            acr_values: &ix.request.acr_values,
            max_age: ix.request.max_age,
            proven: &ix.proven,
            second_factor: Some(enrolled.iter().any(|k| *k != FactorKind::Password)),
            signals: origin.signals.present().then_some(&origin.signals),
        };
        let made = assess(self.decisions, self.store, &user, &req, now).await;
        self.metrics.decision("login", made.decision.outcome.kind());
        self.audit
            .record(
                "policy.decision",
                &user.login,
                &ix.request.client_id,
                audit_data(&made, &ix.id),
            )
            .await;
        crate::decision::effects::announce(self.audit, "login", &user.login, &made.decision).await;
        ix.risk = Some(LoginRisk::of(&made));
        let policy = self.decisions.current();
        if let Some(r) = requirement_after(ix.requirement, &made.decision, &policy.policy) {
            ix.requirement = r;
            return Ok(None);
        }
        if let Err(e) = self.store.take_interaction(&ix.id).await {
            tracing::warn!(error = %e, "cannot drop a denied interaction");
        }
        self.metrics.login("denied");
        let revoke = matches!(made.decision.outcome, Outcome::Deny { revoke: true, .. });
        if revoke {
            crate::decision::effects::revoke_everything(
                self.revoker,
                self.audit,
                &user,
                origin.device_hash.as_deref(),
                &made.decision.policy_version,
                now,
            )
            .await;
        }
        Ok(Some(Step::Denied { revoke }))
    }
}
