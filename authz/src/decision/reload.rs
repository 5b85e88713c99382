//! Hot reload: the policy files are loaded again every
//! `[policy] reload_interval` seconds and on SIGHUP. A valid change is
//! swapped in atomically (one `Arc`); a broken file keeps the last good
//! policy serving, is logged once with its `file:line:col`, and shows in
//! the `tollgate_policy_stale` and `tollgate_policy_reload_failures`
//! metrics until it is fixed.

use super::Reload;
use crate::state::App;

/// Reloads once and reports the outcome (logs, metrics). `trigger` is
/// `poll` (changes must settle over two polls), `sighup` or `notify`
/// (another replica reloaded: at once). A swap this replica made on its
/// own is announced to the others (`replica_feed::announce_policy`).
pub fn reload_and_report(app: &App, trigger: &str) {
    let dp = &app.decisions;
    let before = dp.version();
    match dp.reload(trigger == "poll") {
        Reload::Settling => {}
        Reload::Unchanged => {
            app.metrics.policy_stale.set(0);
            if dp.note_outcome(None) {
                tracing::info!(trigger, version = %before, "policy files load again");
            }
        }
        Reload::Swapped(version) => {
            app.metrics.policy_stale.set(0);
            dp.note_outcome(None);
            tracing::info!(trigger, old = %before, new = %version, "policy reloaded");
            if trigger != "notify" {
                crate::replica_feed::announce_policy(app, &version);
            }
        }
        Reload::Failed(e) => {
            app.metrics.policy_stale.set(1);
            if dp.note_outcome(Some(&e)) || trigger != "poll" {
                app.metrics.policy_reload_failures.inc();
                tracing::error!(
                    trigger,
                    serving = %before,
                    "policy reload failed; the last good policy keeps serving:\n{e}"
                );
            }
        }
    }
}

/// Reloads on every SIGHUP (Unix only); abort the handle to stop.
pub fn sighup_reloads(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; policy reloads only by polling");
            return;
        };
        while hup.recv().await.is_some() {
            reload_and_report(&app, "sighup");
        }
    })
}
