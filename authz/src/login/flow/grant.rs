//! The resource-owner password grant's sign-in (`oauth/password_grant.rs`
//! turns it into tokens): the password factor's guarded check, then the
//! same gate as every interactive sign-in, with what the grant cannot do
//! as its inputs — there is no interaction to keep, no second factor can
//! be asked for (so whether the user has one stays unknown), and the
//! grant can prove no more than `aal1`.

use super::{FlowError, Gate, Gated, LoginFlow, Origin, Refusal};
use crate::decision::login::LoginRisk;
use crate::login::factor::{Asker, PasswordProof};
use crate::login::{Level, Method, ProvenFactor, Requirement};
use crate::store::UserRow;

/// The grant's name in the audit records and the `policy.decision`'s
/// `interaction` field.
const GRANT: &str = "password";

/// How the grant's sign-in ended.
#[derive(Debug)]
pub enum GrantStep {
    /// Signed in at `aal1`; the login has joined the risk history. Boxed:
    /// the other answers are a word.
    Granted {
        user: Box<UserRow>,
        risk: Box<LoginRisk>,
    },
    /// The password check refused (wrong, locked, busy, unavailable).
    Refused(Refusal),
    /// The policy denied the login (revoking when it said so).
    Denied,
    /// The client or the policy wants more than a password: audited as
    /// `login.interactive_required`; the user signs in at `/authorize`.
    Interactive { required: Level },
}

impl LoginFlow<'_> {
    /// The password grant for `client` (whose default level is
    /// `default_level`): guarded check, then [`LoginFlow::decide`].
    pub async fn password_grant(
        &self,
        client: &str,
        default_level: Level,
        proof: PasswordProof,
        origin: &Origin,
    ) -> Result<GrantStep, FlowError> {
        let asker = Asker {
            client,
            grant: Some(GRANT),
            expected_user: None,
        };
        let user = match self.check_password(asker, proof, origin).await? {
            Ok(u) => u,
            Err(why) => return Ok(GrantStep::Refused(why)),
        };
        let proven = [ProvenFactor {
            method: Method::Password,
            at: self.now,
        }];
        let gate = Gate {
            user: &user,
            client,
            reference: "password-grant",
            acr_values: &[],
            max_age: None,
            base: Requirement {
                level: default_level,
                max_age: None,
            },
            proven: &proven,
            second_factor: None,
            ceiling: Some(Level::Aal1),
            grant: Some(GRANT),
        };
        let risk = match self.decide(gate, origin).await {
            Gated::Allowed { risk, .. } => risk,
            Gated::Beyond { required } => return Ok(GrantStep::Interactive { required }),
            Gated::Denied { .. } => return Ok(GrantStep::Denied),
        };
        if let Err(e) = self.decisions.learn(self.store, &risk, self.now).await {
            tracing::error!(error = %e, "cannot update the risk history");
        }
        Ok(GrantStep::Granted {
            user: Box::new(user),
            risk,
        })
    }
}
