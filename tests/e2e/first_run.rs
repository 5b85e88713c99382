//! The README's first command as a newcomer runs it: the real `tollgate
//! serve` binary on its embedded default, in an empty directory, listening
//! on a wildcard address, opened in a browser at another host name than the
//! issuer's; and the CLI traps a newcomer falls into next to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tollgate::{browser, csrf_of, temp_dir, tollgate_bin};

/// Kills the server when the test ends, whichever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The demo user's password, from the banner `serve` prints.
/// The rest of the output is drained on a thread, so that the server never
/// writes into a closed pipe.
fn printed_password(out: impl std::io::Read + Send + 'static) -> String {
    let mut lines = BufReader::new(out).lines();
    while let Some(line) = lines.next() {
        let line = line.expect("banner line");
        if let Some(rest) = line.split("with password `").nth(1) {
            std::thread::spawn(move || lines.for_each(drop));
            return rest.split('`').next().unwrap_or("").to_owned();
        }
    }
    panic!("serve printed no demo password");
}

#[tokio::test]
async fn the_readme_demo_works_on_a_wildcard_address_from_another_host_name() {
    let dir = temp_dir();
    let port = free_port();
    let mut child = Command::new(tollgate_bin())
        .args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .current_dir(&dir.0)
        .env("TOLLGATE_LOG", "warn")
        .env_remove("TOLLGATE_ISSUER")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start tollgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Running(child);
    let password = tokio::task::spawn_blocking(move || printed_password(stdout))
        .await
        .expect("banner");

    let http = browser();
    let localhost = format!("http://localhost:{port}");
    let d: serde_json::Value = http
        .get(format!(
            "http://127.0.0.1:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery json");
    assert_eq!(
        d["issuer"], localhost,
        "a wildcard listen address is not an issuer a browser can reach"
    );

    let home = http
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .expect("/");
    assert_eq!(home.status(), 200, "/ is a landing page, not a blank 404");
    let home = home.text().await.expect("home html");
    for link in [
        "href=\"/account\"",
        "href=\"/demo\"",
        "openid-configuration",
    ] {
        assert!(home.contains(link), "landing page links {link}: {home}");
    }

    // Opened at 127.0.0.1 while the issuer is localhost: the demo first
    // moves the browser to the issuer's origin, so its state cookie is set
    // where the callback comes back to (it used to end in "State mismatch").
    let r = http
        .get(format!("http://127.0.0.1:{port}/demo"))
        .send()
        .await
        .expect("/demo");
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(next, format!("{localhost}/demo"));

    // The whole tour from there, as the browser follows it.
    let r = http.get(&next).send().await.expect("/demo on localhost");
    assert_eq!(r.status(), 303);
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    let r = http.get(&authorize).send().await.expect("authorize");
    assert_eq!(r.status(), 303);
    let login = format!("{localhost}{}", r.headers()["location"].to_str().unwrap());
    let page = http.get(&login).send().await.unwrap().text().await.unwrap();
    let r = http
        .post(&login)
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("username", "demo"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .expect("password");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let mut next = r.headers()["location"].to_str().unwrap().to_owned();
    // The demo client's redirect URI is on the issuer's origin.
    for _ in 0..3 {
        if next.contains("/demo/callback") {
            break;
        }
        let url = if next.starts_with('/') {
            format!("{localhost}{next}")
        } else {
            next.clone()
        };
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 303, "{url}: {:?}", r.text().await);
        next = r.headers()["location"].to_str().unwrap().to_owned();
    }
    let done = http.get(&next).send().await.expect("callback");
    let status = done.status();
    let body = done.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("&quot;acr&quot;") || body.contains("\"acr\""),
        "{body}"
    );
}

