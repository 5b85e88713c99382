//! The policy gate of a sign-in: once the user is known, the decision
//! point decides (audited as `policy.decision`) and the login's
//! requirement becomes the stronger of its own and the policy's; a deny
//! ends the sign-in (and, with `revoke`, everything the user holds).
//! Every factor, a carried browser session (`/authorize`) and the password
//! grant pass here: [`LoginFlow::decide`] is the one place a login is
//! assessed, audited and mapped to allow / step-up / deny; what differs
//! between them (an interaction to record it in, whether a second factor
//! is known, the most the path can prove) comes in as a [`Gate`].

use super::{FlowError, LoginFlow, Origin, Step};
use crate::decision::login::{LoginRequest, LoginRisk, assess, audit_data, requirement_after};
use crate::login::interaction::FactorKind;
use crate::login::{Interaction, Level, ProvenFactor, Requirement};
use crate::store::UserRow;
use tollgate_risk::policy::Outcome;

/// One login at the gate: who, for which client, with what proven, and
/// what the path asking can do.
pub struct Gate<'a> {
    pub user: &'a UserRow,
    pub client: &'a str,
    /// What names the login in the `policy.decision` record: the
    /// interaction's id, or the grant.
    pub reference: &'a str,
    /// The request's `acr_values` and `max_age` (none for a grant).
    pub acr_values: &'a [String],
    pub max_age: Option<i64>,
    /// What the login must reach before the policy speaks (client default
    /// and request).
    pub base: Requirement,
    pub proven: &'a [ProvenFactor],
    /// Whether the user has a factor besides the password (`None`:
    /// unknown, so rules on it do not match — the stricter reading).
    pub second_factor: Option<bool>,
    /// The most this path can prove (the password grant: `aal1`, it
    /// cannot ask for a second factor); `None` when it can step up.
    pub ceiling: Option<Level>,
    /// The grant asking, named in the audit records (`None`: a sign-in).
    pub grant: Option<&'a str>,
}

/// What the gate made of a login.
#[derive(Debug)]
pub enum Gated {
    /// Go on: the login must reach `requirement` (the stronger of the
    /// base and the policy's).
    Allowed {
        requirement: Requirement,
        /// Boxed: the other answers are a word.
        risk: Box<LoginRisk>,
    },
    /// The policy needs more than the path's ceiling: audited as
    /// `login.interactive_required`.
    Beyond { required: Level },
    /// The policy refused; with `revoke`, everything the user held is
    /// revoked already.
    Denied { revoke: bool },
}

impl LoginFlow<'_> {
    /// Scores and decides one login, audits it as `policy.decision` (and
    /// announces it), and maps the decision: a deny (revoking when it
    /// says so), a requirement above the path's ceiling, or the
    /// requirement the login must now reach.
    pub async fn decide(&self, gate: Gate<'_>, origin: &Origin) -> Gated {
        let now = self.now;
        let user = gate.user;
        let addr = origin
            .ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let req = LoginRequest {
            client: gate.client,
            ip: addr,
            user_agent: &origin.user_agent,
            device_hash: origin.device_hash.as_deref(),
            acr_values: gate.acr_values,
            max_age: gate.max_age,
            proven: gate.proven,
            second_factor: gate.second_factor,
            signals: origin.signals.present().then_some(&origin.signals),
        };
        let (made, history) = assess(self.decisions, self.store, user, &req, now).await;
        self.metrics.decision("login", made.decision.outcome.kind());
        self.audit
            .record(
                "policy.decision",
                &user.login,
                gate.client,
                audit_data(&made, gate.reference),
            )
            .await;
        crate::decision::effects::announce(self.audit, "login", &user.login, &made.decision).await;
        let policy = self.decisions.current();
        let Some(requirement) = requirement_after(gate.base, &made.decision, &policy.policy) else {
            self.metrics.login("denied");
            let revoke = matches!(made.decision.outcome, Outcome::Deny { revoke: true, .. });
            if revoke {
                crate::decision::effects::revoke_everything(
                    self.revoker,
                    self.audit,
                    user,
                    origin.device_hash.as_deref(),
                    &made.decision.policy_version,
                    now,
                )
                .await;
            }
            return Gated::Denied { revoke };
        };
        if let Some(ceiling) = gate.ceiling
            && requirement.level > ceiling
        {
            let mut data = serde_json::json!({"required": requirement.level.acr()});
            if let Some(g) = gate.grant {
                data["grant"] = g.into();
            }
            self.audit
                .record("login.interactive_required", &user.login, gate.client, data)
                .await;
            return Gated::Beyond {
                required: requirement.level,
            };
        }
        Gated::Allowed {
            requirement,
            risk: Box::new(LoginRisk::of(&made, history)),
        }
    }

    /// The gate of an interaction whose user is now known: decided (see
    /// [`LoginFlow::decide`]), the decision kept in the interaction and
    /// applied to its requirement. `Some(Step::Denied)` ends the login and
    /// drops the interaction.
    pub async fn gate(
        &self,
        ix: &mut Interaction,
        user: Option<&UserRow>,
        enrolled: &[FactorKind],
        origin: &Origin,
    ) -> Result<Option<Step>, FlowError> {
        if ix.user_id.is_none() {
            return Ok(None);
        }
        // Read with `enrolled`, in this request (`LoginFlow::known`).
        let user = user.ok_or(FlowError::UserGone)?;
        let gate = Gate {
            user,
            client: &ix.request.client_id,
            reference: &ix.id,
            acr_values: &ix.request.acr_values,
            max_age: ix.request.max_age,
            base: ix.requirement,
            proven: &ix.proven,
            second_factor: Some(enrolled.iter().any(|k| *k != FactorKind::Password)),
            // A sign-in asks for whatever factor the requirement needs.
            ceiling: None,
            grant: None,
        };
        let revoke = match self.decide(gate, origin).await {
            Gated::Allowed { requirement, risk } => {
                ix.requirement = requirement;
                ix.risk = Some(*risk);
                return Ok(None);
            }
            Gated::Denied { revoke } => revoke,
            // Not with `ceiling: None`; fail closed all the same.
            Gated::Beyond { .. } => false,
        };
        if let Err(e) = self.store.take_interaction(&ix.id).await {
            tracing::warn!(error = %e, "cannot drop a denied interaction");
        }
        Ok(Some(Step::Denied { revoke }))
    }
}
