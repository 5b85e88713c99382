//! The CLI as an operator meets it (issue 15): the real `tollgate` binary on
//! files the way an operator writes them, checked for what it says and what
//! it leaves behind.

use std::path::Path;
use std::process::{Command, Output};
use tollgate::{temp_dir, tollgate_bin};

/// Runs `tollgate ARGS` in `dir` with a controlled environment: no master
/// key, no database override, `TG_CLI_SHORT` set to a too-short secret.
fn tollgate_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(tollgate_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("TOLLGATE_MASTER_KEY")
        .env_remove("TOLLGATE_MASTER_KEY_FILE")
        .env_remove("TOLLGATE_DATABASE_URL")
        .env_remove("TOLLGATE_ISSUER")
        .env_remove("TG_CLI_UNSET")
        .env_remove("TG_CLI_SCIM_TOKEN")
        .env("TG_CLI_SHORT", "too-short")
        .env("TOLLGATE_LOG", "error")
        .output()
        .expect("run tollgate")
}

/// Asserts that every `(line, words)` is one `FILE:line:col: …` line of `err`.
fn reported_at(err: &str, file: &str, want: &[(usize, &str)]) {
    for (line, words) in want {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(words)),
            "line {line} ({words}) in:\n{err}"
        );
    }
}

/// A config with the surprises at once, value problems included (an
/// http issuer, a zero TTL, a SCIM target that is no URL, an http SSF
/// receiver): `check-config` names every one at its line in one run, and
/// `serve` refuses the same file with the same lines, creating nothing.
#[tokio::test]
async fn check_config_and_serve_report_every_surprise_at_its_line() {
    let dir = temp_dir();
    let text = "version = 1\nissuer = \"http://id.example\"\n\n\
        [database]\nurl = \"mysql://db/x\"\n\n\
        [keys]\nmaster_key_file = \"no-such-master.key\"\n\n\
        [tokens]\ncode_ttl = 0\n\n\
        [[clients]]\nid = \"gw\"\nsecret_env = \"TG_CLI_UNSET\"\ngrant_types = [\"client_credentials\"]\n\n\
        [[clients]]\nid = \"short\"\nsecret_env = \"TG_CLI_SHORT\"\ngrant_types = [\"client_credentials\"]\n\n\
        [[scim.targets]]\nname = \"vc\"\nbase_url = \"not a url\"\ntoken_env = \"TG_CLI_SCIM_TOKEN\"\n\n\
        [[ssf.receivers]]\nname = \"siem\"\nendpoint = \"http://siem.example/ssf\"\n";
    std::fs::write(dir.0.join("tollgate.toml"), text).unwrap();
    let want = [
        (2, "issuer \"http://id.example\" must use https"),
        (5, "mysql://db/x"),
        (8, "no-such-master.key"),
        (11, "tokens.code_ttl must be positive"),
        (14, "TG_CLI_UNSET (secret_env) is not set"),
        (19, "shorter than 32 characters"),
        (25, "base_url \"not a url\""),
        (26, "TG_CLI_SCIM_TOKEN is not set"),
        (
            30,
            "endpoint \"http://siem.example/ssf\" must be an https URL",
        ),
    ];
    for args in [
        &["check-config", "tollgate.toml"][..],
        &["serve", "--config", "tollgate.toml"][..],
    ] {
        let out = tollgate_in(&dir.0, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        reported_at(&err, "tollgate.toml", &want);
        assert!(err.contains("9 problem(s)"), "{args:?}: {err}");
    }

    // The same with a SQLite database in the directory: serve refuses
    // before it creates the database, keys or ./data/.
    let text = text.replace("mysql://db/x", "sqlite://./made.db");
    std::fs::write(dir.0.join("tollgate.toml"), &text).unwrap();
    let out = tollgate_in(&dir.0, &["serve", "--config", "tollgate.toml"]);
    assert!(!out.status.success());
    let mut left: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["tollgate.toml"],
        "serve created files for a refused config"
    );
}
