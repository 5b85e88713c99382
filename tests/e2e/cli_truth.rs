//! The CLI as an operator meets it (issue 15): the real `tollgate` binary on
//! files the way an operator writes them, checked for what it says and what
//! it leaves behind.

use std::path::Path;
use std::process::{Command, Output};
use tollgate::{temp_dir, tollgate_bin};

/// Runs `tollgate ARGS` in `dir` with a controlled environment: no master
/// key, no database override, `TG_CLI_SHORT` set to a too-short secret.
pub(crate) fn tollgate_in(dir: &Path, args: &[&str]) -> Output {
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
        [[ssf.receivers]]\nname = \"siem\"\nendpoint = \"http://siem.example/ssf\"\n\n\
        [branding]\nproduct_name = \"Acme\"\ndefault_language = \"fr\"\nlogo = \"logo.gif\"\n";
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
        (
            34,
            "branding.default_language \"fr\": expected one of en, zh-CN",
        ),
        (
            35,
            "branding.logo logo.gif: expected a .png, .svg or .jpg file",
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
        assert!(err.contains("11 problem(s)"), "{args:?}: {err}");
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

/// `clients add` as an operator types it: a gateway client's access-token
/// audience and display name are flags, and the checks it shares with
/// `[[clients]]` in the config file speak of the flags the user typed
/// (`--vcenter-host`), not of TOML keys.
#[tokio::test]
async fn clients_add_speaks_in_flags_and_sets_the_audience() {
    use base64::Engine;
    let Some(srv) = tollgate::TestServer::start(tollgate::Db::Sqlite, |_| {}).await else {
        return;
    };
    let dir = temp_dir();
    let cfg = dir.0.join("cli.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"{}\"\n",
            srv.config_database_url()
        ),
    )
    .expect("config");
    let cfg = cfg.to_str().expect("utf-8 path");
    let run = |args: &[&str]| {
        let mut all = vec!["clients", "add"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", cfg]);
        let out = tollgate_in(&dir.0, &all);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    // (arguments, a flag the error must name, a TOML key it must not)
    let refused: &[(&[&str], &str, &str)] = &[
        (
            &["vc", "--profile", "vcenter"],
            "--vcenter-host",
            "vcenter_host",
        ),
        (
            &["vc", "--vcenter-host", "vc.example"],
            "--profile vcenter",
            "profile = ",
        ),
        (
            &[
                "pw",
                "--grant",
                "password",
                "--redirect-uri",
                "https://rp.example/cb",
            ],
            "--password-grant",
            "password_grant",
        ),
    ];
    for (args, flag, key) in refused {
        let (ok, text) = run(args);
        assert!(!ok, "{args:?} was accepted: {text}");
        assert!(
            text.contains(flag) && !text.contains(key),
            "{args:?}: {text}"
        );
    }
    let (ok, text) = run(&[
        "gw",
        "--grant",
        "client_credentials",
        "--access-token-audience",
        "https://api.example",
        "--name",
        "API gateway",
    ]);
    assert!(ok, "{text}");
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("client secret (shown once, store it now): "))
        .expect("the secret is printed");
    let r = reqwest::Client::new()
        .post(format!("{}/token", srv.base))
        .basic_auth("gw", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    let token = body["access_token"].as_str().expect("access token");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).expect("a JWT"))
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["aud"], "https://api.example", "{claims}");
}

