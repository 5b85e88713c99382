//! `tollgate.toml`: the service's configuration.
//!
//! One versioned TOML file (unknown keys are rejected with `file:line:col`)
//! plus `TOLLGATE_*` environment overrides. The environment is passed in as a
//! function, so tests never call `set_var`. With no file at all the embedded
//! demo runs: SQLite under `./data/`, a generated master key, a demo client
//! and user.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The only config format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// A configuration problem, shown as `file:line:col: message`.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// `file`, `file:line:col`, or the environment variable's name.
    pub location: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; must be 1.
    pub version: u32,
    /// The issuer identifier (`iss`), an https URL in production. Every
    /// endpoint URL is derived from it.
    pub issuer: String,
    /// The socket address `tollgate serve` listens on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Demo mode: allows a generated master key and plain-http cookies. Set
    /// only by the embedded default (no config file).
    #[serde(default)]
    pub demo: bool,
    /// Where data lives.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Signing keys and the master key.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Lifetimes of codes and tokens.
    #[serde(default)]
    pub tokens: TokenConfig,
    /// The login interaction: sessions and attempt limits.
    #[serde(default)]
    pub login: LoginConfig,
    /// What a new password must be, and reset links.
    #[serde(default)]
    pub passwords: PasswordsConfig,
    /// HTTP server limits.
    #[serde(default)]
    pub http: HttpConfig,
    /// Passkeys and TOTP.
    #[serde(default)]
    pub authenticators: AuthenticatorConfig,
    /// The decision point: policy files and the risk scorer's inputs.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The gateway decision endpoint (ext_authz).
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Where Prometheus scrapes `/metrics`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The Shared Signals (CAEP) transmitter.
    #[serde(default)]
    pub ssf: SsfConfig,
    /// SCIM 2.0 provisioning targets (docs/federation/vcenter.md).
    #[serde(default)]
    pub scim: ScimConfig,
    /// The endpoint agents: which TPMs can be attested.
    #[serde(default)]
    pub agent: AgentConfig,
    /// State shared by replicas (Redis); none: this process's memory.
    #[serde(default)]
    pub state: StateConfig,
    /// LDAP / Active Directory user sources (`[[directories]]`,
    /// docs/operations.md).
    #[serde(default)]
    pub directories: Vec<crate::directory::config::DirectoryConfig>,
    /// What the pages show of the operator's product (docs/operations.md,
    /// "Languages and branding").
    #[serde(default)]
    pub branding: crate::i18n::branding::BrandingConfig,
    /// Clients declared in the file; synced into the database at start.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created if missing) or `postgres://...`.
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/tollgate.db".into(),
            max_connections: 8,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// File holding the 256-bit master key (raw or base64). The environment
    /// variable `TOLLGATE_MASTER_KEY` (base64) takes precedence.
    pub master_key_file: Option<PathBuf>,
    /// Algorithm for clients that do not choose one: `ES256` or `RS256`.
    pub default_alg: String,
    /// Seconds a rotated-in key is published in the JWKS before it signs,
    /// so relying parties that cache the JWKS already know it.
    pub activation_delay: i64,
    /// `Cache-Control: max-age` of the JWKS response, seconds.
    pub jwks_max_age: i64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            master_key_file: None,
            default_alg: "ES256".into(),
            activation_delay: 600,
            jwks_max_age: 300,
        }
    }
}

/// `[tokens]`: lifetimes in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    pub code_ttl: i64,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            code_ttl: 60,
            access_token_ttl: 300,
            id_token_ttl: 300,
            refresh_token_ttl: 30 * 24 * 3600,
        }
    }
}

/// `[login]`: sessions and lockouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Seconds a browser session lasts (NIST SP 800-63B-4 reauthentication: 12 h at AAL2 is the upper bound).
    pub session_ttl: i64,
    /// Seconds a login interaction may take.
    pub interaction_ttl: i64,
    /// Failed attempts per user within `failure_window` before the account locks.
    pub max_failures_per_user: i64,
    /// Failed attempts per client IP within `failure_window` before the IP locks.
    pub max_failures_per_ip: i64,
    /// Seconds over which failures are counted.
    pub failure_window: i64,
    /// Seconds a lock lasts.
    pub lockout: i64,
    /// Unauthenticated sign-in POSTs (password, code, passkey, device)
    /// per client IP and minute, on each replica; beyond it 429. 0: no limit.
    pub posts_per_ip_per_minute: u32,
    /// The same per login interaction: one page cannot be used to guess fast.
    pub posts_per_interaction_per_minute: u32,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            session_ttl: 8 * 3600,
            interaction_ttl: 600,
            max_failures_per_user: 5,
            max_failures_per_ip: 50,
            failure_window: 900,
            lockout: 900,
            posts_per_ip_per_minute: 600,
            posts_per_interaction_per_minute: 60,
        }
    }
}

