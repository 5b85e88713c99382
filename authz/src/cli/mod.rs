//! The `tollgate` command line. Errors print as `file:line: message` (or
//! `what: message`) and exit non-zero.

mod admin;
mod devices;
mod policy;
mod risk;
mod scim;
mod serve;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Adaptive authentication and policy decisions: an OpenID Connect provider with risk-driven step-up."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service. Without --config: the embedded demo (SQLite under ./data/).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address (overrides the config).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a config file; prints every problem as file:line:col.
    CheckConfig { file: PathBuf },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        cmd: admin::KeysCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Clients (relying parties).
    Clients {
        #[command(subcommand)]
        cmd: admin::ClientsCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Users.
    Users {
        #[command(subcommand)]
        cmd: admin::UsersCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// The risk scorer: simulate traces, train, score and evaluate (see docs/risk.md).
    Risk {
        #[command(subcommand)]
        cmd: risk::RiskCommand,
    },
    /// Policy files: check, JSON Schema, what-if simulation (see docs/policy.md).
    Policy {
        #[command(subcommand)]
        cmd: policy::PolicyCommand,
    },
    /// Endpoint-agent devices: list, revoke.
    Devices {
        #[command(subcommand)]
        cmd: devices::DevicesCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// SCIM provisioning: sync a target, show delivery status.
    Scim {
        #[command(subcommand)]
        cmd: scim::ScimCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: admin::AuditCmd,
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
}

/// A CLI failure: where, and what.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The config a command works on: the file, or the embedded demo's.
pub(crate) fn load_config(
    file: Option<&PathBuf>,
    listen: Option<&str>,
) -> Result<Config, CliError> {
    let mut cfg = match file {
        Some(f) => Config::from_file(f)?,
        None => Config::demo(listen.unwrap_or("127.0.0.1:8080")),
    };
    cfg.apply_env(&env)?;
    if let (Some(l), Some(_)) = (listen, file) {
        cfg.listen = l.to_string();
    }
    Ok(cfg)
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The risk commands are synchronous batch jobs over files: no runtime.
    let cli = match cli.command {
        Command::Risk { cmd } => return risk::run(cmd),
        Command::Policy { cmd } => return policy::run(cmd),
        command => Cli { command },
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve { config, listen } => {
                serve::run(config.as_ref(), listen.as_deref()).await
            }
            Command::Migrate { config } => {
                let cfg = load_config(config.as_ref(), None)?;
                crate::server::open_store(&cfg).await?;
                println!("migrations applied to {}", redact_url(&cfg.database.url));
                Ok(())
            }
            Command::CheckConfig { file } => {
                let cfg = Config::from_file(&file)?;
                crate::login::attestation::AttestationPolicy::load(&cfg.authenticators)
                    .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
                crate::agent::attest::TpmTrust::load(&cfg.agent.tpm_ca_files)
                    .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
                for c in &cfg.clients {
                    let has_secret = c.secret_hash.is_some() || c.secret_env.is_some();
                    let alg = crate::keys::Alg::parse(&cfg.keys.default_alg)
                        .unwrap_or(crate::keys::Alg::ES256);
                    crate::oauth::client::ClientSettings::from_config(c, alg, has_secret)
                        .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
                    if let Some(h) = &c.secret_hash {
                        crate::oauth::client::parse_secret_hash(h).ok_or_else(|| {
                            CliError(format!(
                                "{}: client {:?}: secret_hash must be sha256:<64 hex digits>",
                                file.display(),
                                c.id
                            ))
                        })?;
                    }
                }
                println!("{}: ok", file.display());
                Ok(())
            }
            Command::Keys { cmd, config } => {
                admin::keys(cmd, &load_config(config.as_ref(), None)?).await
            }
            Command::Clients { cmd, config } => {
                admin::clients(cmd, &load_config(config.as_ref(), None)?).await
            }
            Command::Users { cmd, config } => {
                admin::users(cmd, &load_config(config.as_ref(), None)?).await
            }
            Command::Devices { cmd, config } => {
                devices::run(cmd, &load_config(config.as_ref(), None)?).await
            }
            Command::Scim { cmd, config } => {
                scim::run(cmd, &load_config(config.as_ref(), None)?).await
            }
            Command::Audit { cmd, config } => {
                admin::audit(cmd, &load_config(config.as_ref(), None)?).await
            }
            // Handled before the runtime starts.
            Command::Risk { .. } | Command::Policy { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// A database URL without its password, for printing.
pub fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => u.to_string(),
    }
}
