//! Policy YAML (`tollgate_risk::policy`): load and check, as
//! `tollgate policy check` and the hot reload do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use tollgate_risk::policy::Severity;
use tollgate_risk::policy::check::check_sources;
use tollgate_risk::policy::load::load_sources;

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "fuzzing reads no files",
    ))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sources = [(PathBuf::from("policies/fuzz.yaml"), text.to_string())];
    let (policy, diags) = load_sources(&sources, &no_files);
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    // A policy loads exactly when nothing is an error.
    assert_eq!(policy.is_some(), errors == 0, "{diags:?}");
    // Lines as YAML counts them (YAML 1.2 §5.4: CR LF, CR or LF breaks a
    // line), which is what the loader's positions count. A bare CR is a
    // line break there, so `str::lines` would undercount.
    let lines = 1 + text.replace("\r\n", "\n").matches(['\r', '\n']).count();
    for d in &diags {
        assert!(d.line >= 1 && d.col >= 1, "{d}");
        assert!(d.line <= lines + 1, "{d} beyond {lines} lines");
    }
    if let Some(p) = &policy {
        // The version names the bytes: loading them again gives the same.
        assert!(p.version.starts_with("sha256:"));
        let (again, _) = load_sources(&sources, &no_files);
        assert_eq!(again.map(|a| a.version.clone()), Some(p.version.clone()));
        // `policy check` = load diagnostics + lints; errors stay errors.
        let checked = check_sources(&sources, &no_files);
        assert!(checked.len() >= diags.len());
        assert!(checked.iter().all(|d| d.severity != Severity::Error));
    }
});
