//! The sign-in as one service, knowing nothing about HTTP: a `LoginFlow`
//! takes an interaction and a [`Proof`] and answers the next [`Step`] as
//! data, which `http/` renders as a page, a redirect with cookies, or JSON.
//!
//! Inside [`LoginFlow::submit`], every factor goes the same way: attempts
//! guard → verify → prove → policy gate → next → finish. The gate
//! (`gate.rs`) is the one place a login is decided and audited as
//! `policy.decision`; the finish (`finish.rs`) the one place a session is
//! recorded and a code issued. Factor checks that refuse a proof answer
//! [`Step::Refused`] (the user's mistake or a busy verifier: a page, not
//! a fault); faults are [`FlowError`].

mod device;
mod finish;
mod gate;
mod otp;
mod password;
mod reauth;
#[cfg(test)]
mod tests;

use super::interaction::FactorKind;
use super::lockout::LockoutPolicy;
use super::unmet::HowToFix;
use super::{Interaction, Method, Next};
use crate::config::LoginConfig;
use crate::decision::DecisionPoint;
use crate::decision::effects::Revoker;
use crate::metrics::Metrics;
use crate::oauth::authorize::CodeIssuer;
use crate::secret::Secret;
use crate::store::{Audit, Store, StoreError};

pub use otp::open_totp;
pub use reauth::held_methods;

/// The pseudo-client id of the account pages' own sign-in: no code is
/// issued, the browser goes back to the page that asked.
pub const ACCOUNT_CLIENT: &str = "tollgate-account";

/// What the sign-in needs, and nothing else: not the app state. Built per
/// request (`http::flow`), so `now` is the request's time.
pub struct LoginFlow<'a> {
    pub store: &'a Store,
    pub decisions: &'a DecisionPoint,
    pub audit: Audit<'a>,
    pub metrics: &'a Metrics,
    /// For a deny that says `revoke`.
    pub revoker: Revoker<'a>,
    /// Issues the code at the end of the sign-in.
    pub codes: CodeIssuer<'a>,
    pub login: &'a LoginConfig,
    /// Per-user (or per-factor) and per-IP limits of the attempts guard.
    pub lockout: (LockoutPolicy, LockoutPolicy),
    /// Opens sealed TOTP secrets and agent OTP seeds.
    pub master: &'a crate::master_key::MasterKey,
    /// `[authenticators]` TOTP parameters.
    pub totp: super::totp::Params,
    /// The password factor's directory backends.
    pub directories: &'a crate::directory::Directories,
    /// Whether attested passkeys exist here (`phrh` reachable), for the
    /// words of an unmet level.
    pub attested_passkeys: bool,
    /// `[authenticators] reauth_window`: how recent a sign-in must be for
    /// a change to the user's factors.
    pub reauth_window: i64,
    pub now: i64,
}

/// Where the request comes from, as the HTTP layer read it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
    /// SHA-256 (hex) of the `tg_device` cookie, never the cookie.
    pub device_hash: Option<String>,
    /// SHA-256 of the browser's session cookie, if it sent one: a step-up
    /// of that session replaces its secret instead of starting another.
    pub session_hash: Option<String>,
}

/// What the user presented for this step.
pub enum Proof {
    /// Username and password, checked here behind the `user:<login>` guard.
    Password { username: String, password: Secret },
    /// A one-time code (TOTP, agent OTP or recovery code) for the known
    /// user, checked here behind the `totp:<login>` guard.
    Code { code: String },
    /// "I approved it on my device": the interaction's approval, consumed
    /// here once.
    DeviceApproval,
    /// A factor the HTTP layer already verified with its own ceremony (a
    /// passkey assertion: WebAuthn state and JSON stay with its endpoint),
    /// with the user it identified. It still goes through the same gate,
    /// next and finish.
    Verified {
        method: Method,
        user: Option<(String, String)>,
    },
}

/// Why a factor check refused a proof. The interaction is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong secret (or another user's): counted by the attempts guard.
    Wrong,
    /// A one-time code that was right once and is used again.
    Replayed,
    /// The key or the IP used up its attempts: 429.
    Locked,
    /// The verifier is saturated; the attempt was given back: 503.
    Busy,
    /// The directory could not judge; the attempt was given back: 503.
    Unavailable,
    /// The device has not approved (yet), or the approval was used.
    Pending,
    /// The form is not usable (an empty or overlong username): 400.
    Malformed,
}

/// The next step of a sign-in, as data.
#[derive(Debug)]
pub enum Step {
    /// The interaction was saved: show its page (identify, or `next`).
    Show {
        id: String,
        next: Next,
        enrolled: Vec<FactorKind>,
    },
    /// The user cannot reach the level: saved until it expires, so a factor
    /// added on `/account` lets the same sign-in go on.
    Unmet { id: String, how_to_fix: HowToFix },
    /// Signed in: the session is recorded with this new cookie secret and
    /// the browser goes to `redirect` (the client with a code, or the
    /// account page).
    Complete {
        redirect: String,
        session_token: Secret,
    },
    /// The policy refused the login; the interaction is gone, and with
    /// `revoke` everything the user held.
    Denied { revoke: bool },
    /// The factor check refused the proof; the interaction comes back
    /// unchanged for its page.
    Refused { why: Refusal, ix: Box<Interaction> },
}