/// `[passwords]`: the policy every new password meets (NIST SP
/// 800-63B-4: a minimum length and a blocklist, no composition rules, no
/// expiry) and how long an admin-issued reset link stays valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsConfig {
    /// Fewest characters (Unicode scalar values) a new password may have;
    /// 15 (the guideline's value for a password that is the only factor),
    /// never below 8.
    pub min_length: usize,
    /// A file of breached or common passwords, one per line (`#` starts a
    /// comment), compared ignoring case. None: no list.
    pub blocklist_file: Option<std::path::PathBuf>,
    /// Seconds a `tollgate users reset` link stays valid (single use).
    pub reset_link_ttl: i64,
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        PasswordsConfig {
            min_length: 15,
            blocklist_file: None,
            reset_link_ttl: 24 * 3600,
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace: u64,
    /// Trust `X-Forwarded-For` from these proxy addresses when finding the client IP.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 64 * 1024,
            shutdown_grace: 20,
            trusted_proxies: vec![],
        }
    }
}

/// `[policy]`: what decides every login and gateway request
/// (docs/policy.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Policy files merged in order, relative to the working directory.
    /// Empty: the built-in `policies/default.yaml`.
    pub files: Vec<PathBuf>,
    /// Seconds between checks of the files for changes; 0 turns polling
    /// off (SIGHUP still reloads).
    pub reload_interval: u64,
    /// A GeoLite2-City-schema database. Without both geo files every
    /// address has an unknown location and network: new-country, ASN and
    /// impossible-travel signals stay silent.
    pub geo_city: Option<PathBuf>,
    /// A GeoLite2-ASN-schema database.
    pub geo_asn: Option<PathBuf>,
    /// A model file from `tollgate risk train`; the built-in model if unset.
    pub model: Option<PathBuf>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            files: vec![],
            reload_interval: 2,
            geo_city: None,
            geo_asn: None,
            model: None,
        }
    }
}

/// `[ssf]`: where CAEP events are pushed (RFC 8935).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsfConfig {
    pub receivers: Vec<SsfReceiver>,
}

/// One `[[ssf.receivers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsfReceiver {
    /// A name for logs, metrics and the audit log.
    pub name: String,
    /// The receiver's push endpoint (https outside loopback).
    pub endpoint: String,
    /// The SETs' `aud`; defaults to the endpoint.
    #[serde(default)]
    pub audience: Option<String>,
    /// Environment variable holding a bearer token for the endpoint.
    #[serde(default)]
    pub authorization_env: Option<String>,
    /// Event types to send: `session-revoked`, `credential-change` (default both).
    #[serde(default = "all_ssf_events")]
    pub events: Vec<String>,
    /// PEM bundle of a private CA that signed the receiver's certificate,
    /// trusted in addition to the bundled roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn all_ssf_events() -> Vec<String> {
    vec!["session-revoked".into(), "credential-change".into()]
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// `sha256` (default) or `sm3`: the hash new records are chained with.
    /// Existing records keep theirs, so switching is safe at any time.
    pub hash: crate::store::ChainHash,
    /// Seconds between signed checkpoints of the chain (one is also
    /// written at shutdown); 0 writes them only at shutdown.
    pub checkpoint_interval: u64,
    /// Also append every checkpoint as a JSON line to this file (put it
    /// on append-only storage); `tollgate audit verify --checkpoints`
    /// reads it.
    pub checkpoint_file: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            hash: crate::store::ChainHash::default(),
            checkpoint_interval: 300,
            checkpoint_file: None,
        }
    }
}

