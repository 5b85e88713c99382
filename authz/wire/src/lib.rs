//! `tollgate_wire`: every parser of bytes an attacker controls that the
//! issuer owns, kept apart from the service so it can be fuzzed without
//! building (or instrumenting) the database, HTTP server and crypto stacks.
//!
//! # Layout
//!
//! - [`jws`]: compact JWS split, header and claims decoding (verification
//!   is the issuer's, in `tollgate-authz`'s `keys/jws.rs`).
//! - [`form`]: `application/x-www-form-urlencoded` bodies and queries of
//!   `/token`, `/authorize`, `/introspect`, `/revoke`; Basic credentials.
//! - [`scim`]: a SCIM target's answers, sorted into success or [`scim::Failure`].
//!
//! Login events and policy files are parsed in `tollgate-risk`, agent wire
//! messages in `tollgate-agent`; `authz/fuzz` fuzzes all of them.
//!
//! **Invariant:** nothing here panics on any input; every function returns
//! a value or an error (`authz/fuzz` checks it, with properties).
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod form;
pub mod jws;
pub mod scim;
