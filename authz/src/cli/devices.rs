//! `tollgate devices list|revoke`: endpoint-agent devices for admins.

use super::CliError;
use crate::agent::manage::{self, Actor};
use crate::config::Config;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DevicesCmd {
    /// List enrolled devices (all, or one user's by login).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device at once: its approvals, grants and requests are refused.
    Revoke { device_id: String },
}

pub async fn run(cmd: DevicesCmd, cfg: &Config) -> Result<(), CliError> {
    let store = crate::server::open_store(cfg).await?;
    let now = crate::clock::Clock::System.now();
    match cmd {
        DevicesCmd::List { user } => {
            let user_id = match user {
                Some(login) => Some(
                    store
                        .user_by_login(&login)
                        .await?
                        .ok_or_else(|| CliError(format!("no user {login:?}")))?
                        .id,
                ),
                None => None,
            };
            let devices = manage::list(&store, user_id.as_deref())
                .await
                .map_err(|e| CliError(e.description))?;
            out!("device\tuser\thostname\tkey_storage\tcreated_at\trevoked_at\tattestation");
            for d in devices {
                out!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    d.device_id,
                    d.user_id,
                    d.hostname,
                    d.key_storage,
                    d.created_at,
                    d.revoked_at
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into()),
                    d.attestation
                );
            }
        }
        DevicesCmd::Revoke { device_id } => {
            manage::revoke(&store, Actor::Admin, &device_id, now)
                .await
                .map_err(|e| CliError(format!("device {device_id}: {}", e.description)))?;
            out!("device {device_id} revoked");
        }
    }
    Ok(())
}
