//! Tollgate's risk scorer (issue 4): for each login a 0–100 score with the
//! reasons behind it, computed in microseconds. Pure library: no HTTP, no
//! SQL, no clock of its own (time is always a parameter) and no secrets.
//!
//! # Layout
//!
//! - [`event`]: the login-event JSON Lines format.
//! - [`geo`]: MaxMind-format geo/ASN lookups, hosting lists, an MMDB writer.
//! - [`ua`]: user-agent parsing (incl. Kylin and UOS browsers).
//! - [`travel`]: great-circle distance and impossible travel.
//! - [`velocity`]: sliding-window counters ([`velocity::VelocityStore`]).
//! - [`history`]: bounded per-user history ([`history::HistoryStore`]).
//! - [`global`]: bounded global frequency sketch; [`global_codec`] its
//!   byte encoding (the issuer persists it).
//! - [`schema`]: the calibrator's feature names and indices.
//! - [`cidr`], [`duration`]: CIDR blocks and `15m`-style durations (shared
//!   by the `risk:` section and policy files).
//! - [`features`]: event + state → feature vector.
//! - [`model`]: the likelihood-ratio model, calibrator and model file.
//! - [`reasons`]: reason codes, severities and explanations.
//! - [`detections`]: named detections (impossible travel, device mismatch,
//!   account attack, …) that always show and bound the score.
//! - [`thresholds`]: score bands and the `risk:` policy section.
//! - [`signals`]: client hints, `Accept-Language`, time-zone offset (hashed
//!   per device for `device_mismatch`).
//! - [`sensitive`]: sensitive routes and per-user burst counters
//!   (`sensitive_burst`).
//! - [`policy`]: policy files, [`policy::decide()`], checks and what-if (issue 5).
//! - [`scorer`]: [`Scorer`] and [`Engine`], the entry points.
//! - [`replay`], [`train`], [`eval`], [`simulate`]: the logic of
//!   `tollgate risk score|train|eval|simulate`; [`heldout`] a second,
//!   independent generator for held-out evaluation.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod cidr;
pub mod detections;
pub mod duration;
pub mod error;
pub mod eval;
pub mod event;
pub mod features;
pub mod geo;
pub mod global;
pub mod global_codec;
pub mod hashing;
pub mod heldout;
pub mod history;
pub mod history_codec;
pub mod model;
pub mod policy;
pub mod reasons;
pub mod replay;
pub mod schema;
pub mod scorer;
pub mod sensitive;
pub mod signals;
pub mod simulate;
pub mod thresholds;
pub mod train;
pub mod travel;
pub mod ua;
pub mod velocity;

pub use error::{Result, RiskError};
pub use event::{Label, LoginEvent};
pub use geo::{Geo, NetworkLists};
pub use history::{HistoryStore, MemoryHistory, UserHistory};
pub use model::Model;
pub use reasons::{Reason, Severity};
pub use scorer::{Assessment, Engine, Scorer};
pub use thresholds::{Decision, Thresholds};
pub use velocity::{MemoryVelocity, VelocityStore};
