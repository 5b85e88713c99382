//! The login interaction: what has been proven, what is still required.
//!
//! Logic only, no HTTP: `flow` is the sign-in as a service (`LoginFlow`:
//! proof → gate → next → finish, answering a `Step` as data); `http/`
//! parses the forms and renders the steps (`http::login_step`).

pub mod attestation;
pub mod factor;
mod factors;
pub mod flow;
pub mod interaction;
mod levels;
pub mod lockout;
pub mod passkey;
pub mod password;
pub mod password_check;
pub mod password_policy;
pub mod rate;
mod soft_attestation;
pub mod soft_passkey;
pub mod totp;
pub mod unmet;

pub use factors::{Method, ProvenFactor, amr_of};
pub use interaction::{AuthRequest, Interaction, Next};
pub use levels::{Level, Requirement, to_change_factors};