#[tokio::test]
async fn commands_without_config_refuse_to_invent_a_demo_database() {
    let dir = temp_dir();
    let out = Command::new(tollgate_bin())
        .args(["users", "list"])
        .current_dir(&dir.0)
        .env_remove("TOLLGATE_DATABASE_URL")
        .output()
        .expect("run tollgate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no ./data/") && err.contains("--config"),
        "{err}"
    );
    assert!(
        !dir.0.join("data").exists(),
        "users list must not create ./data/"
    );
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let dir = temp_dir();
    // A demo database with a few audit records (the server writes them at start).
    let port = free_port();
    let mut child = Command::new(tollgate_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir.0)
        .env("TOLLGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start tollgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Running(child);
    tokio::task::spawn_blocking(move || printed_password(stdout))
        .await
        .expect("banner");
    drop(server);
    for login in ["ann", "ben", "cai"] {
        let added = Command::new(tollgate_bin())
            .args(["users", "add", login, "--reset-link"])
            .current_dir(&dir.0)
            .output()
            .expect("users add");
        assert!(added.status.success(), "{added:?}");
    }
    let records = Command::new(tollgate_bin())
        .args(["audit", "export"])
        .current_dir(&dir.0)
        .output()
        .expect("export");
    assert!(records.status.success());
    let n = String::from_utf8_lossy(&records.stdout).lines().count();
    assert!(n >= 3, "each users add leaves an audit record: {n}");
    // `tollgate audit export | head`, with the reader gone before the first
    // line: the read end of the pipe is closed right after the spawn, long
    // before the command has opened its database.
    for args in [
        &["audit", "export"][..],
        &["users", "list"][..],
        &["keys", "list"][..],
    ] {
        let mut child = Command::new(tollgate_bin())
            .args(args)
            .current_dir(&dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }

    // README tour step 5: the what-if on the demo's own events works
    // without geo databases, as the server does.
    let events = dir.0.join("events.jsonl");
    let exported = Command::new(tollgate_bin())
        .args(["audit", "export", "--format", "events"])
        .current_dir(&dir.0)
        .output()
        .expect("export events");
    assert!(exported.status.success());
    std::fs::write(&events, &exported.stdout).unwrap();
    let default = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.yaml");
    let whatif = Command::new(tollgate_bin())
        .args(["policy", "simulate", "--policy"])
        .arg(&default)
        .arg("--events")
        .arg(&events)
        .current_dir(&dir.0)
        .output()
        .expect("simulate");
    assert!(
        whatif.status.success(),
        "{}",
        String::from_utf8_lossy(&whatif.stderr)
    );
}

/// `check-config` runs exactly what `serve` checks before creating
/// anything, and reports every problem of the file in one run with its line;
/// `serve` refuses the same file without leaving a database behind.
#[tokio::test]
async fn check_config_reports_every_problem_serve_would_refuse() {
    let dir = temp_dir();
    let db = dir.0.join("never-created.db");
    let file = dir.0.join("tollgate.toml");
    let text = format!(
        "version = 1\nissuer = \"https://id.example\"\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"mysql://db/x\"\n\n\
         [keys]\nmaster_key_file = \"{missing}\"\n\n\
         [[clients]]\nid = \"gw\"\nsecret_env = \"TG_TEST_UNSET_SECRET\"\ngrant_types = [\"client_credentials\"]\n\n\
         [[clients]]\nid = \"short\"\nsecret_env = \"TG_TEST_SHORT_SECRET\"\ngrant_types = [\"client_credentials\"]\n",
        missing = dir.0.join("no-such-master.key").display()
    );
    std::fs::write(&file, &text).unwrap();
    let run = |args: &[&str]| {
        Command::new(tollgate_bin())
            .args(args)
            .arg(&file)
            .current_dir(&dir.0)
            .env_remove("TOLLGATE_MASTER_KEY")
            .env_remove("TOLLGATE_DATABASE_URL")
            .env_remove("TG_TEST_UNSET_SECRET")
            .env("TG_TEST_SHORT_SECRET", "too-short")
            .env("TOLLGATE_LOG", "error")
            .output()
            .expect("run tollgate")
    };
    let out = run(&["check-config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    let shown = file.display().to_string();
    for (line, words) in [
        (5, "mysql://db/x"),
        (8, "no-such-master.key"),
        (11, "TG_TEST_UNSET_SECRET"),
        (16, "shorter than 32"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{shown}:{line}:")) && l.contains(words)),
            "line {line} ({words}) in:\n{err}"
        );
    }
    // serve refuses the same file, and creates nothing first.
    let out = run(&["serve", "--config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mysql://db/x") && err.contains("TG_TEST_UNSET_SECRET"),
        "{err}"
    );
    assert!(!db.exists() && !dir.0.join("data").exists());
}
