//! The end of a sign-in: the interaction is taken (once); then, in one
//! transaction, the session is recorded or stepped up with a new cookie
//! secret and bound to what the login knew, the login joins the risk
//! history, the code is issued and `login.success` audited.

use super::{ACCOUNT_CLIENT, FlowError, LoginFlow, Origin, Step};
use crate::login::{Interaction, Level, ProvenFactor, amr_of};
use crate::store::{SessionRow, Stmt};

impl LoginFlow<'_> {
    /// Completes the interaction. Past `take_interaction` the client waits:
    /// a fault is its `server_error` ([`FlowError::Finish`]).
    /// `carried`, the proof's follow-up writes (a passkey's new counter),
    /// commits in the same transaction; it is left empty once taken.
    pub(super) async fn finish(
        &self,
        ix: Interaction,
        origin: &Origin,
        carried: &mut Vec<Stmt>,
    ) -> Result<Step, FlowError> {
        let now = self.now;
        let Some(user_id) = ix.user_id.clone() else {
            return Err(FlowError::NoUser);
        };
        let fail = |e: &dyn std::fmt::Display| FlowError::Finish {
            redirect: crate::oauth::authorize::error_redirect(
                &ix.request.redirect_uri,
                ix.request.state.as_deref(),
                "server_error",
                "internal error",
                self.codes.issuer,
            ),
            why: e.to_string(),
        };
        match self.store.take_interaction(&ix.id).await {
            Ok(true) => {}
            Ok(false) => return Err(FlowError::AlreadyCompleted),
            Err(e) => return Err(fail(&e)),
        }
        let factors = merge(&ix.proven);
        // When the level the factors reach was proven, not the latest proof.
        let auth_time = Level::reached_at(&factors).map_or(now, |(_, at)| at);
        let existing = self
            .browser_session(origin)
            .await?
            .filter(|s| Some(&s.id) == ix.session_id.as_ref() && s.user_id == user_id);
        // Stored with the session's own write, for the gateway's scoring.
        let context = ix
            .risk
            .as_ref()
            .map(|r| crate::decision::DecisionPoint::context_of(&r.event));
        // Whether the session is new or stepped up, its cookie secret is new.
        let token = crate::secret::random_token(32);
        let token_hash = crate::oauth::client::hash_secret(token.expose());
        let (session, written) = match existing {
            Some(mut s) => {
                s.factors = factors.clone();
                s.auth_time = auth_time;
                let stmt = crate::store::session_step_up(&s, &token_hash, context.as_ref());
                (s, stmt)
            }
            None => {
                let s = SessionRow {
                    id: crate::secret::random_id(16),
                    user_id: user_id.clone(),
                    factors: factors.clone(),
                    auth_time,
                    expires_at: now + self.login.session_ttl,
                };
                let stmt = crate::store::session_insert(&s, &token_hash, context.as_ref(), now);
                (s, stmt)
            }
        };
        // The session, the risk history (the login passed its decision and
        // any step-up), the grant with its code and `login.success` commit
        // together: no session without its audit record, no code without
        // its session.
        let mut stmts = vec![written];
        stmts.append(carried);
        let learning = match &ix.risk {
            Some(risk) => {
                let (learning, stmt) = self.decisions.learning(self.store, risk, now).await;
                stmts.push(stmt);
                Some(learning)
            }
            None => None,
        };
        let redirect = if ix.request.client_id == ACCOUNT_CLIENT {
            // The account pages' own sign-in: no code, back to the page.
            ix.request.redirect_uri.clone()
        } else {
            // Only the factors within max_age speak in the ID token.
            let fresh = ix.requirement.fresh(&factors, now);
            let (code, redirect) = self
                .codes
                .prepare(&ix.request, &user_id, &session.id, &fresh)
                .map_err(|e| fail(&e))?;
            stmts.extend(code);
            redirect
        };
        self.audit
            .record_with(
                "login.success",
                &user_id,
                &ix.request.client_id,
                serde_json::json!({
                    "ip": origin.ip,
                    "amr": amr_of(&factors),
                    "acr": Level::reached(&factors).map(|l| l.acr()),
                    "sid": session.id,
                    "score": ix.risk.as_ref().map(|r| r.score),
                    "policy_version": ix.risk.as_ref().map(|r| r.policy_version.as_str())}),
                stmts,
            )
            .await
            .map_err(|e| fail(&e))?;
        self.metrics.login("success");
        if let Some(c) = context {
            self.decisions.bound(&session.id, c);
        }
        if let Some(learning) = learning {
            self.decisions.learned(learning);
        }
        Ok(Step::Complete {
            redirect,
            session_token: token,
        })
    }

    /// The live session behind the browser's cookie, with its user still
    /// enabled. A store error is an error, never "not signed in".
    async fn browser_session(&self, origin: &Origin) -> Result<Option<SessionRow>, FlowError> {
        let Some(hash) = &origin.session_hash else {
            return Ok(None);
        };
        let Some(session) = self.store.session_by_token(hash, self.now).await? else {
            return Ok(None);
        };
        let enabled = self
            .store
            .user(&session.user_id)
            .await?
            .is_some_and(|u| !u.disabled);
        Ok(enabled.then_some(session))
    }
}

/// Keeps the latest proof of each method, so a session's factor list stays small.
fn merge(proven: &[ProvenFactor]) -> Vec<ProvenFactor> {
    let mut out: Vec<ProvenFactor> = Vec::new();
    for f in proven {
        match out.iter_mut().find(|o| o.method == f.method) {
            Some(o) => o.at = o.at.max(f.at),
            None => out.push(*f),
        }
    }
    out
}
