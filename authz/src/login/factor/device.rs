//! Approval on an enrolled agent device: the agent's SM2 key (in the TPM
//! when `hardware`) unlocked by the user's PIN signs a number-matched
//! approval bound to the interaction (`agent/approval.rs`); the approval
//! becomes a proven `DeviceKey` factor once. Not a guessable secret (the
//! agent signs), so no attempts guard: an approval that is not there (yet)
//! is [`Refusal::Pending`]. Enrolled with an enrollment code from
//! `/account/devices` (`tollgate-agent enroll`).

use super::{Proven, Spec};
use crate::login::flow::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::interaction::FactorKind;
use crate::login::{Interaction, Level, Method};
use crate::store::{Holdings, UserRow};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Device,
    amr: &["hwk", "swk", "pin", "mfa"],
    best_case: Method::DeviceKey { hardware: true },
    proves: Level::Phrh,
    verified: "an SM2-signed, number-matched approval bound to the interaction, used once",
    enrolled: "an enrollment code from /account/devices, then tollgate-agent enroll",
};

/// Whether the user has an agent device that is not revoked.
pub fn enrolled(_user: &UserRow, h: &Holdings) -> bool {
    h.devices
}

/// "I approved it on my device": the proof is the interaction's approval,
/// which the agent stored; the form carries nothing else.
pub struct DeviceApproval;

impl LoginFlow<'_> {
    /// Consumes the interaction's approval: the method it proves
    /// (`hardware` when the key is in the TPM), audited as `login.factor`.
    pub(in crate::login) async fn verify_device(
        &self,
        ix: &Interaction,
        _proof: DeviceApproval,
        origin: &Origin,
    ) -> Result<Result<Proven, Refusal>, FlowError> {
        let Some(user) = ix.user_id.as_deref() else {
            return Err(FlowError::NoUser);
        };
        let consumed = crate::agent::approval::consume(self.store, &ix.id, user)
            .await
            .map_err(|e| FlowError::Internal(e.description))?;
        let Some((device, hardware)) = consumed else {
            return Ok(Err(Refusal::Pending));
        };
        self.audit
            .record(
                "login.factor",
                user,
                &ix.request.client_id,
                serde_json::json!({"factor": "device", "device_id": device.id, "hardware": hardware, "ip": origin.ip}),
            )
            .await;
        Ok(Ok(Proven {
            method: Method::DeviceKey { hardware },
            user: None,
            followup: None,
        }))
    }
}
