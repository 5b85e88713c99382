//! One-time passwords: the user's TOTP app (RFC 6238, ±1 step, each step
//! once), an enrolled agent's OTP (`agent/otp.rs`, each step once per
//! device) and, failing those, single-use recovery codes. All prove the
//! `otp` factor: something you have, never phishing-resistant. Verified
//! behind one attempts guard of their own (`totp:<login>`): a correct
//! password clears `user:<login>` and must not reopen guessing of the
//! second factor. Enrolled on `/account/totp` (one valid code activates
//! it) or with an agent.

use super::{Proven, Spec};
use crate::agent::otp::AgentOtp;
use crate::login::flow::{FlowError, LoginFlow, Origin, Refusal};
use crate::login::interaction::FactorKind;
use crate::login::lockout::{Guard, Refused};
use crate::login::{Interaction, Level, Method, totp};
use crate::store::{Holdings, UserRow};
use serde_json::json;

pub const SPEC: Spec = Spec {
    kind: FactorKind::Totp,
    amr: &["otp"],
    best_case: Method::Totp,
    proves: Level::Aal1,
    verified: "TOTP (RFC 6238), an agent OTP, or a recovery code; each accepted once",
    enrolled: "/account/totp (activated by one valid code), or an enrolled agent device",
};

/// Whether the user has an active TOTP secret or an agent that shows
/// OTPs.
pub fn enrolled(_user: &UserRow, h: &Holdings) -> bool {
    h.totp_active || h.otp_devices
}

/// A one-time code as typed: which kind it is (TOTP, agent OTP, recovery
/// code) is found by checking it, not said by the form.
pub struct OtpProof {
    pub code: String,
}

/// What a submitted code proved: its kind and the enrolled agent device
/// whose OTP it was, if any.
enum CodeCheck {
    Ok(&'static str, Option<String>),
    Wrong,
    Replayed,
}

impl LoginFlow<'_> {
    /// Checks the code for the interaction's user behind its guard; a
    /// right one is audited as `login.factor` and proves [`Method::Totp`].
    pub(in crate::login) async fn verify_otp(
        &self,
        ix: &Interaction,
        proof: OtpProof,
        origin: &Origin,
    ) -> Result<Result<Proven, Refusal>, FlowError> {
        let (Some(user_id), now, ip) = (ix.user_id.as_deref(), self.now, origin.ip.as_str()) else {
            return Err(FlowError::NoUser);
        };
        let user = self.store.user(user_id).await?.ok_or(FlowError::UserGone)?;
        let guard = Guard::new("totp", &user.login, ip, self.lockout);
        let reserved = match guard.reserve(self.store, now).await {
            Ok(r) => r,
            Err(Refused::Locked) => {
                self.metrics.login("locked");
                self.audit
                    .record("login.locked", user_id, ip, json!({"factor": "totp"}))
                    .await;
                return Ok(Err(Refusal::Locked));
            }
            Err(Refused::Store(e)) => return Err(e.into()),
        };
        let checked = match self.check_code(user_id, &proof.code).await {
            Ok(c) => c,
            Err(e) => {
                // Never checked: the attempt is given back.
                let _ = reserved.unchecked().await;
                return Err(e);
            }
        };
        match checked {
            CodeCheck::Ok(how, device) => {
                if let Err(e) = reserved.succeeded().await {
                    tracing::error!(error = %e, "cannot clear the attempts counter");
                }
                self.audit
                    .record(
                        "login.factor",
                        user_id,
                        ip,
                        json!({"factor": how, "device_id": device, "client": ix.request.client_id}),
                    )
                    .await;
                Ok(Ok(Proven {
                    method: Method::Totp,
                    user: None,
                    followup: None,
                }))
            }
            CodeCheck::Wrong | CodeCheck::Replayed => {
                reserved.failed();
                let replay = matches!(checked, CodeCheck::Replayed);
                self.metrics.login("failure");
                self.audit
                    .record(
                        "login.failure",
                        user_id,
                        ip,
                        json!({"factor": "totp", "replay": replay, "client": ix.request.client_id}),
                    )
                    .await;
                Ok(Err(if replay {
                    Refusal::Replayed
                } else {
                    Refusal::Wrong
                }))
            }
        }
    }

    /// TOTP first, then an agent's OTP, then (a code with letters) a
    /// recovery code. A sealed secret that does not open is a fault.
    async fn check_code(&self, user_id: &str, code: &str) -> Result<CodeCheck, FlowError> {
        let (code, now) = (code.trim(), self.now);
        if code.len() > 32 {
            return Ok(CodeCheck::Wrong);
        }
        if let Some(t) = self.store.totp(user_id).await?
            && t.active
        {
            let secret = open_totp(self.master, user_id, &t.secret_sealed)?;
            if let Some(step) = totp::verify(self.totp, &secret, code, now) {
                return Ok(if self.store.use_totp_step(user_id, step).await? {
                    CodeCheck::Ok("totp", None)
                } else {
                    CodeCheck::Replayed
                });
            }
        }
        match crate::agent::otp::check(self.store, self.master, user_id, code, now)
            .await
            .map_err(FlowError::Internal)?
        {
            AgentOtp::Accepted { device_id } => {
                return Ok(CodeCheck::Ok("agent_otp", Some(device_id)));
            }
            AgentOtp::Replayed => return Ok(CodeCheck::Replayed),
            AgentOtp::NoMatch => {}
        }
        if code.chars().any(|c| c.is_ascii_alphabetic()) {
            let used = self
                .store
                .use_recovery_code(user_id, &totp::recovery_hash(code), now)
                .await?;
            if used {
                return Ok(CodeCheck::Ok("recovery_code", None));
            }
        }
        Ok(CodeCheck::Wrong)
    }
}

/// Opens a sealed TOTP secret (context `totp:<user_id>`, base64).
pub fn open_totp(
    master: &crate::master_key::MasterKey,
    user_id: &str,
    sealed_b64: &str,
) -> Result<Vec<u8>, FlowError> {
    use base64::Engine;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed_b64)
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    master
        .open(&format!("totp:{user_id}"), &sealed)
        .map_err(|e| FlowError::Internal(e.to_string()))
}
