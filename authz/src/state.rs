//! The state every handler shares.

use crate::cache::{ClientCache, RevocationCache, VerifiedTokens};
use crate::clock::Clock;
use crate::config::Config;
use crate::decision::DecisionPoint;
use crate::keys::Keyring;
use crate::login::attestation::AttestationPolicy;
use crate::login::lockout::LockoutPolicy;
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
    /// Which passkeys count as attested (`phrh`); loaded once at start from
    /// `[authenticators] attestation_ca_files`.
    pub attestation: AttestationPolicy,
    /// `[branding]`, loaded at start (the built-in look by default).
    pub branding: Arc<crate::i18n::branding::Branding>,
    /// The policy decision point (policy, scorer, risk state).
    pub decisions: DecisionPoint,
    /// SCIM provisioning targets with their tokens (set by `server::start`).
    pub scim: Vec<crate::scim::Target>,
    /// The bearer token for `/metrics` on the main listener (from
    /// `[metrics] token_env`, read at start).
    pub metrics_token: Option<crate::secret::Secret>,
    /// `/v1/decide` answers per (caller, subject) per minute.
    pub decide_limits: crate::decision::limit::SubjectLimiter,
    /// Unauthenticated sign-in POSTs per IP and per interaction (`[login]
    /// posts_per_*`); in memory, per replica.
    pub sign_in_posts: crate::login::rate::RateLimiter,
    /// `[[directories]]` with their service passwords (set by
    /// `server::start`); empty: every user is local.
    pub directories: crate::directory::Directories,
    /// The TPM manufacturers' EK CAs (`[agent] tpm_ca_files`, set by
    /// `server::start`); empty: no device key is attested.
    pub tpm_trust: crate::agent::attest::TpmTrust,
    /// What a new password must be (`[passwords]`, set by `server::start`).
    pub passwords: crate::login::password_policy::PasswordPolicy,
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
        attestation: AttestationPolicy,
        mut decisions: DecisionPoint,
    ) -> AppState {
        let urls = Urls::new(&config.issuer);
        let decide_limits = crate::decision::limit::SubjectLimiter::new(
            config.gateway.decide_per_subject_per_minute,
        );
        let metrics = Metrics::default();
        decisions.share_round_trips(metrics.state_round_trip.clone());
        AppState {
            decide_limits,
            metrics_token: None,
            config,
            store,
            clock,
            master,
            keyring: RwLock::new(Arc::new(keyring)),
            clients: ClientCache::default(),
            revocations: RevocationCache::default(),
            verified: VerifiedTokens::default(),
            metrics,
            urls,
            attestation,
            branding: Arc::default(),
            decisions,
            scim: Vec::new(),
            directories: Default::default(),
            sign_in_posts: crate::login::rate::RateLimiter::default(),
            tpm_trust: Default::default(),
            passwords: Default::default(),
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

    /// Per-user and per-IP lockout policies: the policy file's `risk:
    /// lockout:` when it has one, else `[login]`.
    pub fn lockout_policies(&self) -> (LockoutPolicy, LockoutPolicy) {
        let lp = &self.config.login;
        let from_policy = self.decisions.current().policy.thresholds().lockout;
        let secs = |d: tollgate_risk::policy::Duration| i64::try_from(d.0).unwrap_or(i64::MAX);
        let (per_user, per_ip, window, lockout) = match from_policy {
            Some(l) => (
                i64::from(l.max_failures_per_user),
                i64::from(l.max_failures_per_ip),
                secs(l.window),
                secs(l.duration),
            ),
            None => (
                lp.max_failures_per_user,
                lp.max_failures_per_ip,
                lp.failure_window,
                lp.lockout,
            ),
        };
        let user = LockoutPolicy {
            max_failures: per_user,
            window,
            lockout,
        };
        (
            user,
            LockoutPolicy {
                max_failures: per_ip,
                ..user
            },
        )
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Writes an audit record; a failure is logged, never shown to the client.
    pub async fn audit(&self, kind: &str, actor: &str, subject: &str, data: serde_json::Value) {
        self.audit_sink().record(kind, actor, subject, data).await;
    }

    /// The audit log stamped with the current time, for services that take
    /// only what they need (`login::flow`, `decision::effects`).
    pub fn audit_sink(&self) -> crate::store::Audit<'_> {
        crate::store::Audit {
            store: &self.store,
            now: self.now(),
        }
    }

    /// The sign-in service at this moment, with only the pieces it needs
    /// (`login::flow`); the pages and the password grant use it.
    pub fn login_flow(&self) -> crate::login::flow::LoginFlow<'_> {
        crate::login::flow::LoginFlow {
            store: &self.store,
            decisions: &self.decisions,
            audit: self.audit_sink(),
            metrics: &self.metrics,
            revoker: self.revoker(),
            codes: crate::oauth::authorize::CodeIssuer::of(self),
            login: &self.config.login,
            lockout: self.lockout_policies(),
            directories: &self.directories,
            rp_name: &self.config.authenticators.rp_name,
            master: &self.master,
            totp: crate::login::totp::Params::from_config(&self.config.authenticators),
            attested_passkeys: self.attestation.enabled(),
            reauth_window: self.config.authenticators.reauth_window,
            now: self.now(),
        }
    }

    /// What a deny with revocation needs: the store, the revocation cache
    /// and the access-token lifetime it reloads over.
    pub fn revoker(&self) -> crate::decision::effects::Revoker<'_> {
        crate::decision::effects::Revoker {
            store: &self.store,
            revocations: &self.revocations,
            access_ttl: self.config.tokens.access_token_ttl,
        }
    }
}