/// A policy file with many independent mistakes: `policy check` names
/// every one at the entry's own line and column in one run, saying which
/// form was expected, and `check-config` on a config that loads it shows
/// each as a problem of its own.
#[test]
fn policy_check_reports_every_mistake_in_one_run() {
    let dir = temp_dir();
    let policy = "rules_before:\n\
        \x20 - name: embargo\n\
        \x20   when: {country: [cn, \"XX1\"]}\n\
        \x20   deny: true\n\
        \x20 - name: admins\n\
        \x20   when: {group: [admins]}\n\
        \x20   require: aal9\n\
        \x20 - name: typo\n\
        \x20   whne: {client: [x]}\n\
        \x20   deny: true\n\
        rules_after:\n\
        \x20 - name: fresh\n\
        \x20   require: aal2\n\
        \x20   max_age: 5x\n\
        \x20 - name: embargo\n\
        \x20   when: {reasons: [impossible_trvel], network: [\"@nowhere\"]}\n\
        \x20   deny: true\n";
    std::fs::write(dir.0.join("bad.yaml"), policy).unwrap();
    let want: [(usize, usize, &str); 8] = [
        (
            3,
            22,
            "bad country entry \"cn\": expected an ISO 3166-1 alpha-2 code in capitals, like \"CN\"",
        ),
        (3, 26, "bad country entry \"XX1\""),
        (
            7,
            5,
            "unknown level \"aal9\": expected one of aal1, aal2, phr, phrh",
        ),
        (9, 5, "unknown field `whne`"),
        (
            14,
            14,
            "bad duration \"5x\": expected seconds or a number with s, m, h or d, like \"15m\"",
        ),
        (15, 5, "rule \"embargo\" is defined twice"),
        (
            16,
            22,
            "unknown risk reason \"impossible_trvel\": expected one of no_history, impossible_travel",
        ),
        (16, 51, "unknown network list \"@nowhere\""),
    ];
    let out = tollgate_in(&dir.0, &["policy", "check", "bad.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for (line, col, words) in want {
        let at = format!("bad.yaml:{line}:{col}: error: ");
        assert!(
            err.lines().any(|l| l.starts_with(&at) && l.contains(words)),
            "{at}…{words} in:\n{err}"
        );
    }
    assert!(err.contains("8 problem(s)"), "{err}");

    let config = "version = 1\nissuer = \"https://id.example\"\n\n\
        [database]\nurl = \"sqlite://./made.db\"\n\n\
        [policy]\nfiles = [\"bad.yaml\"]\n";
    std::fs::write(dir.0.join("tollgate.toml"), config).unwrap();
    let out = tollgate_in(&dir.0, &["check-config", "tollgate.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for (line, col, words) in want {
        let at = format!("[policy]: bad.yaml:{line}:{col}: error: ");
        assert!(
            err.lines()
                .any(|l| l.starts_with("tollgate.toml:") && l.contains(&at) && l.contains(words)),
            "tollgate.toml:…{at}…{words} in:\n{err}"
        );
    }
}

/// A mistyped flag is refused in the flag's own words, with the values it
/// takes, before anything is written: the SQLite database the config names
/// is not created.
#[test]
fn a_bad_flag_changes_nothing() {
    let dir = temp_dir();
    let config = "version = 1\nissuer = \"https://id.example\"\n\n\
        [database]\nurl = \"sqlite://./made.db\"\n";
    std::fs::write(dir.0.join("tollgate.toml"), config).unwrap();
    // (arguments, words the error must hold)
    let cases: &[(&[&str], &str)] = &[
        (
            &["keys", "rotate", "--alg", "HS256"],
            "--alg \"HS256\": expected ES256 or RS256",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--alg",
                "HS256",
                "--redirect-uri",
                "https://wiki.example/cb",
            ],
            "--alg \"HS256\": expected ES256 or RS256",
        ),
        (
            &["users", "add", "bob", "--reset-link", "--email", "bob"],
            "--email \"bob\" is not an address",
        ),
        (&["users", "add", "bob"], "--password-stdin"),
        (
            &["users", "update", "bob", "--email", "bob"],
            "--email \"bob\" is not an address",
        ),
        (
            &["users", "add", "bob", "--reset-link", "--upn", "bob"],
            "--upn \"bob\": expected user@domain",
        ),
        (
            &["users", "update", "bob", "--upn", "@corp.example"],
            "--upn \"@corp.example\": expected user@domain",
        ),
        (
            &["users", "add", "bob", "--reset-link", "--group", ""],
            "--group \"\": expected a group name",
        ),
        (
            &["users", "update", "bob", "--name", " "],
            "--name \" \": expected the user's display name",
        ),
        (
            &["clients", "add", "wiki", "--grant", "implicit"],
            "--grant \"implicit\": expected one of authorization_code, refresh_token, client_credentials, password",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--permission",
                "everything",
                "--redirect-uri",
                "https://wiki.example/cb",
            ],
            "--permission \"everything\": expected one of decide, decide_revokes, introspect",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--profile",
                "okta",
                "--redirect-uri",
                "https://wiki.example/cb",
            ],
            "--profile \"okta\": expected vcenter",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--redirect-uri",
                "wiki.example/cb",
            ],
            "--redirect-uri \"wiki.example/cb\": relative URL",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--redirect-uri",
                "https://wiki.example/cb",
                "--post-logout-redirect-uri",
                "https://wiki.example/out#x",
            ],
            "--post-logout-redirect-uri \"https://wiki.example/out#x\": must not have a fragment",
        ),
        (
            &[
                "clients",
                "add",
                "wiki",
                "--redirect-uri",
                "https://wiki.example/cb",
                "--upn-claim",
                "sub",
            ],
            "--upn-claim \"sub\": a claim name",
        ),
        (
            &[
                "clients",
                "add",
                "gw",
                "--grant",
                "client_credentials",
                "--access-token-audience",
                "",
            ],
            "--access-token-audience \"\": the API's identifier",
        ),
    ];
    for (args, words) in cases {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", "tollgate.toml"]);
        let out = tollgate_in(&dir.0, &all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {words} in:\n{err}");
        let mut left: Vec<String> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["tollgate.toml"], "{args:?} wrote files");
    }
}
