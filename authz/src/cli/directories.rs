//! `tollgate directories sync|status`: thin adapters over
//! `crate::directory::sync`.

use super::CliError;
use super::scim::{print_last, when};
use crate::config::Config;
use crate::directory::Directories;
use crate::directory::sync::{retry_after, run_once};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DirectoriesCmd {
    /// Read every user of the directory and make Tollgate match: create,
    /// update, disable (never delete). Local users are never touched.
    Sync {
        /// The `[[directories]]` name; all of them when left out.
        #[arg(long)]
        directory: Option<String>,
        /// Only print what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Accounts, last success, last error, per directory.
    Status,
}

pub async fn run(cmd: DirectoriesCmd, cfg: &Config) -> Result<(), CliError> {
    let dirs = Directories::from_config(&cfg.directories, &super::env)
        .map_err(|p| CliError(p.join("\n")))?;
    if dirs.is_empty() {
        return Err(CliError("no [[directories]] configured".into()));
    }
    let store = crate::server::open_store(cfg).await?;
    let now = crate::clock::Clock::System.now();
    match cmd {
        DirectoriesCmd::Status => {
            for d in dirs.iter() {
                let s = store.directory_status(d.name()).await?;
                out!(
                    "{}\t{}\taccounts={}\tdisabled={}",
                    d.name(),
                    d.config.url,
                    s.accounts,
                    s.disabled
                );
                print_last(s.last_success_at, s.last_error.as_deref(), s.last_error_at);
                if s.failures > 0 {
                    out!(
                        "  failing:      {} consecutive failures, next scheduled attempt {}",
                        s.failures,
                        when(Some(s.next_attempt_at))
                    );
                }
            }
        }
        DirectoriesCmd::Sync { directory, dry_run } => {
            if let Some(name) = &directory
                && dirs.get(name).is_none()
            {
                let names: Vec<&str> = dirs.iter().map(|d| d.name()).collect();
                return Err(CliError(format!(
                    "--directory {name:?}: no such [[directories]] entry (configured: {})",
                    names.join(", ")
                )));
            }
            let mut failed = Vec::new();
            for d in dirs
                .iter()
                .filter(|d| directory.as_deref().is_none_or(|n| n == d.name()))
            {
                let every = d.config.sync_interval;
                match run_once(&store, &dirs, d, dry_run, now, |n| {
                    now + retry_after(n, every)
                })
                .await
                {
                    Ok(report) => {
                        let verb = if dry_run { "would " } else { "" };
                        for c in &report.groups {
                            out!("{}: {verb}{c}", d.name());
                        }
                        for c in &report.changes {
                            out!("{}: {verb}{c}", d.name());
                        }
                        for c in &report.conflicts {
                            out!("{}: warning: {c}", d.name());
                        }
                        for f in &report.failed {
                            out!("{}: not applied: {f}", d.name());
                        }
                        for s in &report.skipped {
                            out!("{}: skipped entry {s}", d.name());
                        }
                        out!(
                            "{}: {} change(s){}",
                            d.name(),
                            report.changes.len() + report.groups.len(),
                            if dry_run {
                                ", dry run: nothing was changed"
                            } else {
                                ""
                            }
                        );
                    }
                    Err(e) => {
                        eprintln!("{}: {e}; nothing was changed", d.name());
                        failed.push(d.name().to_owned());
                    }
                }
            }
            if !failed.is_empty() {
                return Err(CliError(format!(
                    "sync failed for {}; the server retries on its schedule",
                    failed.join(", ")
                )));
            }
        }
    }
    Ok(())
}
