//! The password step: the attempts guard (`user:<login>` and the IP)
//! before the check, the check on the password factor's backend (argon2
//! or a directory bind), and what a failure feeds (the risk counters, the
//! audit log).

use super::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::Interaction;
use crate::login::lockout::{Guard, Refused};
use crate::login::password_check::{self, Outcome};
use crate::secret::Secret;
use crate::store::UserRow;

impl LoginFlow<'_> {
    /// Checks `username`/`password` for `ix`: the user it names, or why not.
    /// A right password of another user than the interaction's is wrong.
    pub(super) async fn password(
        &self,
        ix: &Interaction,
        username: &str,
        password: Secret,
        origin: &Origin,
    ) -> Result<Result<UserRow, Refusal>, FlowError> {
        if username.is_empty() || username.len() > 256 {
            return Ok(Err(Refusal::Malformed));
        }
        let (now, ip) = (self.now, origin.ip.as_str());
        let guard = Guard::new("user", username, ip, self.lockout);
        let reserved = match guard.reserve(self.store, now).await {
            Ok(r) => r,
            Err(Refused::Locked) => {
                self.metrics.login("locked");
                self.audit
                    .record(
                        "login.locked",
                        username,
                        ip,
                        serde_json::json!({"client": ix.request.client_id}),
                    )
                    .await;
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
        let same_user = ix.user_id.is_none() || user.as_ref().map(|u| &u.id) == ix.user_id.as_ref();
        let Some(user) = user.filter(|_| same_user) else {
            reserved.failed();
            self.metrics.login("failure");
            if let Ok(addr) = ip.parse() {
                self.decisions
                    .record_failure(username, addr, &origin.user_agent, now)
                    .await;
            }
            self.audit
                .record(
                    "login.failure",
                    username,
                    ip,
                    serde_json::json!({
                        "client": ix.request.client_id,
                        "factor": "password",
                        "user_agent": origin.user_agent}),
                )
                .await;
            return Ok(Err(Refusal::Wrong));
        };
        if let Err(e) = reserved.succeeded().await {
            tracing::error!(error = %e, "cannot clear the attempts counter");
        }
        Ok(Ok(user))
    }
}
