//! `tollgate-agent`: the endpoint agent (see issue 6).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("tollgate-agent: not built yet");
    std::process::exit(2);
}
