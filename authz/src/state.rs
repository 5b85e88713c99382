//! The state every handler shares.

use crate::cache::{ClientCache, RevocationCache, VerifiedTokens};
use crate::clock::Clock;
use crate::config::Config;
use crate::decision::DecisionPoint;
use crate::keys::Keyring;
use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::store::Store;
use std::sync::{Arc, RwLock};

/// Shared application state; handlers get an `Arc` of it.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub clock: Clock,
    pub master: MasterKey,
    /// The keyring is swapped whole on reload (rotation), never edited in
    /// place; a std `RwLock` held only to clone the `Arc`.
    keyring: RwLock<Arc<Keyring>>,
    pub clients: ClientCache,
    pub revocations: RevocationCache,
    pub verified: VerifiedTokens,
    pub metrics: Metrics,
    pub urls: Urls,
    /// The policy decision point (policy, scorer, risk state).
    pub decisions: DecisionPoint,
    /// SCIM provisioning targets with their tokens (set by `server::start`).
    pub scim: Vec<crate::scim::Target>,
}

/// The shared handle.
pub type App = Arc<AppState>;

/// Endpoint URLs, derived once from the issuer.
#[derive(Debug, Clone)]
pub struct Urls {
    pub issuer: String,
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
    pub introspect: String,
    pub revoke: String,
    pub end_session: String,
}

impl Urls {
    pub fn new(issuer: &str) -> Urls {
        let base = issuer.trim_end_matches('/');
        Urls {
            issuer: issuer.to_string(),
            authorize: format!("{base}/authorize"),
            token: format!("{base}/token"),
            userinfo: format!("{base}/userinfo"),
            jwks: format!("{base}/jwks"),
            introspect: format!("{base}/introspect"),
            revoke: format!("{base}/revoke"),
            end_session: format!("{base}/end_session"),
        }
    }
}

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        clock: Clock,
        master: MasterKey,
        keyring: Keyring,
        decisions: DecisionPoint,
    ) -> AppState {
        let urls = Urls::new(&config.issuer);
        AppState {
            config,
            store,
            clock,
            master,
            keyring: RwLock::new(Arc::new(keyring)),
            clients: ClientCache::default(),
            revocations: RevocationCache::default(),
            verified: VerifiedTokens::default(),
            metrics: Metrics::default(),
            urls,
            decisions,
            scim: Vec::new(),
        }
    }

    /// The current keyring.
    pub fn keyring(&self) -> Arc<Keyring> {
        match self.keyring.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads keys from the store (after a rotation).
    pub async fn reload_keys(&self) -> Result<(), String> {
        let now = self.clock.now();
        let rows = self
            .store
            .published_keys(now)
            .await
            .map_err(|e| e.to_string())?;
        let ring = Keyring::load(&rows, &self.master).map_err(|e| e.to_string())?;
        match self.keyring.write() {
            Ok(mut k) => *k = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(())
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Writes an audit record; a failure is logged, never shown to the client.
    pub async fn audit(&self, kind: &str, actor: &str, subject: &str, data: serde_json::Value) {
        if let Err(e) = self
            .store
            .append_audit(self.now(), kind, actor, subject, &data)
            .await
        {
            tracing::error!(error = %e, kind, "audit append failed");
        }
    }
}
