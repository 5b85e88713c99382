//! Start-up and serving.
//!
//! `start` opens the store, applies migrations, makes the first signing keys,
//! syncs config clients and (in demo mode) creates the demo client and user.
//! `serve` runs on a bound listener until the shutdown future resolves, then
//! drains in-flight requests within the grace period and closes the pool.

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{Alg, Keyring, generate_key};
use crate::master_key::MasterKey;
use crate::oauth::client::{ClientSettings, hash_secret};
use crate::state::{App, AppState};
use crate::store::{ClientRow, NewUser, Store};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why the service could not start. Printed by the CLI and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    MasterKey(#[from] crate::master_key::MasterKeyError),
}

/// Loads the master key: `TOLLGATE_MASTER_KEY` (base64), else the file.
/// Outside demo mode a missing key is an error, never a generated one.
pub fn master_key(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<MasterKey, StartError> {
    if let Some(v) = env("TOLLGATE_MASTER_KEY") {
        return Ok(MasterKey::from_material(
            v.as_bytes(),
            "TOLLGATE_MASTER_KEY",
        )?);
    }
    match &config.keys.master_key_file {
        Some(p) if config.demo => Ok(MasterKey::load_or_create(p)?),
        Some(p) => Ok(MasterKey::from_file(p)?),
        None => Err(StartError::Config(
            "no master key: set keys.master_key_file or TOLLGATE_MASTER_KEY (32 bytes, base64); generate one with `head -c32 /dev/urandom | base64`".into(),
        )),
    }
}

/// Opens the store and applies migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let store = Store::connect(&config.database.url, config.database.max_connections)
        .await?
        .with_audit_hash(config.audit.hash)
        .with_scim_targets(config.scim.targets.iter().map(|t| t.name.clone()).collect());
    store.migrate().await?;
    Ok(store)
}

