//! The crate's one error type.
//!
//! Every fallible public function returns [`RiskError`]; malformed input is
//! always one of these variants, never a panic. Variants that concern a file
//! carry its path so a CLI can print `file: message` or `file:line: message`.

use std::path::PathBuf;

/// Everything that can go wrong in the risk crate.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// A login-event line is not valid JSON or misses a required field.
    #[error("line {line}: {message}")]
    MalformedEvent {
        /// 1-based line number in the input.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A geo database is missing, unreadable, or not a MaxMind DB file.
    #[error("{}: geo database: {message}", path.display())]
    GeoDatabase {
        /// The database file that failed.
        path: PathBuf,
        /// Why it failed.
        message: String,
    },
    /// A model file is unreadable or does not match the expected shape.
    #[error("model: {0}")]
    Model(String),
    /// The `risk:` section of a policy file is invalid.
    #[error("policy: {0}")]
    Policy(String),
    /// Training could not fit the calibrator (e.g. only one class present).
    #[error("training: {0}")]
    Training(String),
    /// Evaluation needs labelled events of both classes.
    #[error("evaluation: {0}")]
    Evaluation(String),
    /// Writing a geo database or another artefact failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, RiskError>;
