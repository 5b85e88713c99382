//! The password lifecycle as an operator and a user meet it: no account
//! without a way to sign in, one policy for every way a password is set
//! (length, breached list, the login name), `users set-password`, and the
//! one-time reset link — each attack on the link (a second use, twenty
//! uses at once, an older link, an expired one) as its own check.

use crate::authenticators::{loc, open_login, post_form};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use tollgate::{Db, PASSWORD, TestServer, browser, csrf_of, temp_dir, tollgate_bin};
use tollgate_authz::clock::Clock;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A config file for the CLI on the server's database and issuer, with a
/// breached-password list.
fn cli_config(srv: &TestServer, dir: &std::path::Path) -> std::path::PathBuf {
    let list = breached_list(dir);
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            "version = 1\nissuer = \"{}\"\nlisten = \"127.0.0.1:1\"\n[database]\nurl = \"{}\"\n[passwords]\nblocklist_file = \"{}\"\n",
            srv.app.urls.issuer,
            srv.config_database_url(),
            list.display()
        ),
    )
    .unwrap();
    file
}

/// The breached-password list both the server and the CLI read.
fn breached_list(dir: &std::path::Path) -> std::path::PathBuf {
    let list = dir.join("breached.txt");
    std::fs::write(&list, "# from a breach\nsummer holidays 2026!\n").unwrap();
    list
}

/// Runs `tollgate <args> --config <config>` with `stdin` on standard input.
fn cli(config: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(tollgate_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("TOLLGATE_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tollgate");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().expect("wait")
}

/// Signs `login` in to /account with `password` in a fresh browser; the
/// browser (holding the session) when it worked, the status otherwise.
async fn sign_in(srv: &TestServer, login: &str, password: &str) -> Result<reqwest::Client, u16> {
    let http = browser();
    let base = &srv.base;
    let (path, html) = open_login(&http, base, &format!("{base}/account")).await;
    let r = post_form(
        &http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", login),
            ("password", password),
        ],
    )
    .await;
    if loc(&r) == "/account" {
        Ok(http)
    } else {
        Err(r.status().as_u16())
    }
}

