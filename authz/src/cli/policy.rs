//! `tollgate policy check|schema|simulate`: a thin adapter from clap to
//! `tollgate_risk::policy`. It reads files, calls one library function per
//! command, and prints problems as `file:line:col: message` on stderr with
//! a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tollgate_risk::event::parse_lines;
use tollgate_risk::policy::{Directory, Policy, check, html, render, schema, simulate};
use tollgate_risk::simulate::db_paths;
use tollgate_risk::{Geo, Model, RiskError, Scorer};

/// The `policy` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Check policy files, merged in the order given as one policy set;
    /// prints every problem as file:line:col and exits non-zero if any.
    Check {
        /// Policy files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the policy file format.
    Schema,
    /// Replay login events through a candidate and a baseline policy and
    /// report how decisions change.
    Simulate {
        /// Candidate policy file (repeat to load several as one set).
        #[arg(long = "policy", required = true)]
        policy: Vec<PathBuf>,
        /// Login events (JSON Lines), e.g. from `tollgate audit export --format events`.
        #[arg(long)]
        events: PathBuf,
        /// Current policy file (repeatable) [default: the embedded default].
        #[arg(long)]
        baseline: Vec<PathBuf>,
        /// GeoLite2-City-schema database [default: GeoLite2-City.mmdb beside EVENTS].
        #[arg(long)]
        geoip_city: Option<PathBuf>,
        /// GeoLite2-ASN-schema database [default: GeoLite2-ASN.mmdb beside EVENTS].
        #[arg(long)]
        geoip_asn: Option<PathBuf>,
        /// Also write the report as a self-contained HTML page to this file.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Risk model file [default: the built-in model].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Users' groups and attributes, JSON:
        /// {"alice": {"groups": ["vcenter-admins"], "attributes": {"employment": "staff"}}}.
        #[arg(long)]
        users: Option<PathBuf>,
    },
}

fn load(paths: &[PathBuf]) -> Result<Policy, String> {
    Policy::load(paths).map_err(|e| e.to_string())
}

fn run_inner(cmd: PolicyCommand) -> Result<(), String> {
    match cmd {
        PolicyCommand::Check { files } => {
            let diags = check::check_files(&files);
            for d in &diags {
                eprintln!("{d}");
            }
            if !diags.is_empty() {
                return Err(format!("{} problem(s)", diags.len()));
            }
            let p = load(&files)?;
            println!(
                "{}: ok ({} rules, policy_version {})",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                p.rules.len(),
                p.version()
            );
        }
        PolicyCommand::Schema => println!("{}", schema()),
        PolicyCommand::Simulate {
            policy,
            events,
            baseline,
            geoip_city,
            geoip_asn,
            html: html_out,
            model,
            users,
        } => {
            let candidate = load(&policy)?;
            let baseline = if baseline.is_empty() {
                Policy::builtin()
            } else {
                load(&baseline)?
            };
            let text = std::fs::read_to_string(&events)
                .map_err(|e| format!("{}: {e}", events.display()))?;
            let parsed = parse_lines(&text, false).map_err(|e| at(&events, e))?;
            for e in parsed.errors {
                eprintln!("{}", at(&events, e));
            }
            let (dc, da) = db_paths(&events);
            // Like the server, the what-if runs without geo databases when
            // none was named and none lies beside the events (the demo's
            // case): country and network signals then fall back to IP and
            // prefix. A database that was named must open.
            let geo = if geoip_city.is_none() && geoip_asn.is_none() && !dc.exists() && !da.exists()
            {
                eprintln!(
                    "no geo databases (--geoip-city/--geoip-asn, or beside {}): scoring without country and ASN",
                    events.display()
                );
                Geo::empty()
            } else {
                Geo::open(&geoip_city.unwrap_or(dc), &geoip_asn.unwrap_or(da))
            }
            .map_err(|e| e.to_string())?;
            let model = match model {
                Some(p) => std::fs::read_to_string(&p)
                    .map_err(|e| format!("{}: {e}", p.display()))
                    .and_then(|t| Model::from_json(&t).map_err(|e| at(&p, e)))?,
                None => Model::builtin(),
            };
            let scorer = Scorer::new(
                model,
                candidate.thresholds().clone(),
                candidate.network_lists().clone(),
                geo,
            )
            .map_err(|e| e.to_string())?;
            let directory = match users {
                Some(p) => std::fs::read_to_string(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|t| Directory::from_json(&t).map_err(|e| e.to_string()))
                    .map_err(|e| format!("{}: {e}", p.display()))?,
                None => Directory::default(),
            };
            let report = simulate(&candidate, &baseline, scorer, &parsed.events, &directory);
            print!("{}", render::table(&report));
            if let Some(out) = html_out {
                std::fs::write(&out, html::html(&report))
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                eprintln!("wrote {}", out.display());
            }
        }
    }
    Ok(())
}

fn at(path: &Path, e: RiskError) -> String {
    match e {
        RiskError::MalformedEvent { line, message } => {
            format!("{}:{line}: {message}", path.display())
        }
        other => format!("{}: {other}", path.display()),
    }
}

/// Runs one `policy` subcommand; problems go to stderr, the exit code is 1.
pub fn run(cmd: PolicyCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
