//! The sign-in as one service, knowing nothing about HTTP: a `LoginFlow`
//! takes an interaction and a [`Proof`] and answers the next [`Step`] as
//! data, which `http/` renders as a page, a redirect with cookies, or JSON.
//!
//! Inside [`LoginFlow::submit`], every factor goes the same way: attempts
//! guard → verify (in the factor's own file, `login/factor/<name>.rs`) →
//! prove → policy gate → next → finish. The gate
//! (`gate.rs`) is the one place a login is decided and audited as
//! `policy.decision`; the finish (`finish.rs`) the one place a session is
//! recorded and a code issued. Factor checks that refuse a proof answer
//! [`Step::Refused`] (the user's mistake or a busy verifier: a page, not
//! a fault); faults are [`FlowError`].

mod finish;
mod gate;
mod grant;
mod reauth;
mod step;
#[cfg(test)]
mod tests;

use super::interaction::FactorKind;
use super::lockout::LockoutPolicy;
use super::unmet::HowToFix;
use super::{Interaction, Next};
use crate::config::LoginConfig;
use crate::decision::DecisionPoint;
use crate::decision::effects::Revoker;
use crate::metrics::Metrics;
use crate::oauth::authorize::CodeIssuer;
use crate::store::{Audit, Stmt, Store, StoreError, UserRow};

pub use super::factor::open_totp;
pub use gate::{Gate, Gated};
pub use grant::GrantStep;
pub use reauth::held_methods;
pub use step::{FlowError, Origin, Proof, Refusal, Step};

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
    /// `[authenticators] rp_name`: the WebAuthn relying party's name (its
    /// id is the issuer's host).
    pub rp_name: &'a str,
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

impl LoginFlow<'_> {
    /// One step: the proof is checked by its factor (behind its attempts
    /// guard when it is a guessable secret), proven, and the sign-in
    /// advances. One arm per factor; every factor goes on the same way.
    pub async fn submit(
        &self,
        mut ix: Interaction,
        proof: Proof,
        origin: &Origin,
    ) -> Result<Step, FlowError> {
        let verified = match proof {
            Proof::Password(p) => self.verify_password(&ix, p, origin).await?,
            Proof::Otp(p) => self.verify_otp(&ix, p, origin).await?,
            Proof::Passkey(p) => self.verify_passkey(&ix, p, origin).await?,
            Proof::Device(p) => self.verify_device(&ix, p, origin).await?,
            #[cfg(test)]
            Proof::Verified(p) => Ok(p),
        };
        let proven = match verified {
            Ok(p) => p,
            Err(why) => {
                return Ok(Step::Refused {
                    why,
                    ix: Box::new(ix),
                });
            }
        };
        if let Some(user) = proven.user {
            ix.user_id = Some(user.id);
            ix.login = Some(user.login);
        }
        ix.prove(proven.method, self.now);
        let mut carried: Vec<Stmt> = proven
            .followup
            .iter()
            .map(|f| f.statement(self.now))
            .collect();
        let step = self.advance_carrying(ix, origin, &mut carried).await;
        // Not taken by the sign-in's end (it did not finish here, or
        // failed before its transaction): written on their own.
        if !carried.is_empty() {
            self.store.write_atomic(carried).await?;
        }
        step
    }

    /// After a proof: the gate (once the user is known and not yet
    /// decided), then the interaction's next step — saved for its page, or
    /// finished.
    pub async fn advance(&self, ix: Interaction, origin: &Origin) -> Result<Step, FlowError> {
        self.advance_carrying(ix, origin, &mut Vec::new()).await
    }

    /// [`LoginFlow::advance`] with the proof's follow-up writes, which the
    /// sign-in's end takes into its transaction (and leaves empty) when
    /// the sign-in finishes in this step.
    async fn advance_carrying(
        &self,
        mut ix: Interaction,
        origin: &Origin,
        carried: &mut Vec<Stmt>,
    ) -> Result<Step, FlowError> {
        // Once for this request: the gate and the next step read the same
        // user and list.
        let (user, enrolled) = self.known(&ix).await?;
        if ix.risk.is_none()
            && ix.user_id.is_some()
            && let Some(denied) = self.gate(&mut ix, user.as_ref(), &enrolled, origin).await?
        {
            return Ok(denied);
        }
        match ix.next(&enrolled, self.now) {
            Next::Complete => self.finish(ix, origin, carried).await,
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
        Ok(self.known(ix).await?.1)
    }

    /// [`LoginFlow::enrolled`] with the user row it was read with (one
    /// statement): `None` before the user is known, or once they are gone.
    pub async fn known(
        &self,
        ix: &Interaction,
    ) -> Result<(Option<UserRow>, Vec<FactorKind>), StoreError> {
        let Some(uid) = &ix.user_id else {
            return Ok((None, vec![FactorKind::Password]));
        };
        Ok(match super::factor::user_enrolled(self.store, uid).await? {
            Some((user, kinds)) => (Some(user), kinds),
            None => (None, vec![]),
        })
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
