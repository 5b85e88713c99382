//! Command line: argument parsing, the state directory, and the mapping of
//! every error to a one-line message and a non-zero exit status. The
//! commands themselves are in [`super::commands`]; only this file and
//! `main.rs` read the clock and the environment.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use time::OffsetDateTime;

use super::commands;
pub use super::commands::{CliError, StorageChoice};
use super::pam::{self, PamContext};
use super::prompt;
use crate::secret::Pin;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate-agent",
    version,
    about = "Tollgate endpoint agent: SM2 device key (TPM 2.0), login approval, offline MFA"
)]
pub struct Cli {
    /// State directory (key store, grant, receipts). Default:
    /// /var/lib/tollgate-agent/<user>.
    #[arg(long, global = true, env = "TOLLGATE_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Read the PIN from the first line of standard input instead of the
    /// terminal (scripts; `pam` always reads standard input).
    #[arg(long, global = true)]
    pub pin_stdin: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the device key and register it with the issuer.
    Enroll {
        /// Issuer URL, e.g. https://idp.example.
        #[arg(long)]
        server: String,
        /// Enrollment code shown to the signed-in user by the issuer.
        #[arg(long)]
        code: String,
        #[arg(long, value_enum, default_value = "auto")]
        storage: StorageChoice,
        /// TPM TCTI, e.g. device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321.
        #[arg(
            long,
            env = "TOLLGATE_AGENT_TCTI",
            default_value = "device:/dev/tpmrm0"
        )]
        tcti: String,
        /// SM2 distinguishing ID (default: the issuer's, else 1234567812345678).
        #[arg(long)]
        dist_id: Option<String>,
        /// PEM file with the CA certificate(s) to trust for the issuer.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Replace an existing (valid) enrollment.
        #[arg(long)]
        force: bool,
        /// A root-owned enrollment for PAM mode, for login USER (run as
        /// root; state in /var/lib/tollgate-agent/system/USER unless
        /// --state-dir says otherwise; https:// only).
        #[arg(long, value_name = "USER")]
        system: Option<String>,
        /// Allow plain http:// to a loopback issuer (tests and development
        /// only; PAM mode refuses such an enrollment).
        #[arg(long)]
        insecure_http: bool,
        /// OTP algorithm for `otp`: totp-sha1 (issuer default), totp-sha256
        /// or sm3-gmt0021 (GM/T 0021).
        #[arg(long, value_parser = parse_otp_algorithm)]
        otp_algorithm: Option<crate::otp::OtpAlgorithm>,
    },
    /// Show the enrollment, key storage, grant and pending receipts.
    Status,
    /// Approve (or refuse) logins waiting for this device.
    Approve {
        /// The two-digit number from the login page (otherwise asked).
        #[arg(long)]
        number: Option<String>,
    },
    /// Fetch a fresh offline grant from the issuer.
    Grant,
    /// Offline login for pam_exec (PIN on stdin, PAM_USER in the environment).
    Pam,
    /// Show the current one-time password.
    Otp,
    /// Upload offline-login receipts to the issuer.
    Upload,
}

fn default_state_dir(user: Option<&str>) -> Result<PathBuf, CliError> {
    let user = user
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .ok_or_else(|| CliError::Usage("cannot tell the user: set --state-dir".into()))?;
    if user.is_empty() || user.contains('/') || user.starts_with('.') {
        return Err(CliError::Usage(format!("refusing user name {user:?}")));
    }
    Ok(PathBuf::from("/var/lib/tollgate-agent").join(user))
}

fn read_pin(cli: &Cli, prompt_text: &str) -> Result<Pin, CliError> {
    Ok(if cli.pin_stdin {
        prompt::pin_from_stdin()?
    } else {
        prompt::pin_from_tty(prompt_text)?
    })
}

/// Runs the CLI; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let now = OffsetDateTime::now_utc();
    if let Command::Pam = cli.command {
        return run_pam(&cli, now);
    }
    match run(&cli, now) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tollgate-agent: error: {e}");
            1
        }
    }
}

