//! Policy files and the decision point (issue 5): what a security team
//! writes, and the pure function that turns a login or a request into
//! `allow`, `step_up` or `deny` with reasons and the policy version.
//!
//! # Layout
//!
//! - [`file`]: the YAML format as serde types (`deny_unknown_fields`),
//!   source of the JSON Schema ([`schema`]).
//! - [`duration`], [`cidr`], [`locate`]: small value types and positions.
//! - [`model`]: the compiled policy (ladder, bands, rules).
//! - [`conditions`]: rule conditions, matching and implication.
//! - [`parse`]: one file's YAML, past a bad entry to the next.
//! - [`load`]: merging several files, lists, the version hash.
//! - [`extends`]: the shipped default kept under a set's files unless one says `extends: none`.
//! - [`decide`]: [`decide()`], [`DecisionInput`], [`Decision`].
//! - [`check`]: static checks for `tollgate policy check`.
//! - [`whatif`], [`render`] and [`html`]: `tollgate policy simulate`.
//!
//! # Using it from the issuer
//!
//! ```text
//! let policy = Arc::new(Policy::load(&paths)?);          // or Policy::builtin()
//! // hot reload: load again; on Ok swap the Arc, on Err keep the old one
//! let d = decide(&policy, &input, now);                   // pure, ~1 µs
//! d.outcome, d.reasons, d.policy_version                  // for the answer and the audit log
//! ```
//!
//! The policy also carries the scorer's parameters: build the
//! [`crate::Scorer`] with [`Policy::thresholds`] and [`Policy::network_lists`].

pub mod check;
pub mod conditions;
pub mod decide;
pub mod extends;
pub mod file;
pub mod html;
pub mod load;
pub mod locate;
pub mod model;
pub mod parse;
pub mod render;
pub mod whatif;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::cidr;
pub use crate::duration::Duration;
pub use decide::{
    Decision, DecisionInput, DecisionReason, Outcome, ReasonSource, SessionState, decide,
};
pub use file::{Action, FactorKind, PolicyFile};
pub use model::{FactorSet, Ladder, Level};
pub use whatif::{Directory, WhatIfReport, simulate};

use crate::geo::NetworkLists;
use crate::thresholds::Thresholds;
use conditions::Lists;
use model::{Band, Rule};

/// The risk reason codes the scorer emits (docs/risk.md); rules may test
/// for them with `when: {reasons: [...]}`.
pub const RISK_REASON_CODES: [&str; 22] = [
    "no_history",
    "impossible_travel",
    "device_mismatch",
    "account_attack",
    "stuffing_source",
    "anonymizer",
    "new_country",
    "new_asn",
    "unfamiliar_network",
    "unfamiliar_user_agent",
    "new_device",
    "no_device_id",
    "fingerprint_drift",
    "hosting_network",
    "unknown_location",
    "unusual_hour",
    "user_failures",
    "concurrent_sessions",
    "ip_many_users",
    "ip_failures",
    "prefix_failures",
    "failed_attempt",
];

/// Every reason code a rule may test for: the scorer's
/// ([`RISK_REASON_CODES`]) and the named detections' (`sensitive_burst` is
/// only a detection), each once, in that order. A code outside it is an
/// error in a policy: the rule would never fire.
pub fn known_reason_codes() -> Vec<&'static str> {
    let mut codes = RISK_REASON_CODES.to_vec();
    for d in &crate::detections::DETECTIONS {
        if !codes.contains(&d.code) {
            codes.push(d.code);
        }
    }
    codes
}

/// The text of `policies/default.yaml`, which the embedded default runs.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.yaml");

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The policy does not load.
    Error,
    /// The policy loads but probably does not do what was meant.
    Warning,
}

/// One problem in a policy file, printed as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (as given to the loader).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error: ",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {sev}{}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Errors of a failed load: every error and warning found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<Diagnostic>);

