//! The attempts guard: one for every guessable secret (password, TOTP,
//! agent OTP, recovery code) and for the password grant.
//!
//! Reserve, then verify: an attempt is counted on every key *before* the
//! secret is checked (`Store::reserve_attempt`, one conditional statement
//! per key), so N parallel guesses consume N attempts and at most `max`
//! of them are ever checked. A success clears the factor's own key and
//! gives the shared IP key its attempt back; a failure leaves both
//! counted; an attempt that never reached its check (the verifier was
//! busy) is given back on both.

use crate::store::{AttemptLimits, Store, StoreError};

/// Limits for one kind of key (per user or factor, per IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub window: i64,
    pub lockout: i64,
}

impl LockoutPolicy {
    fn limits(self) -> AttemptLimits {
        AttemptLimits {
            max: self.max_failures,
            window: self.window,
            lockout: self.lockout,
        }
    }
}

/// Why an attempt may not check its secret.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The key (or the IP) used up its attempts: answer 429.
    #[error("too many failed attempts")]
    Locked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The guard of one secret: its own key (`user:<login>`, `totp:<login>`)
/// and the caller's IP key, with their limits.
#[derive(Debug, Clone)]
pub struct Guard {
    pub key: String,
    pub ip_key: String,
    pub per_key: LockoutPolicy,
    pub per_ip: LockoutPolicy,
}

/// An attempt reserved on both keys; say how it ended.
#[must_use = "say how the attempt ended: succeeded, failed or unchecked"]
pub struct Reserved<'a> {
    store: &'a Store,
    guard: &'a Guard,
}

impl Guard {
    /// The guard of `kind` (`user`, `totp`) for `login` from `ip`.
    pub fn new(kind: &str, login: &str, ip: &str, per: (LockoutPolicy, LockoutPolicy)) -> Guard {
        Guard {
            key: format!("{kind}:{login}"),
            ip_key: format!("ip:{ip}"),
            per_key: per.0,
            per_ip: per.1,
        }
    }

    /// Reserves one attempt on the key, then on the IP. A refusal by the
    /// IP gives the key's attempt back (the secret was not checked).
    pub async fn reserve<'a>(
        &'a self,
        store: &'a Store,
        now: i64,
    ) -> Result<Reserved<'a>, Refused> {
        let own = store
            .reserve_attempt(&self.key, now, self.per_key.limits())
            .await?;
        if !own.allowed(self.per_key.max_failures, now) {
            return Err(Refused::Locked);
        }
        let ip = store
            .reserve_attempt(&self.ip_key, now, self.per_ip.limits())
            .await;
        match ip {
            Ok(s) if s.allowed(self.per_ip.max_failures, now) => {
                Ok(Reserved { store, guard: self })
            }
            Ok(_) => {
                store.release_attempt(&self.key).await?;
                Err(Refused::Locked)
            }
            Err(e) => {
                store.release_attempt(&self.key).await?;
                Err(e.into())
            }
        }
    }
}

impl Reserved<'_> {
    /// The secret was right: the key starts over, the IP gets its attempt back.
    pub async fn succeeded(self) -> Result<(), StoreError> {
        self.store.clear_failures(&self.guard.key).await?;
        self.store.release_attempt(&self.guard.ip_key).await
    }

    /// The secret was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The secret was never checked (verifier busy, store error): both
    /// attempts are given back.
    pub async fn unchecked(self) -> Result<(), StoreError> {
        self.store.release_attempt(&self.guard.key).await?;
        self.store.release_attempt(&self.guard.ip_key).await
    }
}
