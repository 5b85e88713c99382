//! The password step: the attempts guard (`user:<login>` and the IP)
//! before the check, the check on the password factor's backend (argon2
//! or a directory bind), and what a failure feeds (the risk counters, the
//! audit log). The same check serves the interactive sign-in and the
//! password grant (`oauth/password_grant.rs`).

use super::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::Interaction;
use crate::login::lockout::{Guard, Refused};
use crate::login::password_check::{self, Outcome};
use crate::secret::Secret;
use crate::store::UserRow;

/// Who asks for a password check: the client, and the grant when it is
/// not the interactive sign-in (it is named in the audit records).
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    pub client: &'a str,
    pub grant: Option<&'a str>,
    /// The user the sign-in already knows: a right password of another
    /// user is wrong.
    pub expected_user: Option<&'a str>,
}

impl LoginFlow<'_> {
    /// Checks `username`/`password` for `ix`: the user it names, or why not.
    pub(super) async fn password(
        &self,
        ix: &Interaction,
        username: &str,
        password: Secret,
        origin: &Origin,
    ) -> Result<Result<UserRow, Refusal>, FlowError> {
        let asker = Asker {
            client: &ix.request.client_id,
            grant: None,
            expected_user: ix.user_id.as_deref(),
        };
        self.check_password(asker, username, password, origin).await
    }

    /// The guarded password check: reserve an attempt, verify, and say how
    /// it ended (a success clears the user's key; a failure stays counted
    /// and feeds the risk counters; a verifier that could not judge gives
    /// the attempt back).
    pub async fn check_password(
        &self,
        asker: Asker<'_>,
        username: &str,
        password: Secret,
        origin: &Origin,
    ) -> Result<Result<UserRow, Refusal>, FlowError> {
        if username.is_empty() || username.len() > 256 {
            return Ok(Err(Refusal::Malformed));
        }
        let (now, ip) = (self.now, origin.ip.as_str());
        let with_grant = |mut v: serde_json::Value| {
            if let Some(g) = asker.grant {
                v["grant"] = g.into();
            }
            v
        };
        let guard = Guard::new("user", username, ip, self.lockout);
        let reserved = match guard.reserve(self.store, now).await {
            Ok(r) => r,
            Err(Refused::Locked) => {
                self.metrics.login("locked");
                let data = with_grant(serde_json::json!({"client": asker.client}));
                self.audit.record("login.locked", username, ip, data).await;
                return Ok(Err(Refusal::Locked));
            }
            Err(Refused::Store(e)) => return Err(e.into()),
        };
        let checked = password_check::check(self.store, self.directories, username, password, now);
        let user = match checked.await {
            Outcome::Verified(u) => Some(u),
            Outcome::Rejected => None,
            Outcome::Busy => {
                let _ = reserved.unchecked().await;
                return Ok(Err(Refusal::Busy));
            }
            Outcome::Unavailable => {
                // Not the user's fault: the attempt is given back.
                let _ = reserved.unchecked().await;
                self.metrics.login("unavailable");
                return Ok(Err(Refusal::Unavailable));
            }
        };
        let same_user = |u: &UserRow| asker.expected_user.is_none_or(|e| e == u.id);
        let Some(user) = user.filter(same_user) else {
            reserved.failed();
            self.metrics.login("failure");
            if let Ok(addr) = ip.parse() {
                self.decisions
                    .record_failure(username, addr, &origin.user_agent, now)
                    .await;
            }
            let data = with_grant(serde_json::json!({
                "client": asker.client,
                "factor": "password",
                "user_agent": origin.user_agent}));
            self.audit.record("login.failure", username, ip, data).await;
            return Ok(Err(Refusal::Wrong));
        };
        if let Err(e) = reserved.succeeded().await {
            tracing::error!(error = %e, "cannot clear the attempts counter");
        }
        Ok(Ok(user))
    }
}
