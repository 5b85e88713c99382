//! Passkeys (WebAuthn): user-verified, phishing-resistant; `phrh` only for
//! a device-bound one whose attestation the policy trusts, at most `phr`
//! when synced. Verified by `login/passkey.rs` (the ceremony, the counter)
//! against the ceremony state the interaction's options call stored (taken
//! once by the HTTP layer, which owns the JSON). The credential must
//! belong to the interaction's user (if known) and to an enabled user; a
//! counter that went backwards suspends the credential, and a suspended
//! credential never counts. Every refusal is audited as `passkey.failure`.
//! Not a guessable secret: no attempts guard. Enrolled on
//! `/account/passkeys`.

use super::{Followup, Proven, Spec};
use crate::login::flow::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::interaction::FactorKind;
use crate::login::passkey::{self, Authenticated, PasskeyError};
use crate::login::{Interaction, Level, Method};
use crate::store::{Holdings, UserRow};
use serde_json::json;

pub const SPEC: Spec = Spec {
    kind: FactorKind::Passkey,
    amr: &["hwk", "swk", "user", "mfa"],
    best_case: Method::Passkey {
        user_verified: true,
        backup_eligible: false,
        attested: true,
    },
    proves: Level::Phrh,
    verified: "a WebAuthn assertion over a single-use challenge, signature counter checked",
    enrolled: "/account/passkeys (WebAuthn registration, attestation per policy)",
};

/// Whether the user has a passkey that is not suspended.
pub fn enrolled(_user: &UserRow, h: &Holdings) -> bool {
    h.passkeys
}

/// A WebAuthn assertion (`response`, JSON) for the ceremony `state` the
/// HTTP layer took (once) for this interaction.
pub struct PasskeyProof {
    pub state: String,
    pub response: String,
}

impl LoginFlow<'_> {
    /// Verifies the assertion against its ceremony state: the method it
    /// proves and the user it identifies, or why not.
    pub(in crate::login) async fn verify_passkey(
        &self,
        ix: &Interaction,
        proof: PasskeyProof,
        origin: &Origin,
    ) -> Result<Result<Proven, Refusal>, FlowError> {
        let (auth, user) = match self.authenticate(ix, &proof.state, &proof.response).await {
            Ok(x) => x,
            Err((e, cred)) => {
                if e == PasskeyError::CounterRegression
                    && let Err(err) = self.store.mark_passkey_suspicious(&cred).await
                {
                    tracing::error!(error = %err, "cannot suspend passkey");
                }
                let actor = ix.user_id.as_deref().unwrap_or("anonymous");
                self.audit
                    .record(
                        "passkey.failure",
                        actor,
                        &ix.request.client_id,
                        json!({"interaction": ix.id, "detail":
                            {"reason": e.code(), "credential": cred, "ip": origin.ip}}),
                    )
                    .await;
                self.metrics.login("failure");
                return match e {
                    PasskeyError::Internal(m) => Err(FlowError::Internal(m)),
                    PasskeyError::Malformed => Ok(Err(Refusal::Malformed)),
                    e => Ok(Err(Refusal::Passkey(e.code()))),
                };
            }
        };
        // The new counter is written at the end of this request, with the
        // sign-in's end when it finishes here (`LoginFlow::submit`).
        Ok(Ok(Proven {
            method: auth.method,
            user: Some(user),
            followup: Some(Followup::PasskeyUsed(Box::new(auth.row))),
        }))
    }

    /// Looks the credential up, checks its owner, and runs the ceremony.
    /// Errors carry the credential id for the audit record.
    async fn authenticate(
        &self,
        ix: &Interaction,
        state: &str,
        response: &str,
    ) -> Result<(Authenticated, UserRow), (PasskeyError, String)> {
        let cred = passkey::response_cred_id(response).map_err(|e| (e, String::new()))?;
        let fail = |e: PasskeyError| (e, cred.clone());
        let (row, user) = self
            .store
            .passkey(&cred)
            .await
            .map_err(|e| fail(PasskeyError::Internal(e.to_string())))?
            .ok_or_else(|| fail(PasskeyError::UnknownCredential))?;
        if ix.user_id.as_ref().is_some_and(|u| *u != row.user_id) || user.disabled {
            return Err(fail(PasskeyError::UnknownCredential));
        }
        let rp = passkey::relying_party(self.codes.issuer, self.rp_name).map_err(fail)?;
        let auth = passkey::finish_authentication(&rp, state, response, &row).map_err(fail)?;
        Ok((auth, user))
    }
}
