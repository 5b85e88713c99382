//! The account pages' entry into the sign-in: what a change to a user's
//! factors needs (a fresh sign-in at the level of the strongest factors
//! the user holds, `login::to_change_factors`), and the interaction that
//! reaches it. The same gate, next and finish as every client's sign-in.

use super::{ACCOUNT_CLIENT, LoginFlow};
use crate::login::{AuthRequest, Interaction, Level, Method, Requirement, to_change_factors};
use crate::secret::Secret;
use crate::store::{SessionRow, Store, StoreError};

/// The factors `user_id` holds, each at its strongest: what a change to
/// them must be re-authenticated with.
pub async fn held_methods(store: &Store, user_id: &str) -> Result<Vec<Method>, StoreError> {
    let mut held = vec![];
    if store
        .user(user_id)
        .await?
        .is_some_and(|u| u.password_hash.is_some())
    {
        held.push(Method::Password);
    }
    if store.totp(user_id).await?.is_some_and(|t| t.active)
        || !store.otp_devices(user_id).await?.is_empty()
    {
        held.push(Method::Totp);
    }
    for p in store.passkeys(user_id).await? {
        if !p.suspicious {
            held.push(Method::Passkey {
                user_verified: true,
                backup_eligible: p.backup_eligible,
                attested: p.attested,
            });
        }
    }
    for d in store.devices(Some(user_id)).await? {
        if d.revoked_at.is_none() {
            held.push(Method::DeviceKey {
                hardware: d.key_storage == "tpm",
            });
        }
    }
    Ok(held)
}

impl LoginFlow<'_> {
    /// What a change to `user_id`'s factors needs now: within
    /// `reauth_window`. A store error asks for the strongest level: it
    /// fails closed.
    pub async fn change_requirement(&self, user_id: &str) -> Requirement {
        match held_methods(self.store, user_id).await {
            Ok(held) => to_change_factors(&held, self.reauth_window),
            Err(e) => {
                tracing::error!(error = %e, "factor lookup failed");
                Requirement {
                    level: Level::Phrh,
                    max_age: Some(self.reauth_window),
                }
            }
        }
    }

    /// Starts the account sign-in (or the re-authentication of `session`:
    /// its factors are carried, but only those fresh enough for a change
    /// count). Saved; the secret is the browser's `tg_login` cookie.
    pub async fn start_account(
        &self,
        session: Option<SessionRow>,
    ) -> Result<(Interaction, Secret), StoreError> {
        let browser = crate::secret::random_token(32);
        let requirement = match &session {
            Some(s) => self.change_requirement(&s.user_id).await,
            None => Requirement {
                level: Level::Aal1,
                max_age: None,
            },
        };
        let ix = Interaction {
            id: crate::secret::random_id(16),
            csrf: crate::secret::random_id(24),
            browser: crate::oauth::client::hash_secret(browser.expose()),
            request: AuthRequest {
                client_id: ACCOUNT_CLIENT.into(),
                redirect_uri: "/account".into(),
                scope: vec![],
                state: None,
                nonce: None,
                code_challenge: None,
                prompt_login: false,
                prompt_none: false,
                max_age: None,
                acr_values: vec![],
                login_hint: None,
                ui_locales: None,
                client_name: None,
            },
            requirement,
            user_id: session.as_ref().map(|s| s.user_id.clone()),
            login: None,
            session_id: session.as_ref().map(|s| s.id.clone()),
            proven: session.map(|s| s.factors).unwrap_or_default(),
            expires_at: self.now + self.login.interaction_ttl,
            risk: None,
        };
        self.save(&ix).await?;
        Ok((ix, browser))
    }
}