impl std::fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// A loaded, validated policy set. Immutable: reload by loading again and
/// swapping an `Arc<Policy>`.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The level ladder, weakest first.
    pub ladder: Ladder,
    /// Risk bands by increasing `up_to`; the last reaches 100.
    pub bands: Vec<Band>,
    /// Rules in evaluation order (each with its stage).
    pub rules: Vec<Rule>,
    /// The scorer's parameters, with `allow_max`/`step_up_max` following
    /// the bands.
    pub thresholds: Thresholds,
    /// The scorer's hosting/anonymiser lists from the `risk:` section.
    pub network_lists: NetworkLists,
    /// Named lists.
    pub lists: Lists,
    /// `sha256:<hex>` over the bytes of every file loaded, in load order.
    pub version: Arc<str>,
    /// The policy files, in load order.
    pub sources: Vec<PathBuf>,
}

fn read_sources(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, PolicyErrors> {
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.clone(), t))
                .map_err(|e| {
                    PolicyErrors(vec![Diagnostic {
                        file: p.clone(),
                        line: 1,
                        col: 1,
                        severity: Severity::Error,
                        message: format!("cannot read: {e}"),
                    }])
                })
        })
        .collect()
}

impl Policy {
    /// Loads and validates policy files, merged in the order given (see
    /// [`load`]), on top of the shipped default unless one says
    /// `extends: none` ([`extends`]). Warnings do not fail the load; use [`check::check_files`]
    /// to see them.
    pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyErrors> {
        let sources = extends::with_default(read_sources(paths)?);
        Self::from_sources(&sources, &|p: &Path| std::fs::read(p))
    }

    /// Loads from texts already in memory; `read` supplies list files.
    pub fn from_sources(
        sources: &[(PathBuf, String)],
        read: load::ReadFn<'_>,
    ) -> Result<Policy, PolicyErrors> {
        match load::load_sources(sources, read) {
            (Some(p), _) => Ok(p),
            (None, diags) => Err(PolicyErrors(diags)),
        }
    }

    /// One YAML text with no list files (tests, embedded policies).
    pub fn from_yaml(name: &str, text: &str) -> Result<Policy, PolicyErrors> {
        let no_files = |p: &Path| -> std::io::Result<Vec<u8>> {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: not available", p.display()),
            ))
        };
        Self::from_sources(&[(PathBuf::from(name), text.to_owned())], &no_files)
    }

    /// The embedded default: `policies/default.yaml` as built into the
    /// binary. (A unit test proves it loads; should it ever not, the
    /// code defaults are used, which are the same policy.)
    pub fn builtin() -> Policy {
        Self::from_yaml("policies/default.yaml", DEFAULT_POLICY).unwrap_or_else(|_| code_default())
    }

    /// The scorer's thresholds (bands aligned with the policy's).
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The scorer's hosting/anonymiser lists.
    pub fn network_lists(&self) -> &NetworkLists {
        &self.network_lists
    }

    /// The version, `sha256:<hex>`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

fn code_default() -> Policy {
    use model::{Effect, Verdict};
    let band = |up_to, verdict| Band {
        up_to,
        effect: Effect {
            verdict,
            notify: Vec::new(),
        },
    };
    Policy {
        ladder: model::default_ladder(),
        bands: vec![
            band(30, Verdict::Allow),
            band(
                70,
                Verdict::Require {
                    level: 1,
                    max_age: None,
                },
            ),
            band(
                100,
                Verdict::Deny {
                    revoke: true,
                    alert: true,
                },
            ),
        ],
        rules: Vec::new(),
        thresholds: Thresholds::default(),
        network_lists: NetworkLists::default(),
        lists: Lists::default(),
        version: Arc::from("sha256:"),
        sources: Vec::new(),
    }
}

/// The JSON Schema of the policy file format, pretty-printed.
pub fn schema() -> String {
    let schema = schemars::schema_for!(PolicyFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests;