/// `[metrics]`: `/metrics` is operations data (client ids, decision
/// counts, error rates), not for the internet. It is served on the main
/// listener only in the demo, with `public = true`, or to a bearer token;
/// otherwise on `listen`, a listener of its own (with `/healthz` and
/// `/readyz`), or nowhere.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate address for `/metrics`, `/healthz` and `/readyz`
    /// (e.g. `127.0.0.1:9464`); none by default.
    pub listen: Option<String>,
    /// An environment variable holding a bearer token that opens
    /// `/metrics` on the main listener.
    pub token_env: Option<String>,
    /// Serve `/metrics` on the main listener to anyone.
    pub public: bool,
}

/// `[gateway]`: the ext_authz endpoint gateways call per request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Access-token audiences (`aud`) the protected APIs accept. Empty:
    /// the ext_authz endpoint is off (404), so no deployment validates
    /// tokens for an audience it never named.
    pub audiences: Vec<String>,
    /// `/v1/decide` answers per (caller, subject) per minute before 429;
    /// `0` is unlimited.
    pub decide_per_subject_per_minute: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            audiences: Vec::new(),
            decide_per_subject_per_minute: 600,
        }
    }
}

/// `[agent]`: the endpoint agents (docs/agent.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// PEM files of the TPM manufacturers' EK CA certificates (the CAs
    /// that sign EK certificates, one or more per file). A device key is
    /// recorded as hardware (`tpm`, `phrh`) only when its TPM's EK
    /// certificate was signed by one of them and the credential activation
    /// and certification at enrollment succeeded; empty (default): every
    /// device is recorded as software (at most `phr`).
    pub tpm_ca_files: Vec<PathBuf>,
    /// Refuse enrollments whose key is not attested (`attestation_required`):
    /// only TPM keys proven as above become devices. Off by default, so
    /// terminals without an EK certificate can enroll a software key (`swk`,
    /// at most `phr`); needs `tpm_ca_files`.
    pub require_attestation: bool,
}

/// `[state]`: where the risk engine's velocity counters live. Without
/// `redis` they are in this process's memory (one replica, the embedded
/// default); several replicas behind a load balancer must share them, or a
/// credential-stuffing run spread over N replicas counts N times smaller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `redis://HOST:PORT[/DB]`, or `rediss://…` for TLS. No password
    /// here: see `password_env`.
    pub redis: Option<String>,
    /// The environment variable holding the Redis password (AUTH), if any.
    pub password_env: Option<String>,
    /// Prefix of every key Tollgate writes (several deployments can share
    /// one Redis).
    pub key_prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            redis: None,
            password_env: None,
            key_prefix: "tollgate:".into(),
        }
    }
}

/// `[scim]`: where users and groups are provisioned (RFC 7643/7644).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// The targets; none by default.
    pub targets: Vec<ScimTargetConfig>,
    /// Failed deliveries of one resource (the target answered, but refused
    /// it) before it is parked as failed until it changes again or
    /// `tollgate scim sync` runs.
    pub max_attempts: i64,
    /// Seconds before the first retry; doubled per failure.
    pub retry_base: i64,
    /// Upper bound of the retry delay, seconds.
    pub retry_max: i64,
    /// Seconds one HTTP request to a target may take.
    pub timeout: u64,
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            targets: vec![],
            max_attempts: 10,
            retry_base: 2,
            retry_max: 600,
            timeout: 10,
        }
    }
}

/// One `[[scim.targets]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimTargetConfig {
    /// A short name for the CLI, metrics and the database (`[A-Za-z0-9_-]`).
    pub name: String,
    /// The SCIM base URL (the one `/Users` and `/Groups` hang off), e.g.
    /// vCenter's `https://vc.example/usergroup/t/CUSTOMER/scim/v2`. https
    /// outside loopback.
    pub base_url: String,
    /// Name of the environment variable holding the bearer token. The token
    /// is never stored or logged.
    pub token_env: String,
    /// Only users in one of these groups, and only these groups, are
    /// provisioned. Empty: every user and every group.
    #[serde(default)]
    pub groups: Vec<String>,
    /// PEM bundle of a private CA that signed the target's certificate
    /// (vCenter's VMCA root), trusted in addition to the bundled roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `vcenter`: users and groups also carry VMware Identity Service's
    /// `ws1b` extension, as vCenter's identity broker reads them.
    #[serde(default)]
    pub profile: ScimProfile,
}

