//! `tollgate risk simulate|train|score|eval`: a thin adapter from clap to
//! `tollgate_risk`. It does the file IO, calls one library function per
//! command, and prints errors as `file:line: message` or `file: message`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tollgate_risk::event::parse_lines;
use tollgate_risk::heldout::{HeldoutConfig, generate};
use tollgate_risk::replay::{HistoryRule, replay, score_lines};
use tollgate_risk::simulate::{SimConfig, db_paths, simulate};
use tollgate_risk::train::{Trace, TrainOptions, train};
use tollgate_risk::{Geo, LoginEvent, Model, NetworkLists, RiskError, Scorer, Thresholds};

/// The `risk` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RiskCommand {
    /// Write a synthetic labelled trace and the geo databases it needs
    /// (GeoLite2-City.mmdb and GeoLite2-ASN.mmdb beside FILE).
    Simulate {
        /// Legitimate users.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Days to simulate.
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// RNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Events file (JSON Lines) to write.
        #[arg(long)]
        out: PathBuf,
        /// Which generator: `standard` (what the built-in model is trained
        /// on) or `heldout` (an independent one, with its own world, for
        /// evaluation on traffic the model never saw).
        #[arg(long, value_enum, default_value_t = Generator::Standard)]
        generator: Generator,
        /// Held-out generator only: successful attacks per kind.
        #[arg(long, default_value_t = 2200)]
        attacks_per_kind: usize,
    },
    /// Fit the calibrator on labelled traces and write a model file.
    Train {
        /// Labelled events (JSON Lines); repeat to train on several traces
        /// (e.g. both generators), each with the geo databases beside it.
        #[arg(long, required = true)]
        events: Vec<PathBuf>,
        /// Model file to write.
        #[arg(long)]
        out: PathBuf,
        /// Labelled events of the same worlds on which the operating point
        /// (score map) is placed; repeatable [default: the training events].
        #[arg(long)]
        validation: Vec<PathBuf>,
        /// GeoLite2-City-schema database for every trace [default:
        /// GeoLite2-City.mmdb beside each events file].
        #[arg(long)]
        geoip_city: Option<PathBuf>,
        /// GeoLite2-ASN-schema database for every trace [default:
        /// GeoLite2-ASN.mmdb beside each events file].
        #[arg(long)]
        geoip_asn: Option<PathBuf>,
        /// Abort on the first malformed line instead of skipping it.
        #[arg(long)]
        strict: bool,
    },
    /// Replay events in time order and print one JSON line per event.
    Score {
        /// Events (JSON Lines).
        #[arg(long)]
        events: PathBuf,
        /// Model file [default: the built-in model].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Policy file; only its `risk:` section is read.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// GeoLite2-City-schema database.
        #[arg(long)]
        geoip_city: PathBuf,
        /// GeoLite2-ASN-schema database.
        #[arg(long)]
        geoip_asn: PathBuf,
        /// Abort on the first malformed line instead of skipping it.
        #[arg(long)]
        strict: bool,
    },
    /// ROC AUC and legit step-up rates at 99.5 %/99.9 % attack TPR, against the new-country baseline.
    Eval {
        /// Labelled events (JSON Lines).
        #[arg(long)]
        events: PathBuf,
        /// Model file [default: the built-in model].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Policy file; only its `risk:` section is read.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// GeoLite2-City-schema database.
        #[arg(long)]
        geoip_city: PathBuf,
        /// GeoLite2-ASN-schema database.
        #[arg(long)]
        geoip_asn: PathBuf,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Abort on the first malformed line instead of skipping it.
        #[arg(long)]
        strict: bool,
    },
}

/// The trace generators of `risk simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generator {
    /// `tollgate_risk::simulate`: the built-in model's training world.
    Standard,
    /// `tollgate_risk::heldout`: another world, people and attackers.
    Heldout,
}

/// An error with the file it concerns, printed as `file: message` or
/// `file:line: message`.
struct CliError(String);

fn at(path: &Path, e: RiskError) -> CliError {
    match e {
        RiskError::MalformedEvent { line, message } => {
            CliError(format!("{}:{line}: {message}", path.display()))
        }
        RiskError::GeoDatabase { .. } => CliError(e.to_string()),
        other => CliError(format!("{}: {other}", path.display())),
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError(format!("{}: {e}", path.display())))
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError(format!("{}: {e}", path.display())))
}

fn events(path: &Path, strict: bool) -> Result<Vec<(usize, LoginEvent)>, CliError> {
    let parsed = parse_lines(&read(path)?, strict).map_err(|e| at(path, e))?;
    for e in parsed.errors {
        eprintln!("{}", at(path, e).0);
    }
    Ok(parsed.events)
}

