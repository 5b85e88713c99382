//! What one replica changes, the others learn at once (issue 16). On
//! PostgreSQL each replica LISTENs on three channels:
//!
//! - `tollgate_revocations`: every revoked grant and access token (the
//!   triggers of migration 0014); the id goes into the revocation cache.
//! - `tollgate_keys`: any change to `signing_keys` (the trigger of
//!   migration 0016, e.g. `tollgate keys rotate`); the keyring is reloaded,
//!   so every replica publishes the same JWKS.
//! - `tollgate_policy`: a replica whose policy changed (SIGHUP, or its
//!   poll saw new files) says so; the others reload their own files at
//!   once, without waiting for their poll to settle.
//!
//! The polls in `server.rs` stay as the fallback (a notification sent
//! while a listener reconnects is lost). SQLite serves one process, which
//! updates itself.

use std::time::Duration;

use crate::state::App;
use crate::store::Backend;

/// Revoked grant ids and access-token jtis (migration 0014).
pub const REVOCATIONS: &str = "tollgate_revocations";
/// Signing keys changed (migration 0016).
pub const KEYS: &str = "tollgate_keys";
/// A replica swapped its policy; the payload is the new version.
pub const POLICY: &str = "tollgate_policy";

/// Runs until the task is aborted; reconnects after a failure.
pub async fn run(app: App) {
    if app.store.backend() != Backend::Postgres {
        return;
    }
    loop {
        match listen(&app).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "replica feed lost; the polls cover until it is back");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen(app: &App) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(&app.config.database.url).await?;
    listener.listen_all([REVOCATIONS, KEYS, POLICY]).await?;
    tracing::debug!("listening for revocations, key and policy changes");
    loop {
        // `recv` reconnects by itself; a notification sent meanwhile is
        // picked up by the polls.
        let n = listener.recv().await?;
        match n.channel() {
            REVOCATIONS => app.revocations.insert(n.payload()),
            KEYS => {
                if let Err(e) = app.reload_keys().await {
                    tracing::warn!(error = %e, "key reload after a notification failed");
                }
            }
            POLICY if n.payload() != &*app.decisions.version() => {
                crate::decision::reload_and_report(app, "notify");
            }
            _ => {}
        }
    }
}

/// Tells the other replicas that this one now serves policy `version`
/// (PostgreSQL only; best effort, their polls cover a lost one).
pub fn announce_policy(app: &App, version: &str) {
    if app.store.backend() != Backend::Postgres {
        return;
    }
    let (store, version) = (app.store.clone(), version.to_string());
    tokio::spawn(async move {
        if let Err(e) = store.notify(POLICY, &version).await {
            tracing::warn!(error = %e, "could not announce the policy reload to other replicas");
        }
    });
}