/// What a SCIM target expects beyond RFC 7643.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScimProfile {
    /// RFC 7643 core User and Group only.
    #[default]
    Generic,
    /// vCenter 8's identity broker (VMware Identity Service): the
    /// `urn:ietf:params:scim:schemas:extension:ws1b:2.0` User and Group
    /// extensions.
    Vcenter,
}

/// `[authenticators]`: passkeys (WebAuthn) and TOTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthenticatorConfig {
    /// The WebAuthn relying-party name shown by authenticators.
    pub rp_name: String,
    /// `SHA1` (default, what every app supports), `SHA256` or `SHA512`.
    pub totp_algorithm: String,
    /// Digits per code (6 or 8).
    pub totp_digits: usize,
    /// Seconds per time step.
    pub totp_period: u64,
    /// Seconds a WebAuthn challenge stays answerable.
    pub challenge_ttl: i64,
    /// Seconds after the last factor within which account changes are
    /// allowed without signing in again (re-authentication per change).
    pub reauth_window: i64,
    /// PEM files of attestation root CAs (one or more certificates each).
    /// A device-bound passkey whose attestation chains to one of them is
    /// *attested* and reaches `phrh`; empty (default): attestation `none`
    /// is asked for, and passkeys reach at most `phr`.
    pub attestation_ca_files: Vec<PathBuf>,
    /// AAGUIDs (`xxxxxxxx-xxxx-…`) an attested passkey must carry; empty:
    /// any model the CAs vouch for. Needs `attestation_ca_files`.
    pub attestation_aaguids: Vec<String>,
}

impl Default for AuthenticatorConfig {
    fn default() -> Self {
        AuthenticatorConfig {
            rp_name: "Tollgate".into(),
            totp_algorithm: "SHA1".into(),
            totp_digits: 6,
            totp_period: 30,
            challenge_ttl: 300,
            reauth_window: 300,
            attestation_ca_files: vec![],
            attestation_aaguids: vec![],
        }
    }
}

/// One `[[clients]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `sha256:<hex>` of the client secret.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Name of an environment variable holding the client secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Defaults to `["authorization_code", "refresh_token"]`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`,
    /// `private_key_jwt`, or `none` (public client).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// The client's public keys (a JWK Set as JSON text) for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<String>,
    /// `ES256` or `RS256`; defaults to `[keys] default_alg`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Scopes this client may request; defaults to the standard OIDC scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// PKCE (S256) is required unless this is set to false.
    #[serde(default)]
    pub require_pkce: Option<bool>,
    /// `aud` of access tokens issued to this client; defaults to the client id.
    #[serde(default)]
    pub access_token_audience: Option<String>,
    /// A preset for a known relying party: `vcenter` (docs/federation/vcenter.md).
    #[serde(default)]
    pub profile: Option<String>,
    /// With `profile = "vcenter"`: the vCenter's host name; the redirect URI
    /// is `https://HOST/ui/login/oauth2/authcode`.
    #[serde(default)]
    pub vcenter_host: Option<String>,
    /// The ID-token claim carrying the UPN (vCenter's `upn_claim`); default `upn`.
    #[serde(default)]
    pub upn_claim: Option<String>,
    /// The ID-token claim carrying the groups (vCenter's `groups_claim`); default `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// For users without a UPN: `login@upn_domain`.
    #[serde(default)]
    pub upn_domain: Option<String>,
    /// Allow the resource-owner password grant for this client (vCenter's
    /// wizard asks for it). Off unless set; scored like any login and
    /// refused whenever the policy wants more than one factor.
    #[serde(default)]
    pub password_grant: bool,
    /// OIDC Back-Channel Logout: where logout tokens are POSTed when a
    /// session this client got tokens from ends.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// PEM bundle of a private CA that signed the certificate of
    /// `backchannel_logout_uri`'s host, trusted in addition to the bundled
    /// roots.
    #[serde(default)]
    pub backchannel_logout_ca_file: Option<PathBuf>,
    /// What this client may do beyond its grants (all off by default):
    /// `decide` (ask `/v1/decide`), `decide_revokes` (a deny it asks for
    /// may end the subject's sessions), `introspect` (introspect tokens
    /// issued for any audience).
    #[serde(default)]
    pub permissions: Vec<String>,
}

