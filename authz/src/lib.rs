//! Tollgate's service: an OpenID Connect provider with adaptive step-up.
//!
//! # Layout
//!
//! - [`config`]: `tollgate.toml` and `TOLLGATE_*` overrides.
//! - [`store`]: the repository over SQLite or PostgreSQL (`sqlx::Any`).
//! - [`keys`]: signing keys, rotation, JWKS, compact JWS.
//! - [`master_key`]: encryption of secrets at rest.
//! - [`login`]: the login interaction state machine, levels, factors, lockout.
//! - [`oauth`]: protocol logic — authorize validation, grants, client auth,
//!   tokens, introspection, revocation. No HTTP beyond status codes.
//! - [`http`]: thin axum handlers and pages.
//! - [`preflight`]: the config checks `serve` runs before creating anything,
//!   which are exactly what `check-config` runs.
//! - [`server`]: start-up (migrations, first keys, demo data) and serving
//!   with graceful shutdown.
//! - [`agent`]: the issuer's side of the endpoint-agent protocol (devices,
//!   login approval, offline grants and receipts).
//! - [`directory`]: LDAP / Active Directory as user sources (password bind,
//!   sync, just-in-time update at sign-in).
//! - [`scim`]: SCIM 2.0 provisioning to targets such as vCenter (outbox,
//!   delivery worker, `tollgate scim sync`).
//! - [`checkpoint`]: signed audit checkpoints (truncation detection).
//! - [`tls`]: outbound TLS trust (bundled roots plus an operator's `ca_file`).
//! - [`cli`]: the `tollgate` command line.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod cache;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decision;
pub mod directory;
pub mod events;
pub mod http;
pub mod i18n;
pub mod keys;
#[cfg(test)]
mod layout_check;
pub mod login;
pub mod master_key;
pub mod metrics;
pub mod oauth;
pub mod preflight;
pub mod replica_feed;
pub mod scim;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod tls;