async fn account_status(http: &reqwest::Client, base: &str) -> u16 {
    http.get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn no_account_without_a_way_to_sign_in_and_one_policy_for_every_password() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let dir = temp_dir();
    let config = cli_config(&srv, &dir.0);

    let out = cli(&config, &["users", "add", "bob"], "");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no way to sign in"), "{}", text(&out));
    for (password, why) in [
        ("too short", "at least 15 characters"),
        ("Summer Holidays 2026!", "breached"),
        ("the account of bob.smith here", "login name"),
    ] {
        let out = cli(
            &config,
            &["users", "add", "bob.smith", "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(!out.status.success(), "{password:?} was accepted");
        assert!(text(&out).contains(why), "{password:?}: {}", text(&out));
    }
    assert!(
        srv.app
            .store
            .user_by_login("bob.smith")
            .await
            .unwrap()
            .is_none(),
        "a refused add created the user"
    );
    let out = cli(
        &config,
        &["users", "add", "bob.smith", "--password-stdin"],
        "a long enough first passphrase\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sign_in(&srv, "bob.smith", "a long enough first passphrase")
            .await
            .is_ok()
    );
    // `users list`: a header row, or with --json the same columns as keys.
    let table = cli(&config, &["users", "list"], "");
    let lines: Vec<String> = String::from_utf8_lossy(&table.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines[0], "login\tname\tupn\tgroups\tstatus", "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("bob.smith\t")),
        "{lines:?}"
    );
    let json = cli(&config, &["users", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_slice(&json.stdout).expect("users list --json");
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "bob.smith")
        .expect("bob.smith listed");
    assert_eq!(bob["status"], "active");

    // set-password: the same policy, then the old password stops working
    // and the session opened with it ends.
    let before = sign_in(&srv, "bob.smith", "a long enough first passphrase")
        .await
        .expect("signed in");
    let out = cli(&config, &["users", "set-password", "bob.smith"], "short\n");
    assert!(
        !out.status.success() && text(&out).contains("at least 15"),
        "{}",
        text(&out)
    );
    let out = cli(
        &config,
        &["users", "set-password", "bob.smith"],
        "a second different passphrase\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        account_status(&before, &srv.base).await,
        303,
        "the old session survived"
    );
    assert_eq!(
        sign_in(&srv, "bob.smith", "a long enough first passphrase")
            .await
            .err(),
        Some(401)
    );
    assert!(
        sign_in(&srv, "bob.smith", "a second different passphrase")
            .await
            .is_ok()
    );
    let out = cli(
        &config,
        &["users", "set-password", "nobody"],
        "whatever passphrase here\n",
    );
    assert!(
        !out.status.success() && text(&out).contains("does not exist"),
        "{}",
        text(&out)
    );

    // A CSV row without a password is refused at its line, unless the
    // operator says those users get links.
    let csv = dir.0.join("users.csv");
    std::fs::write(
        &csv,
        "login,display_name,password\ncai,Cai,a long enough csv passphrase\ndan,Dan,\n",
    )
    .unwrap();
    let out = cli(&config, &["users", "import", csv.to_str().unwrap()], "");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{}:3:", csv.display())) && text(&out).contains("no password"),
        "{}",
        text(&out)
    );
    assert!(srv.app.store.user_by_login("cai").await.unwrap().is_none());
    let out = cli(
        &config,
        &[
            "users",
            "import",
            csv.to_str().unwrap(),
            "--without-passwords",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&config, &["users", "add", "eve", "--reset-link"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("/password/reset/"), "{}", text(&out));
    srv.stop().await;
}

/// The link a `users reset` run printed.
fn reset_link(config: &std::path::Path, login: &str) -> String {
    let out = cli(config, &["users", "reset", login], "");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn a_reset_link_works_once(db: Db) {
    let t0 = Clock::System.now();
    let dir = temp_dir();
    let list = breached_list(&dir.0);
    let Some(srv) = TestServer::start_with_clock(db, Clock::manual(t0), |c| {
        c.passwords.blocklist_file = Some(list)
    })
    .await
    else {
        return;
    };
    srv.add_user("alice", &[]).await;
    let config = cli_config(&srv, &dir.0);
    let http = reqwest::Client::new();
    let old = sign_in(&srv, "alice", PASSWORD).await.expect("signed in");

    let link = reset_link(&config, "alice");
    assert!(
        link.starts_with(&format!("{}/password/reset/", srv.app.urls.issuer)),
        "{link}"
    );
    // Showing the form twice uses nothing up.
    for _ in 0..2 {
        let r = http.get(&link).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("alice"));
    }
    let post = |password: &'static str, confirm: &'static str| {
        let (http, link) = (http.clone(), link.clone());
        async move {
            let r = http
                .post(&link)
                .form(&[("password", password), ("confirm", confirm)])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s, page) = post(
        "a brand new passphrase for her",
        "a brand new passphrase for hr",
    )
    .await;
    assert!(s == 400 && page.contains("differ"), "{s} {page}");
    let (s, page) = post("too short", "too short").await;
    assert!(s == 400 && page.contains("at least 15"), "{s} {page}");
    let (s, page) = post("summer holidays 2026!", "summer holidays 2026!").await;
    assert!(s == 400 && page.contains("breached"), "{s} {page}");

    // Twenty submits of the same link at once: exactly one sets the password
    // (the others find it used, or the bounded hasher busy: 503).
    let racers: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(post(
                "a brand new passphrase for her",
                "a brand new passphrase for her",
            ))
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap().0);
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 410, 503].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(http.get(&link).send().await.unwrap().status(), 410);

    assert_eq!(
        account_status(&old, &srv.base).await,
        303,
        "the old session survived the reset"
    );
    assert_eq!(sign_in(&srv, "alice", PASSWORD).await.err(), Some(401));
    assert!(
        sign_in(&srv, "alice", "a brand new passphrase for her")
            .await
            .is_ok()
    );
    let url = srv.config_database_url();
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'user.password_reset'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(n, 1);

    // A newer link retires the older one; a link expires.
    let first = reset_link(&config, "alice");
    let second = reset_link(&config, "alice");
    assert_eq!(http.get(&first).send().await.unwrap().status(), 410);
    assert_eq!(http.get(&second).send().await.unwrap().status(), 200);
    // The CLI stamps links with the system clock, the server reads its manual one.
    let cli_ahead = Clock::System.now() - t0;
    srv.app
        .clock
        .advance(cli_ahead + srv.app.config.passwords.reset_link_ttl + 5);
    assert_eq!(http.get(&second).send().await.unwrap().status(), 410);
    // A made-up or mangled token is the same answer, never a 500.
    for (bad, want) in [
        ("x", 410),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 410),
        // Not UTF-8: the path extractor refuses it before the handler.
        ("%00%ff", 400),
    ] {
        let r = http
            .get(format!("{}/password/reset/{bad}", srv.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{bad}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_the_old_sessions() {
    a_reset_link_works_once(Db::Sqlite).await;
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_the_old_sessions_on_postgres() {
    a_reset_link_works_once(Db::Postgres).await;
}

/// A signed-in user changes the password on /account: only with the
/// account CSRF token and a fresh sign-in, only to a password the policy
/// accepts; then the old one stops working.
#[tokio::test]
async fn the_account_page_changes_the_password_only_when_fresh() {
    let Some(srv) =
        TestServer::start_with_clock(Db::Sqlite, Clock::manual(Clock::System.now()), |_| {}).await
    else {
        return;
    };
    srv.add_user("alice", &[]).await;
    let base = &srv.base;
    let http = sign_in(&srv, "alice", PASSWORD).await.expect("signed in");
    let csrf = tollgate::account_csrf(&http, base).await;
    let change = |csrf: String, password: &'static str| {
        let http = http.clone();
        let url = format!("{base}/account/password");
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("password", password),
                    ("confirm", password),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, loc(&r), r.text().await.unwrap())
        }
    };
    let (s, _, _) = change("forged".into(), "a brand new passphrase for her").await;
    assert_eq!(s, 403, "a forged CSRF token was accepted");
    let (s, _, page) = change(csrf.clone(), "too short").await;
    assert!(s == 400 && page.contains("at least 15"), "{s} {page}");
    // Past the re-authentication window the change waits for a new sign-in.
    srv.app
        .clock
        .advance(srv.app.config.authenticators.reauth_window + 1);
    let (s, to, _) = change(csrf.clone(), "a brand new passphrase for her").await;
    assert!(s == 303 && to == "/account/reauth", "{s} {to}");
    assert!(
        sign_in(&srv, "alice", PASSWORD).await.is_ok(),
        "a stale session changed it"
    );

    let http = sign_in(&srv, "alice", PASSWORD).await.expect("signed in");
    let csrf = tollgate::account_csrf(&http, base).await;
    let r = http
        .post(format!("{base}/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "a brand new passphrase for her"),
            ("confirm", "a brand new passphrase for her"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("password was changed"));
    assert_eq!(sign_in(&srv, "alice", PASSWORD).await.err(), Some(401));
    assert!(
        sign_in(&srv, "alice", "a brand new passphrase for her")
            .await
            .is_ok()
    );
    srv.stop().await;
}