impl Config {
    /// The embedded default: demo mode on `listen`.
    pub fn demo(listen: &str) -> Config {
        Config {
            version: CONFIG_VERSION,
            issuer: demo_issuer(listen),
            listen: listen.to_string(),
            demo: true,
            database: DatabaseConfig::default(),
            keys: KeysConfig {
                master_key_file: Some(PathBuf::from("data/master.key")),
                ..KeysConfig::default()
            },
            tokens: TokenConfig::default(),
            login: LoginConfig::default(),
            passwords: PasswordsConfig::default(),
            http: HttpConfig::default(),
            authenticators: AuthenticatorConfig::default(),
            policy: PolicyConfig::default(),
            gateway: GatewayConfig::default(),
            metrics: MetricsConfig::default(),
            state: StateConfig::default(),
            audit: AuditConfig::default(),
            ssf: SsfConfig::default(),
            scim: ScimConfig::default(),
            agent: AgentConfig::default(),
            directories: vec![],
            branding: Default::default(),
            clients: vec![],
        }
    }

    /// Parses a file's text and checks its values. `origin` names the file
    /// in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg = Config::parse_syntax(text, origin)?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Parses a file's text without checking its values (TOML syntax, types
    /// and unknown keys only): for `check-config` and `serve`, which then
    /// report every one of [`Config::problems`] with its line.
    pub fn parse_syntax(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("{origin}:{line}:{col}")
                }
                None => origin.to_string(),
            };
            ConfigError {
                location,
                message: e.message().to_string(),
            }
        })
    }

    /// Reads and parses a file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            location: origin.clone(),
            message: e.to_string(),
        })?;
        Config::parse(&text, &origin)
    }

    /// Applies `TOLLGATE_*` overrides from `env` (a lookup function, so tests
    /// pass a map instead of touching the process environment).
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.override_from_env(env);
        self.validate("environment")
    }

    /// The `TOLLGATE_*` overrides of [`Config::apply_env`], without the checks.
    pub fn override_from_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env("TOLLGATE_ISSUER") {
            self.issuer = v;
        }
        if let Some(v) = env("TOLLGATE_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("TOLLGATE_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = env("TOLLGATE_MASTER_KEY_FILE") {
            self.keys.master_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TOLLGATE_LOG") {
            // Read by the logger; accepted here so it is not an unknown variable.
            let _ = v;
        }
    }

    /// The first of [`Config::problems`] as an error from `origin`.
    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(message) => Err(ConfigError {
                location: origin.to_string(),
                message,
            }),
        }
    }

    /// Every value the file's syntax allows but the service cannot use,
    /// all of them (not only the first), each naming its key or entry so
    /// that `preflight::locate` finds the line. `preflight::problems`
    /// starts with these.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.version != CONFIG_VERSION {
            out.push(format!(
                "version = {} is not supported (this build reads version {CONFIG_VERSION})",
                self.version
            ));
        }
        let a = &self.authenticators;
        if !["SHA1", "SHA256", "SHA512"].contains(&a.totp_algorithm.as_str())
            || !(6..=8).contains(&a.totp_digits)
            || !(15..=120).contains(&a.totp_period)
        {
            out.push(
                "[authenticators] totp_algorithm must be SHA1, SHA256 or SHA512, totp_digits 6-8, totp_period 15-120"
                    .into(),
            );
        }
        match url::Url::parse(&self.issuer) {
            Ok(u)
                if (u.scheme() == "https" || u.scheme() == "http")
                    && u.query().is_none()
                    && u.fragment().is_none() => {}
            _ => out.push(format!(
                "issuer {:?} must be an http(s) URL without query or fragment",
                self.issuer
            )),
        }
        if !self.demo && self.issuer.starts_with("http://") && !is_loopback_url(&self.issuer) {
            out.push(format!(
                "issuer {:?} must use https outside loopback",
                self.issuer
            ));
        }
        if !matches!(self.keys.default_alg.as_str(), "ES256" | "RS256") {
            out.push(format!(
                "keys.default_alg {:?}: expected ES256 or RS256",
                self.keys.default_alg
            ));
        }
        for (name, v) in [
            ("tokens.code_ttl", self.tokens.code_ttl),
            ("tokens.access_token_ttl", self.tokens.access_token_ttl),
            ("tokens.id_token_ttl", self.tokens.id_token_ttl),
            ("tokens.refresh_token_ttl", self.tokens.refresh_token_ttl),
            ("login.session_ttl", self.login.session_ttl),
            (
                "login.max_failures_per_user",
                self.login.max_failures_per_user,
            ),
            ("login.max_failures_per_ip", self.login.max_failures_per_ip),
        ] {
            if v <= 0 {
                out.push(format!("{name} must be positive, got {v}"));
            }
        }
        if self.policy.geo_city.is_some() != self.policy.geo_asn.is_some() {
            out.push("[policy] give both geo_city and geo_asn, or neither".into());
        }
        let mut names = std::collections::HashSet::new();
        for r in &self.ssf.receivers {
            if !names.insert(&r.name) {
                out.push(format!("ssf receiver {:?} is declared twice", r.name));
            }
            if !https_or_loopback(&r.endpoint) {
                out.push(format!(
                    "ssf receiver {:?}: endpoint {:?} must be an https URL (http only on loopback)",
                    r.name, r.endpoint
                ));
            }
            if let Some(e) = r
                .events
                .iter()
                .find(|e| !matches!(e.as_str(), "session-revoked" | "credential-change"))
            {
                out.push(format!(
                    "ssf receiver {:?}: unknown event {e:?} (session-revoked, credential-change)",
                    r.name
                ));
            }
        }
        self.scim_problems(&mut out);
        let mut seen = std::collections::HashSet::new();
        for c in &self.clients {
            if !seen.insert(&c.id) {
                out.push(format!("client {:?} is declared twice", c.id));
            }
            if c.secret_hash.is_some() && c.secret_env.is_some() {
                out.push(format!(
                    "client {:?}: give secret_hash or secret_env, not both",
                    c.id
                ));
            }
        }
        out
    }

    fn scim_problems(&self, out: &mut Vec<String>) {
        let s = &self.scim;
        if s.max_attempts < 1 || s.retry_base < 1 || s.retry_max < s.retry_base || s.timeout < 1 {
            out.push(
                "[scim] max_attempts, retry_base and timeout must be positive, retry_max at least retry_base"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for t in &s.targets {
            let name = &t.name;
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                out.push(format!(
                    "scim target {name:?}: name: use 1-64 letters, digits, '-' or '_'"
                ));
            }
            if !seen.insert(name) {
                out.push(format!("scim target {name:?} is declared twice"));
            }
            match url::Url::parse(&t.base_url) {
                Ok(u)
                    if (u.scheme() == "https" || u.scheme() == "http")
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && u.username().is_empty()
                        && u.password().is_none() => {}
                _ => out.push(format!(
                    "scim target {name:?}: base_url {:?} must be an http(s) URL without credentials, query or fragment",
                    t.base_url
                )),
            }
            if t.base_url.starts_with("http://") && !is_loopback_url(&t.base_url) {
                out.push(format!(
                    "scim target {name:?}: base_url {:?} must use https outside loopback (the bearer token travels with every request)",
                    t.base_url
                ));
            }
            if t.token_env.is_empty() || t.token_env.contains(['=', '\0']) {
                out.push(format!(
                    "scim target {name:?}: token_env must name an environment variable"
                ));
            }
            if t.groups.iter().any(|g| g.is_empty()) {
                out.push(format!("scim target {name:?}: groups has an empty name"));
            }
        }
    }

    /// Whether cookies may omit `Secure` (plain-http loopback only).
    pub fn insecure_cookies(&self) -> bool {
        self.issuer.starts_with("http://") && is_loopback_url(&self.issuer)
    }
}

