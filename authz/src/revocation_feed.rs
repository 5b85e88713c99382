//! Revocations from other replicas, at once: on PostgreSQL every revoked
//! grant and access token is announced on the `tollgate_revocations`
//! channel (triggers of migration 0014), and each replica LISTENs and adds
//! the id to its revocation cache. The 1 s poll in `server.rs` stays as
//! the fallback (a notification is lost while a listener reconnects).
//! SQLite serves one process, which updates its cache itself.

use std::time::Duration;

use crate::state::App;
use crate::store::Backend;

/// The channel the triggers notify.
pub const CHANNEL: &str = "tollgate_revocations";

/// Runs until the task is aborted; reconnects after a failure.
pub async fn run(app: App) {
    if app.store.backend() != Backend::Postgres {
        return;
    }
    loop {
        match listen(&app).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "revocation feed lost; the 1 s poll covers until it is back");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen(app: &App) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(&app.config.database.url).await?;
    listener.listen(CHANNEL).await?;
    tracing::debug!("listening for revocations");
    loop {
        // `recv` reconnects by itself; a notification sent meanwhile is
        // picked up by the poll.
        let n = listener.recv().await?;
        app.revocations.insert(n.payload());
    }
}
