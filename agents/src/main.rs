//! `tollgate-agent`: the endpoint agent. All logic is in the library
//! (`tollgate_agent::agent`); this only sets the exit status.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

fn main() {
    std::process::exit(tollgate_agent::agent::cli::main());
}