/// Everything `serve` needs, ready.
pub async fn start(
    config: Config,
    clock: Clock,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<App, StartError> {
    // Everything that can be checked without writing anything, all at once:
    // a refused config leaves no database, keys or files behind.
    let problems = crate::preflight::problems(&config, env);
    if !problems.is_empty() {
        return Err(StartError::Config(problems.join("\n")));
    }
    let master = master_key(&config, env)?;
    let attestation = crate::login::attestation::AttestationPolicy::load(&config.authenticators)
        .map_err(StartError::Config)?;
    let tpm_trust = crate::agent::attest::TpmTrust::load(&config.agent.tpm_ca_files)
        .map_err(StartError::Config)?;
    let passwords = crate::login::password_policy::PasswordPolicy::load(&config.passwords)
        .map_err(StartError::Config)?;
    let store = open_store(&config).await?;
    let now = clock.now();
    ensure_keys(&store, &master, now).await?;
    // The agents' SM2 grant-signing key exists from the first start, so its
    // public key can be published before any device enrolls.
    crate::agent::offline::grant_key(&store, &master, now)
        .await
        .map_err(|e| StartError::Config(format!("grant key: {}", e.description)))?;
    sync_config_clients(&config, &store, env, now).await?;
    let rows = store.published_keys(now).await?;
    let keyring = Keyring::load(&rows, &master).map_err(|e| StartError::Config(e.to_string()))?;
    let decisions =
        crate::decision::DecisionPoint::load(&config.policy).map_err(StartError::Config)?;
    let velocity = crate::decision::velocity::Velocity::from_config(&config.state, env)
        .map_err(StartError::Config)?;
    tracing::info!(velocity = velocity.kind(), "risk velocity counters");
    let decisions = decisions.with_velocity(velocity);
    tracing::info!(policy = %decisions.version(), "policy loaded");
    if let Err(e) = decisions.load_globals(&store).await {
        tracing::error!(error = %e, "risk globals unreadable; scoring starts with an empty sketch");
    }
    let scim = crate::scim::targets(&config, env).map_err(StartError::Config)?;
    let directories = crate::directory::Directories::from_config(&config.directories, env)
        .map_err(|p| StartError::Config(p.join("\n")))?;
    for t in &scim {
        let n = store.scim_initial_sync(&t.name, now).await?;
        if n > 0 {
            tracing::info!(target_name = %t.name, resources = n, "scim: initial full sync queued");
        }
    }
    let mut state = AppState::new(
        config,
        store,
        clock,
        master,
        keyring,
        attestation,
        decisions,
    );
    state.scim = scim;
    state.directories = directories;
    state.metrics_token = match &state.config.metrics.token_env {
        Some(var) => Some(crate::secret::Secret::new(
            env(var).filter(|t| !t.is_empty()).ok_or_else(|| {
                StartError::Config(format!(
                    "[metrics] token_env: environment variable {var} is not set"
                ))
            })?,
        )),
        None => None,
    };
    state.tpm_trust = tpm_trust;
    state.branding = Arc::new(
        crate::i18n::branding::Branding::load(&state.config.branding)
            .map_err(|p| StartError::Config(p.join("\n")))?,
    );
    state.passwords = passwords;
    let app = Arc::new(state);
    app.revocations
        .reload(&app.store, now, app.config.tokens.access_token_ttl)
        .await?;
    Ok(app)
}

/// Creates an ES256 and an RS256 key if none exist yet (first start).
async fn ensure_keys(store: &Store, master: &MasterKey, now: i64) -> Result<(), StartError> {
    let have = store.published_keys(now).await?;
    for alg in [Alg::ES256, Alg::RS256] {
        if !have.iter().any(|k| k.alg == alg.name()) {
            let row = generate_key(alg, master, now, now).map_err(StartError::Config)?;
            store.add_key_retiring_others(&row, now).await?;
            tracing::info!(kid = %row.kid, alg = alg.name(), "created signing key");
        }
    }
    Ok(())
}

async fn sync_config_clients(
    config: &Config,
    store: &Store,
    env: &dyn Fn(&str) -> Option<String>,
    now: i64,
) -> Result<(), StartError> {
    let default_alg = Alg::parse(&config.keys.default_alg).unwrap_or(Alg::ES256);
    let mut rows = Vec::with_capacity(config.clients.len());
    for c in &config.clients {
        let secret_hash =
            crate::preflight::client_secret_hash(c, env).map_err(StartError::Config)?;
        let settings = ClientSettings::from_config(c, default_alg, secret_hash.is_some())
            .map_err(StartError::Config)?;
        rows.push(ClientRow {
            id: c.id.clone(),
            secret_hash,
            settings,
            source: "config".into(),
        });
    }
    store.sync_config_clients(&rows, now).await?;
    Ok(())
}

/// What the demo prints on start.
pub struct DemoInfo {
    pub user: String,
    pub password: String,
    pub client_secret_path: String,
}

/// Creates (once) the demo client and user; returns their credentials.
pub async fn ensure_demo(app: &App) -> Result<DemoInfo, StartError> {
    let now = app.now();
    let secret_path = std::path::Path::new("data/demo-client-secret");
    let password_path = std::path::Path::new("data/demo-password");
    if app.store.client(crate::http::DEMO_CLIENT).await?.is_none() {
        let secret = crate::secret::random_token(32);
        crate::master_key::write_private_file(secret_path, secret.expose().as_bytes())
            .map_err(|e| StartError::Config(format!("{}: {e}", secret_path.display())))?;
        let cfg = crate::config::ClientConfig {
            id: crate::http::DEMO_CLIENT.into(),
            name: Some("Tollgate demo".into()),
            redirect_uris: vec![format!(
                "{}/demo/callback",
                app.urls.issuer.trim_end_matches('/')
            )],
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..crate::config::ClientConfig::default()
        };
        let settings =
            ClientSettings::from_config(&cfg, Alg::ES256, true).map_err(StartError::Config)?;
        app.store
            .insert_client(
                &ClientRow {
                    id: cfg.id,
                    secret_hash: Some(hash_secret(secret.expose())),
                    settings,
                    source: "cli".into(),
                },
                now,
            )
            .await?;
    }
    if app.store.user_by_login("demo").await?.is_none() {
        let password = crate::secret::random_token(12);
        let hash = crate::login::password::hash(&password).map_err(StartError::Config)?;
        crate::master_key::write_private_file(password_path, password.expose().as_bytes())
            .map_err(|e| StartError::Config(format!("{}: {e}", password_path.display())))?;
        app.store
            .insert_users(
                &[NewUser {
                    login: "demo".into(),
                    display_name: "Demo User".into(),
                    email: Some("demo@example.com".into()),
                    upn: Some("demo@example.com".into()),
                    groups: vec!["demo-users".into()],
                    password_hash: Some(hash),
                }],
                now,
            )
            .await?;
    }
    let password = std::fs::read_to_string(password_path)
        .unwrap_or_else(|_| "(see data/demo-password)".into());
    Ok(DemoInfo {
        user: "demo".into(),
        password: password.trim().to_string(),
        client_secret_path: secret_path.display().to_string(),
    })
}

/// Serves until `shutdown` resolves, then drains for at most the grace
/// period, lets the delivery workers (SCIM, security events) finish what
/// is in flight, and closes the pool. Other background tasks (revocation
/// polling and feed, key reload, purge) stop with it; undelivered changes
/// stay in the outboxes for the next start.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(app.config.http.shutdown_grace);
    let background = tokio::spawn(background(app.clone()));
    let (stop_workers, stop) = crate::shutdown::channel();
    let scim = tokio::spawn(crate::scim::worker::run(app.clone(), stop.clone()));
    let (stop_sync, stop_sync_rx) = tokio::sync::watch::channel(false);
    let directories = tokio::spawn(crate::directory::sync::run(app.clone(), stop_sync_rx));
    let hup = crate::decision::sighup_reloads(app.clone());
    let events = tokio::spawn(crate::events::run(app.clone(), stop));
    let feed = tokio::spawn(crate::replica_feed::run(app.clone()));
    let router = crate::http::router(app.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ops = match &app.config.metrics.listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(listen = %addr, "metrics listener");
            let r = crate::http::ops_router(app.clone());
            Some(tokio::spawn(async move { axum::serve(l, r).await }))
        }
        None => None,
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => r?,
        _ = stop_rx => {
            tracing::info!(grace_secs = grace.as_secs(), "shutting down: draining in-flight requests");
            if tokio::time::timeout(grace, &mut server).await.is_err() {
                tracing::warn!("grace period over; dropping remaining connections");
            }
        }
    }
    background.abort();
    hup.abort();
    feed.abort();
    // The directory sync stops between users (each is one transaction).
    let _ = stop_sync.send(true);
    if tokio::time::timeout(grace, directories).await.is_err() {
        tracing::warn!("directory sync did not stop within the grace period");
    }
    if let Some(o) = ops {
        o.abort();
    }
    // Deliveries in flight finish and are recorded (never sent twice after
    // a restart); a worker stuck past the grace period is cut off.
    stop_workers.stop();
    for (name, mut worker) in [("scim", scim), ("events", events)] {
        if tokio::time::timeout(grace, &mut worker).await.is_err() {
            tracing::warn!(
                worker = name,
                "worker still busy after the grace period; stopping it"
            );
            worker.abort();
        }
    }
    checkpoint(&app).await;
    save_globals(&app).await;
    app.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Signs and stores a checkpoint of the audit chain (and exports it to
/// `[audit] checkpoint_file`); a failure is logged, never fatal.
async fn checkpoint(app: &App) {
    let alg =
        crate::keys::Alg::parse(&app.config.keys.default_alg).unwrap_or(crate::keys::Alg::ES256);
    match crate::checkpoint::write(
        &app.store,
        &app.keyring(),
        alg,
        &app.urls.issuer,
        app.config.audit.checkpoint_file.as_deref(),
        app.now(),
    )
    .await
    {
        Ok(c) => tracing::debug!(
            records = c.record_count,
            last_id = c.last_id,
            "audit checkpoint"
        ),
        Err(e) => tracing::error!(error = %e, "cannot write an audit checkpoint"),
    }
}

/// Saves the risk scorer's global frequencies (docs/risk.md); a failure is
/// logged, never fatal (the counts wait for the next save).
async fn save_globals(app: &App) {
    if let Err(e) = app.decisions.save_globals(&app.store, app.now()).await {
        tracing::warn!(error = %e, "cannot save the risk globals");
    }
}

/// Seconds between saves of the risk globals.
const GLOBALS_EVERY: u64 = 60;

/// Periodic work: revocations from other replicas (1 s), policy files
/// (`[policy] reload_interval`), keys (30 s), risk globals (1 min), purge
/// (10 min).
async fn background(app: App) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    let policy_every = app.config.policy.reload_interval;
    loop {
        tick.tick().await;
        n += 1;
        if policy_every > 0 && n.is_multiple_of(policy_every) {
            crate::decision::reload_and_report(&app, "poll");
        }
        let now = app.now();
        if let Err(e) = app
            .revocations
            .reload(&app.store, now, app.config.tokens.access_token_ttl)
            .await
        {
            tracing::warn!(error = %e, "revocation reload failed");
        }
        if n.is_multiple_of(30)
            && let Err(e) = app.reload_keys().await
        {
            tracing::warn!(error = %e, "key reload failed");
        }
        let every = app.config.audit.checkpoint_interval;
        if every > 0 && n.is_multiple_of(every) {
            checkpoint(&app).await;
        }
        if n.is_multiple_of(GLOBALS_EVERY) {
            save_globals(&app).await;
        }
        if n.is_multiple_of(600) {
            if let Err(e) = app.store.purge_expired(now).await {
                tracing::warn!(error = %e, "purge failed");
            }
            // Attempt counters outlive neither their window nor their lock.
            let (per_user, _) = app.lockout_policies();
            if let Err(e) = app
                .store
                .purge_attempts(now, per_user.window.max(per_user.lockout))
                .await
            {
                tracing::warn!(error = %e, "attempts purge failed");
            }
        }
    }
}
