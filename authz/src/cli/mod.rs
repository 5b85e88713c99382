//! The `tollgate` command line. Errors print as `file:line: message` (or
//! `what: message`) and exit non-zero.

/// `println!` for command output: a reader that went away (`tollgate users
/// list | head`) ends the command quietly with success, as any Unix tool
/// does, instead of panicking with "failed printing to stdout".
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::print_line(format_args!($($arg)*))
    };
}

mod admin;
mod devices;
mod directories;
mod policy;
mod risk;
mod scim;
mod serve;
mod table;
mod users;

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
        cmd: users::UsersCmd,
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
    /// LDAP / Active Directory user sources: sync now, show status.
    Directories {
        #[command(subcommand)]
        cmd: directories::DirectoriesCmd,
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

/// Where the embedded demo keeps its database and keys.
const DEMO_DATA: &str = "data";

/// The config a command works on: the file, or the embedded demo's. Only
/// `serve` (`serve = true`) may create the demo's `./data/`; any other
/// command without `--config` refuses to run where there is none, instead of
/// silently starting an empty database there.
pub(crate) fn load_config(
    file: Option<&PathBuf>,
    listen: Option<&str>,
    serve: bool,
) -> Result<Config, CliError> {
    let mut cfg = match file {
        Some(f) => checked_config(f, serve)?,
        None => {
            let mut cfg = Config::demo(listen.unwrap_or("127.0.0.1:8080"));
            cfg.apply_env(&env)?;
            cfg
        }
    };
    let demo_database = cfg.database.url == crate::config::DatabaseConfig::default().url;
    if file.is_none() && !serve && demo_database && !std::path::Path::new(DEMO_DATA).is_dir() {
        return Err(CliError(format!(
            "no ./{DEMO_DATA}/ in {}: run this command where `tollgate serve` keeps its demo data, or pass --config FILE",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )));
    }
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
                let cfg = load_config(config.as_ref(), None, false)?;
                crate::server::open_store(&cfg).await?;
                out!("migrations applied to {}", redact_url(&cfg.database.url));
                Ok(())
            }
            Command::CheckConfig { file } => check_config(&file),
            Command::Keys { cmd, config } => {
                admin::keys(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Clients { cmd, config } => {
                admin::clients(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Users { cmd, config } => {
                users::users(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Devices { cmd, config } => {
                devices::run(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Scim { cmd, config } => {
                scim::run(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Directories { cmd, config } => {
                directories::run(cmd, &load_config(config.as_ref(), None, false)?).await
            }
            Command::Audit { cmd, config } => {
                admin::audit(cmd, &load_config(config.as_ref(), None, false)?).await
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

/// A config file with the environment's overrides, refused with every
/// problem printed as `file:line:col: message` when it has any: for `serve`
/// (`preflight = true`) every check `serve` makes before it writes anything,
/// for the other commands the file's own values ([`Config::problems`]).
fn checked_config(file: &std::path::Path, preflight: bool) -> Result<Config, CliError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    let mut cfg = Config::parse_syntax(&text, &file.display().to_string())?;
    cfg.override_from_env(&env);
    let problems = if preflight {
        crate::preflight::problems(&cfg, &env)
    } else {
        cfg.problems()
    };
    if problems.is_empty() {
        return Ok(cfg);
    }
    let mut located: Vec<_> = problems
        .iter()
        .map(|p| (crate::preflight::locate(&text, p), p))
        .collect();
    located.sort_by_key(|(at, _)| *at);
    for (at, p) in located {
        match at {
            Some((line, col)) => eprintln!("{}:{line}:{col}: {p}", file.display()),
            None => eprintln!("{}: {p}", file.display()),
        }
    }
    Err(CliError(format!(
        "{}: {} problem(s); `tollgate serve` would refuse this config",
        file.display(),
        problems.len()
    )))
}

/// `check-config`: the file parses, and [`crate::preflight::problems`] (the
/// checks `serve` runs before it creates anything) finds nothing, with the
/// same environment `serve` would see. Every problem is printed as
/// `file:line:col: message` (the file's name alone when no line is about it).
fn check_config(file: &std::path::Path) -> Result<(), CliError> {
    checked_config(file, true)?;
    out!("{}: ok", file.display());
    Ok(())
}

/// Writes one line of command output; see [`out!`].
pub(crate) fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        exit_on_closed_pipe(&e);
        eprintln!("tollgate: cannot write output: {e}");
        std::process::exit(1);
    }
}

/// Ends the process with success when `e` says the reader of stdout went away.
pub(crate) fn exit_on_closed_pipe(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
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