/// A fault of the sign-in, or a state the browser cannot go on from.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The step needs a known user and the interaction has none.
    #[error("the sign-in has no user")]
    NoUser,
    /// The user was removed while signing in.
    #[error("the account does not exist any more")]
    UserGone,
    /// A fault outside the store (a sealed secret that does not open).
    #[error("{0}")]
    Internal(String),
    /// Another request completed this interaction first.
    #[error("the sign-in was already completed")]
    AlreadyCompleted,
    /// A fault after the interaction was taken: the client is waiting, so
    /// it gets `server_error` at `redirect`.
    #[error("cannot finish the sign-in: {why}")]
    Finish { redirect: String, why: String },
}

impl LoginFlow<'_> {
    /// One step: the proof is checked (behind its attempts guard when it is
    /// a guessable secret), proven, and the sign-in advances.
    pub async fn submit(
        &self,
        mut ix: Interaction,
        proof: Proof,
        origin: &Origin,
    ) -> Result<Step, FlowError> {
        match proof {
            Proof::Password { username, password } => {
                match self.password(&ix, &username, password, origin).await? {
                    Ok(user) => {
                        ix.user_id = Some(user.id);
                        ix.login = Some(user.login);
                        ix.prove(Method::Password, self.now);
                    }
                    Err(why) => {
                        return Ok(Step::Refused {
                            why,
                            ix: Box::new(ix),
                        });
                    }
                }
            }
            Proof::Code { code } => {
                if let Err(why) = self.one_time_code(&ix, &code, origin).await? {
                    return Ok(Step::Refused {
                        why,
                        ix: Box::new(ix),
                    });
                }
                ix.prove(Method::Totp, self.now);
            }
            Proof::DeviceApproval => match self.device_approval(&ix, origin).await? {
                Ok(method) => ix.prove(method, self.now),
                Err(why) => {
                    return Ok(Step::Refused {
                        why,
                        ix: Box::new(ix),
                    });
                }
            },
            Proof::Verified { method, user } => {
                if let Some((id, login)) = user {
                    ix.user_id = Some(id);
                    ix.login = Some(login);
                }
                ix.prove(method, self.now);
            }
        }
        self.advance(ix, origin).await
    }

    /// After a proof: the gate (once the user is known and not yet
    /// decided), then the interaction's next step — saved for its page, or
    /// finished.
    pub async fn advance(&self, mut ix: Interaction, origin: &Origin) -> Result<Step, FlowError> {
        // Once for this request: the gate and the next step read the same list.
        let enrolled = self.enrolled(&ix).await?;
        if ix.risk.is_none()
            && ix.user_id.is_some()
            && let Some(denied) = self.gate(&mut ix, &enrolled, origin).await?
        {
            return Ok(denied);
        }
        match ix.next(&enrolled, self.now) {
            Next::Complete => self.finish(ix, origin).await,
            Next::Unmet => {
                self.audit
                    .record(
                        "login.unmet",
                        ix.user_id.as_deref().unwrap_or("anonymous"),
                        &ix.request.client_id,
                        serde_json::json!({"required": ix.requirement.level.acr()}),
                    )
                    .await;
                self.save(&ix).await?;
                let how_to_fix = self.how_to_fix(&ix, &enrolled);
                Ok(Step::Unmet {
                    id: ix.id,
                    how_to_fix,
                })
            }
            next @ (Next::Identify | Next::Factor(_)) => {
                self.save(&ix).await?;
                Ok(Step::Show {
                    id: ix.id,
                    next,
                    enrolled,
                })
            }
        }
    }

    /// What an unreachable level lacks, in words, for this interaction.
    pub fn how_to_fix(&self, ix: &Interaction, enrolled: &[FactorKind]) -> HowToFix {
        super::unmet::how_to_fix(
            ix.requirement.level,
            enrolled,
            client_name(ix),
            self.attested_passkeys,
            ix.request.client_id == ACCOUNT_CLIENT,
        )
    }

    /// Stores the interaction's state (one upsert).
    pub async fn save(&self, ix: &Interaction) -> Result<(), StoreError> {
        let data = serde_json::to_string(ix).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store
            .put_interaction(&ix.id, &data, ix.expires_at)
            .await
    }

    /// The factor kinds the interaction's user can sign in with now (the
    /// registry's `factor::enrolled`); before the user is known, the
    /// password. A store error is an error, never "enrolled in nothing".
    pub async fn enrolled(&self, ix: &Interaction) -> Result<Vec<FactorKind>, StoreError> {
        match &ix.user_id {
            None => Ok(vec![FactorKind::Password]),
            Some(uid) => super::factor::enrolled(self.store, uid).await,
        }
    }
}

/// What the pages call the relying party: its display name, else its id.
/// The account pages' own sign-in is "your account" (an English catalog
/// text, translated by the templates' `tr`).
pub fn client_name(ix: &Interaction) -> &str {
    if ix.request.client_id == ACCOUNT_CLIENT {
        return "your account";
    }
    ix.request
        .client_name
        .as_deref()
        .unwrap_or(&ix.request.client_id)
}