fn run(cli: &Cli, now: OffsetDateTime) -> Result<(), CliError> {
    let system = match &cli.command {
        Command::Enroll { system, .. } => system.as_deref(),
        _ => None,
    };
    let state_dir = match (&cli.state_dir, system) {
        (Some(d), _) => d.clone(),
        (None, Some(user)) => super::trust::system_dir(user)
            .ok_or_else(|| CliError::Usage(format!("refusing user name {user:?}")))?,
        (None, None) => default_state_dir(None)?,
    };
    let pin = |text: &str| read_pin(cli, text);
    match &cli.command {
        Command::Enroll {
            server,
            code,
            storage,
            tcti,
            dist_id,
            ca_file,
            force,
            otp_algorithm,
            system,
            insecure_http,
        } => commands::enroll(
            &commands::EnrollArgs {
                state_dir: &state_dir,
                server,
                code,
                storage: *storage,
                tcti,
                dist_id: dist_id.as_deref(),
                ca_file: ca_file.as_deref(),
                force: *force,
                pin_stdin: cli.pin_stdin,
                otp_algorithm: *otp_algorithm,
                system_user: system.as_deref(),
                insecure_http: *insecure_http,
            },
            now,
        ),
        Command::Status => commands::status(&state_dir, now),
        Command::Approve { number } => {
            commands::approve(&state_dir, &pin("PIN: ")?, number.as_deref(), now)
        }
        Command::Grant => commands::grant(&state_dir, &pin("PIN: ")?, now),
        Command::Upload => commands::upload(&state_dir, &pin("PIN: ")?, now),
        Command::Otp => commands::otp(&state_dir, &pin("PIN: ")?, now),
        Command::Pam => Err(CliError::Other("unreachable".into())),
    }
}

/// `pam` mode: never prompts, prints one line to stderr (pam_exec logs it),
/// exits with [`pam`]'s codes.
fn run_pam(cli: &Cli, now: OffsetDateTime) -> i32 {
    match std::env::var("PAM_TYPE").as_deref() {
        Ok("auth") | Err(_) => {}
        Ok(other) => {
            eprintln!("tollgate-agent pam: only the auth stack is supported (PAM_TYPE={other})");
            return pam::EXIT_ERROR;
        }
    }
    let Ok(user) = std::env::var("PAM_USER") else {
        eprintln!("tollgate-agent pam: PAM_USER is not set (run me from pam_exec)");
        return pam::EXIT_ERROR;
    };
    // The state directory comes from the PAM service file (argv) or the
    // system layout, never from an environment a caller might shape.
    if std::env::var_os("TOLLGATE_AGENT_STATE_DIR").is_some() {
        eprintln!(
            "tollgate-agent pam: refusing TOLLGATE_AGENT_STATE_DIR; name the directory with --state-dir in the PAM service file"
        );
        return pam::EXIT_ERROR;
    }
    let state_dir = match &cli.state_dir {
        Some(d) => d.clone(),
        None => match super::trust::system_dir(&user) {
            Some(d) => d,
            None => {
                eprintln!("tollgate-agent pam: refusing user name {user:?}");
                return pam::EXIT_ERROR;
            }
        },
    };
    let pin = match prompt::pin_from_stdin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tollgate-agent pam: reading the PIN from stdin: {e}");
            return pam::EXIT_ERROR;
        }
    };
    let ctx = PamContext {
        service: std::env::var("PAM_SERVICE").ok(),
        tty: std::env::var("PAM_TTY").ok(),
    };
    match pam::offline_login(&state_dir, &user, &pin, &ctx, now) {
        Ok(r) => {
            eprintln!(
                "tollgate-agent pam: offline login of {user} accepted (grant {}, login {}), receipt {}",
                r.grant_id, r.sequence, r.receipt_id
            );
            pam::EXIT_OK
        }
        Err(e) => {
            eprintln!("tollgate-agent pam: offline login of {user} refused: {e}");
            e.exit_code()
        }
    }
}

fn parse_otp_algorithm(s: &str) -> Result<crate::otp::OtpAlgorithm, String> {
    crate::otp::OtpAlgorithm::parse(s)
        .ok_or_else(|| format!("{s:?}: expected totp-sha1, totp-sha256 or sm3-gmt0021"))
}
