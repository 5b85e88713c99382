//! The device-approval step: an enrolled agent answered the login's
//! number-matched challenge with its key (`agent/approval.rs`); the
//! approval becomes a proven `DeviceKey` factor once. Not a guessable
//! secret (the agent signs), so no attempts guard: an approval that is not
//! there (yet) is [`Refusal::Pending`].

use super::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::{Interaction, Method};

impl LoginFlow<'_> {
    /// Consumes the interaction's approval: the method it proves
    /// (`hardware` when the key is in the TPM), audited as `login.factor`.
    pub(super) async fn device_approval(
        &self,
        ix: &Interaction,
        origin: &Origin,
    ) -> Result<Result<Method, Refusal>, FlowError> {
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
        Ok(Ok(Method::DeviceKey { hardware }))
    }
}