fn scorer(
    model: Option<&Path>,
    policy: Option<&Path>,
    city: &Path,
    asn: &Path,
) -> Result<Scorer, CliError> {
    let model = match model {
        Some(p) => Model::from_json(&read(p)?).map_err(|e| at(p, e))?,
        None => Model::builtin(),
    };
    let (thresholds, lists) = match policy {
        Some(p) => Thresholds::load_policy(p).map_err(|e| CliError(e.to_string()))?,
        None => (Thresholds::default(), NetworkLists::default()),
    };
    let geo = Geo::open(city, asn).map_err(|e| CliError(e.to_string()))?;
    Scorer::new(model, thresholds, lists, geo).map_err(|e| CliError(e.to_string()))
}

fn run_inner(cmd: RiskCommand) -> Result<(), CliError> {
    match cmd {
        RiskCommand::Simulate {
            users,
            days,
            seed,
            out,
            generator,
            attacks_per_kind,
        } => {
            let sim = match generator {
                Generator::Standard => simulate(&SimConfig::new(users, days, seed)),
                Generator::Heldout => {
                    let mut cfg = HeldoutConfig::new(users, days, seed);
                    cfg.attacks_per_kind = attacks_per_kind;
                    generate(&cfg)
                }
            }
            .map_err(|e| at(&out, e))?;
            sim.write(&out).map_err(|e| CliError(e.to_string()))?;
            let (city, asn) = db_paths(&out);
            eprintln!(
                "wrote {} events to {}, {} and {}",
                sim.events.len(),
                out.display(),
                city.display(),
                asn.display()
            );
        }
        RiskCommand::Train {
            events: paths,
            out,
            validation,
            geoip_city,
            geoip_asn,
            strict,
        } => {
            // Each trace is replayed with its own world's geo databases.
            // Training starts from the untrained prior, never from the
            // built-in model, so the same command always produces the same
            // model.
            let load = |path: &PathBuf| -> Result<(Scorer, Vec<(usize, LoginEvent)>), CliError> {
                let (dc, da) = db_paths(path);
                let evs = events(path, strict)?;
                let city = geoip_city.clone().unwrap_or(dc);
                let asn = geoip_asn.clone().unwrap_or(da);
                let geo = Geo::open(&city, &asn).map_err(|e| CliError(e.to_string()))?;
                let s = Scorer::new(
                    Model::prior(),
                    Thresholds::default(),
                    NetworkLists::default(),
                    geo,
                )
                .map_err(|e| CliError(e.to_string()))?;
                Ok((s, evs))
            };
            let train_sets = paths.iter().map(load).collect::<Result<Vec<_>, _>>()?;
            let held_sets = validation.iter().map(load).collect::<Result<Vec<_>, _>>()?;
            fn view(v: &[(Scorer, Vec<(usize, LoginEvent)>)]) -> Vec<Trace<'_>> {
                v.iter().map(|(s, e)| (s.clone(), e.as_slice())).collect()
            }
            let mut description = "tollgate risk train".to_owned();
            for p in &paths {
                description.push_str(&format!(" --events {}", p.display()));
            }
            for v in &validation {
                description.push_str(&format!(" --validation {}", v.display()));
            }
            let first = paths.first().cloned().unwrap_or_default();
            let model = train(
                &view(&train_sets),
                &view(&held_sets),
                TrainOptions::default(),
                &description,
            )
            .map_err(|e| at(&first, e))?;
            write(&out, &model.to_json().map_err(|e| at(&out, e))?)?;
        }
        RiskCommand::Score {
            events: path,
            model,
            policy,
            geoip_city,
            geoip_asn,
            strict,
        } => {
            let evs = events(&path, strict)?;
            let s = scorer(model.as_deref(), policy.as_deref(), &geoip_city, &geoip_asn)?;
            use std::io::Write;
            let text = score_lines(s, &evs);
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(|e| CliError(format!("stdout: {e}")))?;
        }
        RiskCommand::Eval {
            events: path,
            model,
            policy,
            geoip_city,
            geoip_asn,
            json,
            strict,
        } => {
            let evs = events(&path, strict)?;
            let s = scorer(model.as_deref(), policy.as_deref(), &geoip_city, &geoip_asn)?;
            let scored = replay(s, &evs, HistoryRule::Decisions);
            let report = tollgate_risk::eval::evaluate(&evs, &scored).map_err(|e| at(&path, e))?;
            print!("{}", report.table());
            if let Some(j) = json {
                write(&j, &report.json())?;
            }
        }
    }
    Ok(())
}

/// Runs one `risk` subcommand; errors go to stderr, the exit code is 1.
pub fn run(cmd: RiskCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
