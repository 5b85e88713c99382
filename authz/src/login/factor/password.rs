//! The password: something you know. Verified by its [`Backend`] — argon2
//! against the local hash, or a bind to the directory that owns the user
//! (`password_check.rs` runs either after the attempts guard reserved the
//! attempt): the attempts guard (`user:<login>` and the IP) before the
//! check, and what a failure feeds (the risk counters, the audit log). The
//! same check serves the interactive sign-in and the password grant
//! (`LoginFlow::password_grant`). Enrolled by an administrator
//! (`users set-password`), a reset link, `/account`, or by the directory.

use super::{Proven, Spec};
use crate::login::flow::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::interaction::FactorKind;
use crate::login::lockout::{Guard, Refused};
use crate::login::password_check::{self, Outcome};
use crate::login::{Interaction, Level, Method};
use crate::secret::Secret;
use crate::store::{AccountRow, Holdings, Store, StoreError, UserRow};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Password,
    amr: &["pwd"],
    best_case: Method::Password,
    proves: Level::Aal1,
    verified: "argon2id against the local hash, or an LDAP bind to the user's directory",
    enrolled: "users set-password, a reset link, /account, or the user's directory",
};

/// Where a user's password is checked: the seam a new password source
/// (another directory protocol, a remote verifier) is added at.
#[derive(Debug)]
pub enum Backend {
    /// A local user: argon2id against `password_hash`.
    Local(UserRow),
    /// A user a directory owns: a bind as the user to that directory.
    Directory { user: UserRow, account: AccountRow },
    /// No user here by that login: each directory may know it (just in
    /// time creation), else the password is wrong.
    Unknown,
}

/// The backend that checks `login`'s password.
pub async fn backend(store: &Store, login: &str) -> Result<Backend, StoreError> {
    Ok(match store.user_by_login_with_account(login).await? {
        None => Backend::Unknown,
        Some((user, Some(account))) => Backend::Directory { user, account },
        Some((user, None)) => Backend::Local(user),
    })
}

/// Whether `user` signs in with a password: a local hash, or a directory
/// that owns the user.
pub fn enrolled(user: &UserRow, h: &Holdings) -> bool {
    user.password_hash.is_some() || h.directory_account
}

/// Username and password, as the form or the grant sent them.
pub struct PasswordProof {
    pub username: String,
    pub password: Secret,
}

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
    /// Checks the password for `ix`: the user it names, or why not.
    pub(in crate::login) async fn verify_password(
        &self,
        ix: &Interaction,
        proof: PasswordProof,
        origin: &Origin,
    ) -> Result<Result<Proven, Refusal>, FlowError> {
        let asker = Asker {
            client: &ix.request.client_id,
            grant: None,
            expected_user: ix.user_id.as_deref(),
        };
        let checked = self.check_password(asker, proof, origin).await?;
        Ok(checked.map(|user| Proven {
            method: Method::Password,
            user: Some(user),
            followup: None,
        }))
    }

    /// The guarded password check: reserve an attempt, verify, and say how
    /// it ended (a success clears the user's key; a failure stays counted
    /// and feeds the risk counters; a verifier that could not judge gives
    /// the attempt back).
    pub(in crate::login) async fn check_password(
        &self,
        asker: Asker<'_>,
        proof: PasswordProof,
        origin: &Origin,
    ) -> Result<Result<UserRow, Refusal>, FlowError> {
        let PasswordProof { username, password } = proof;
        let username = username.as_str();
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