/// An https URL, or plain http to a loopback address.
pub fn https_or_loopback(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => is_loopback_url(s),
        _ => false,
    }
}

fn is_loopback_url(s: &str) -> bool {
    url::Url::parse(s)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
        .map(|h| match h {
            url::Host::Domain(d) => d == "localhost",
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        })
        .unwrap_or(false)
}

/// The demo's issuer for a listen address. A wildcard address (`0.0.0.0`,
/// `[::]`) is where the server listens, not an address a browser can be sent
/// to: the issuer names `localhost` on the same port instead.
fn demo_issuer(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("http://localhost:{}", a.port()),
        _ => format!("http://{listen}"),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|i| before.len() - i)
        .unwrap_or(before.len() + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_error: Option<&str>) {
        match (Config::parse(text, "t.toml"), expected_error) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => {
                assert!(e.to_string().starts_with(want), "got {e}, want {want}")
            }
            (Ok(_), Some(want)) => panic!("accepted, want {want}"),
            (Err(e), None) => panic!("rejected: {e}"),
        }
    }

    #[test]
    fn config_files_are_validated_with_locations() {
        let ok = "version = 1\nissuer = \"https://id.example\"\n";
        check(ok, None);
        check(
            "version = 1\nissuer = \"https://id.example\"\nbogus = 1\n",
            Some("t.toml:3:1: unknown field `bogus`"),
        );
        check(
            "version = 1\nissuer = \"https://id.example\"\n[tokens]\ncode_tll = 5\n",
            Some("t.toml:4:1: unknown field `code_tll`"),
        );
        check(
            "version = 2\nissuer = \"https://id.example\"\n",
            Some("t.toml: version = 2 is not supported"),
        );
        check(
            "version = 1\nissuer = \"http://id.example\"\n",
            Some("t.toml: issuer \"http://id.example\" must use https"),
        );
        check("version = 1\nissuer = \"http://127.0.0.1:9000\"\n", None);
        check(
            "version = 1\nissuer = \"https://id.example\"\n[keys]\ndefault_alg = \"HS256\"\n",
            Some("t.toml: keys.default_alg \"HS256\""),
        );
        check(
            "version = 1\nissuer = \"https://id.example\"\n[[clients]]\nid = \"a\"\n[[clients]]\nid = \"a\"\n",
            Some("t.toml: client \"a\" is declared twice"),
        );
        check(
            "version = 1\nissuer = \"https://id.example\"\n[tokens]\ncode_ttl = 0\n",
            Some("t.toml: tokens.code_ttl must be positive"),
        );
    }

    #[test]
    fn scim_targets_are_validated() {
        let base = "version = 1\nissuer = \"https://id.example\"\n";
        let target = |name: &str, url: &str| {
            format!(
                "{base}[[scim.targets]]\nname = \"{name}\"\nbase_url = \"{url}\"\ntoken_env = \"VC_TOKEN\"\n"
            )
        };
        check(&target("vcenter", "https://vc.example/scim/v2"), None);
        check(&target("local", "http://127.0.0.1:9000/v2"), None);
        check(
            &target("vcenter", "http://vc.example/scim/v2"),
            Some(
                "t.toml: scim target \"vcenter\": base_url \"http://vc.example/scim/v2\" must use https outside loopback",
            ),
        );
        check(
            &target("vcenter", "https://u:p@vc.example/scim/v2"),
            Some("t.toml: scim target \"vcenter\": base_url"),
        );
        check(
            &target("vc enter", "https://vc.example/scim/v2"),
            Some("t.toml: scim target \"vc enter\": name"),
        );
        let twice = format!(
            "{}[[scim.targets]]\nname = \"vcenter\"\nbase_url = \"https://b.example\"\ntoken_env = \"T\"\n",
            target("vcenter", "https://a.example")
        );
        check(
            &twice,
            Some("t.toml: scim target \"vcenter\" is declared twice"),
        );
        check(
            &format!(
                "{}tokenenv = \"X\"\n",
                target("vcenter", "https://a.example")
            ),
            Some("t.toml:7:1: unknown field `tokenenv`"),
        );
        check(
            &format!("{base}[scim]\nretry_base = 0\n"),
            Some("t.toml: [scim] max_attempts"),
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut cfg = Config::parse("version = 1\nissuer = \"https://id.example\"\n", "t").unwrap();
        let env = |k: &str| match k {
            "TOLLGATE_DATABASE_URL" => Some("postgres://db/x".to_string()),
            "TOLLGATE_ISSUER" => Some("https://other.example".to_string()),
            _ => None,
        };
        cfg.apply_env(&env).unwrap();
        assert_eq!(cfg.database.url, "postgres://db/x");
        assert_eq!(cfg.issuer, "https://other.example");
        let bad = |k: &str| (k == "TOLLGATE_ISSUER").then(|| "ftp://x".to_string());
        assert!(cfg.apply_env(&bad).is_err());
    }

    #[test]
    fn demo_issuer_never_names_a_wildcard_address() {
        for (listen, issuer) in [
            ("0.0.0.0:8080", "http://localhost:8080"),
            ("[::]:9000", "http://localhost:9000"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("localhost:8080", "http://localhost:8080"),
            ("[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(Config::demo(listen).issuer, issuer, "{listen}");
        }
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
