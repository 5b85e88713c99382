//! The login interaction: what has been proven, what is still required.
//!
//! Logic only; the pages and form handlers live in `http::login`.

mod factors;
pub mod interaction;
mod levels;
pub mod lockout;
pub mod password;

pub use factors::{Method, ProvenFactor, amr_of};
pub use interaction::{AuthRequest, Interaction, Next};
pub use levels::{Level, Requirement};
