//! `tollgate scim sync|status`: thin adapters over `crate::scim`.

use super::CliError;
use crate::config::Config;
use crate::scim::worker::{Env, TargetWorker, pass};
use clap::Subcommand;
use std::time::Duration;

#[derive(Subcommand)]
pub enum ScimCmd {
    /// Compare a target with Tollgate and push the differences.
    Sync {
        /// The `[[scim.targets]]` name.
        #[arg(long)]
        target: String,
        /// Only print what would change; change nothing here or there.
        #[arg(long)]
        dry_run: bool,
    },
    /// Pending and failed changes, last success and last error, per target.
    Status,
}

pub(super) fn when(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "never".into())
}

/// The last success and the last error of a background job, for `status`.
pub(super) fn print_last(success: Option<i64>, error: Option<&str>, error_at: Option<i64>) {
    out!("  last success: {}", when(success));
    match error {
        Some(e) => out!("  last error:   {} {e}", when(error_at)),
        None => out!("  last error:   none"),
    }
}

pub async fn run(cmd: ScimCmd, cfg: &Config) -> Result<(), CliError> {
    let store = crate::server::open_store(cfg).await?;
    let now = crate::clock::Clock::System.now();
    match cmd {
        ScimCmd::Status => {
            if cfg.scim.targets.is_empty() {
                out!("no [[scim.targets]] configured");
            }
            for t in &cfg.scim.targets {
                let s = store.scim_status(&t.name).await?;
                out!(
                    "{}\t{}\tpending={}\tfailed={}\tusers={}\tgroups={}",
                    t.name,
                    t.base_url,
                    s.pending,
                    s.failed,
                    s.provisioned_users,
                    s.provisioned_groups
                );
                out!("  initial sync: {}", when(s.full_sync_at));
                print_last(s.last_success_at, s.last_error.as_deref(), s.last_error_at);
                if s.failures > 0 {
                    out!(
                        "  target down:  {} consecutive failures, next attempt {}",
                        s.failures,
                        when(Some(s.next_attempt_at))
                    );
                }
                for (kind, subject, error) in store.scim_failed_rows(&t.name).await? {
                    out!("  failed {kind} {subject}: {error}");
                }
            }
        }
        ScimCmd::Sync { target, dry_run } => {
            let Some(t) = cfg.scim.targets.iter().find(|t| t.name == target) else {
                let names: Vec<&str> = cfg.scim.targets.iter().map(|t| t.name.as_str()).collect();
                return Err(CliError(format!(
                    "--target {target:?}: no such [[scim.targets]] (configured: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                )));
            };
            let t = crate::scim::target(t, &super::env).map_err(|p| CliError(p.join("; ")))?;
            let mut w = TargetWorker::new(t, Duration::from_secs(cfg.scim.timeout))?;
            let changes = crate::scim::plan::plan(&store, &w.target, &w.client).await?;
            for c in &changes {
                out!("{}{c}", if dry_run { "would " } else { "" });
            }
            if changes.is_empty() {
                out!("{target}: in sync");
            }
            if dry_run {
                out!("dry run: {} change(s), nothing was changed", changes.len());
                return Ok(());
            }
            crate::scim::plan::apply(&store, &target, &changes, now).await?;
            let metrics = crate::metrics::Metrics::default();
            let env = Env {
                store: &store,
                metrics: &metrics,
                config: &cfg.scim,
            };
            let owner = format!("cli-{}", crate::secret::random_id(8));
            let p = pass(env, &mut w, &owner, now).await?;
            if let Some(e) = p.target_error {
                return Err(CliError(format!(
                    "{target}: {e}; the changes stay queued for the server to retry"
                )));
            }
            if p.skipped {
                out!(
                    "{} change(s) queued; a running server is delivering to {target} and will push them",
                    changes.len()
                );
            } else {
                let pending = store.scim_pending_count(&target).await?;
                out!(
                    "{} delivered, {} refused by the target, {pending} still pending (see `tollgate scim status`)",
                    p.delivered,
                    p.failed
                );
            }
        }
    }
    Ok(())
}
