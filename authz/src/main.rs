//! `tollgate`: the service and its command line. All logic is in the library.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tollgate_authz::cli::main()
}
