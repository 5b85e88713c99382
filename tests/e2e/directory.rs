//! LDAP / Active Directory as a user source, against a real OpenLDAP
//! slapd per test (tests/e2e/slapd.rs): sync, sign-in by bind, wrong
//! passwords counted by the lockout, a directory that is down making
//! sign-in *unavailable* (never "wrong password", never counted), users
//! disabled or removed in the directory disabled here with their sessions
//! and refresh tokens, a directory cut off mid-sync losing nothing and the
//! scheduled sync retrying, and ldaps with a test CA. On SQLite and
//! PostgreSQL.

use crate::authenticators::{VERIFIER, authorize_url, loc, open_login, post_form};
use crate::oidc_flow::raw_token;
use crate::slapd::{Shape, Slapd, ad_group, ad_user, have_slapd, openldap_group, openldap_user};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tollgate::{
    DIRECTORY_PASSWORD_ENV, Db, PASSWORD, SCIM_TOKEN_ENV, TestServer, browser, csrf_of,
};
use tollgate_authz::directory::config::DirectoryConfig;
use tollgate_authz::directory::sync::{Report, SyncError, run_once};
use tollgate_authz::store::UserRow;

/// A `[[directories]]` entry for `slapd` (plain LDAP on loopback unless
/// `url` says otherwise), with `extra` JSON fields.
pub(crate) fn entry(ldap: &Slapd, url: &str, extra: serde_json::Value) -> DirectoryConfig {
    let preset = match ldap.shape {
        Shape::OpenLdap => "openldap",
        Shape::ActiveDirectory => "active_directory",
    };
    let mut v = serde_json::json!({
        "name": "corp",
        "url": url,
        "allow_plain": url.starts_with("ldap://"),
        "bind_dn": format!("cn=svc,{}", ldap.suffix()),
        "bind_password_env": DIRECTORY_PASSWORD_ENV,
        "preset": preset,
        "user_base": format!("ou=people,{}", ldap.suffix()),
        "sync_interval": 0,
        "timeout": 5,
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    serde_json::from_value(v).expect("directory entry")
}

/// A server with `dirs`, client `rp`, the allow-all policy (no step-up)
/// and 3 failed attempts per user before the lock.
pub(crate) async fn server(
    db: Db,
    dirs: Vec<DirectoryConfig>,
    tweak: impl FnOnce(&mut tollgate_authz::config::Config),
) -> Option<TestServer> {
    let srv = TestServer::start(db, |c| {
        c.directories = dirs;
        c.policy.files = vec![tollgate::allow_all_policy()];
        c.login.max_failures_per_user = 3;
        tweak(c)
    })
    .await?;
    srv.add_client("rp", |_| {}).await;
    Some(srv)
}

pub(crate) async fn sync(srv: &TestServer, dry_run: bool) -> Result<Report, SyncError> {
    let dir = srv.app.directories.iter().next().expect("a directory");
    sync_dir(srv, dir.name(), dry_run).await
}

/// Syncs the directory named `name` (of all the server has configured).
pub(crate) async fn sync_dir(
    srv: &TestServer,
    name: &str,
    dry_run: bool,
) -> Result<Report, SyncError> {
    let dirs = &srv.app.directories;
    let dir = dirs.get(name).expect("a configured directory");
    run_once(&srv.app.store, dirs, dir, dry_run, srv.app.now(), |n| n).await
}

pub(crate) async fn user(srv: &TestServer, login: &str) -> UserRow {
    srv.app
        .store
        .user_by_login(login)
        .await
        .expect("lookup")
        .unwrap_or_else(|| panic!("no user {login}"))
}

/// Signs in on a fresh browser; (status of the password POST, Location).
pub(crate) async fn sign_in(srv: &TestServer, login: &str, password: &str) -> (u16, String) {
    sign_in_with(&browser(), srv, login, password).await
}

async fn sign_in_with(
    http: &reqwest::Client,
    srv: &TestServer,
    login: &str,
    password: &str,
) -> (u16, String) {
    let (path, html) = open_login(http, &srv.base, &authorize_url(&srv.base, "")).await;
    let r = post_form(
        http,
        &format!("{}{path}", srv.base),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", login),
            ("password", password),
        ],
    )
    .await;
    (r.status().as_u16(), loc(&r))
}

pub(crate) fn signed_in((status, location): &(u16, String)) -> bool {
    *status == 303 && location.starts_with("https://rp.example/cb?code=")
}

/// `SELECT COUNT(*)` on the server's database.
async fn count(srv: &TestServer, sql: &str, user_id: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::AnyConnection::connect(&srv.config_database_url())
        .await
        .expect("connect");
    sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_one(&mut c)
        .await
        .expect("count")
}

async fn sync_and_bind(db: Db) {
    if !have_slapd() {
        return;
    }
    let mut ldap = Slapd::start(Shape::OpenLdap, false);
    ldap.add(&format!(
        "{}{}{}{}",
        openldap_user("alice", "alice-pw"),
        openldap_user("bob", "bob-pw"),
        openldap_group("vc-admins", &["alice"]),
        openldap_group("ops", &["alice", "bob"])
    ));
    let dir = entry(&ldap, &ldap.url(), serde_json::json!({}));
    let Some(srv) = server(db, vec![dir], |_| {}).await else {
        return;
    };
    // The break-glass administrator is local; no sync touches it.
    srv.add_user("admin", &["break-glass"]).await;

    let plan = sync(&srv, true).await.expect("dry run");
    let shown: Vec<String> = plan.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "create user \"alice\" (groups: ops, vc-admins)",
            "create user \"bob\" (groups: ops)"
        ]
    );
    assert!(
        srv.app
            .store
            .user_by_login("alice")
            .await
            .unwrap()
            .is_none()
    );

    let done = sync(&srv, false).await.expect("sync");
    assert_eq!(done.changes.len(), 2, "{done:?}");
    let alice = user(&srv, "alice").await;
    assert_eq!(alice.groups, vec!["ops", "vc-admins"]);
    assert_eq!(alice.email.as_deref(), Some("alice@example.org"));
    assert_eq!(alice.display_name, "alice Example");
    assert!(alice.password_hash.is_none(), "no password is kept here");
    assert!(
        sync(&srv, false).await.unwrap().changes.is_empty(),
        "in sync"
    );
    let admin = user(&srv, "admin").await;
    assert!(!admin.disabled && admin.groups == vec!["break-glass"]);

    // Sign-in by bind; the local administrator keeps argon2.
    assert!(signed_in(&sign_in(&srv, "alice", "alice-pw").await));
    assert!(signed_in(&sign_in(&srv, "admin", PASSWORD).await));
    // A wrong password is 401 and counted: after 3 the right one is locked.
    for _ in 0..3 {
        assert_eq!(sign_in(&srv, "bob", "not-bobs").await.0, 401);
    }
    assert_eq!(sign_in(&srv, "bob", "bob-pw").await.0, 429);
    // An empty password never reaches the directory (an unauthenticated
    // bind would "succeed"); it is a counted failure like any wrong one.
    assert_eq!(sign_in(&srv, "alice", "").await.0, 401);
    // Someone the directory has and Tollgate not yet: created at sign-in.
    ldap.add(&openldap_user("carol", "carol-pw"));
    assert!(signed_in(&sign_in(&srv, "carol", "carol-pw").await));
    assert!(user(&srv, "carol").await.groups.is_empty());
    // A new group reaches the user at sign-in, before any sync.
    ldap.add(&openldap_group("dba", &["alice"]));
    assert!(signed_in(&sign_in(&srv, "alice", "alice-pw").await));
    assert_eq!(
        user(&srv, "alice").await.groups,
        vec!["dba", "ops", "vc-admins"]
    );

    // The directory goes down: sign-in is unavailable, not a wrong
    // password, and not counted (alice has 3 - 0 attempts left after her
    // success, so four counted failures would lock her).
    ldap.stop();
    for _ in 0..4 {
        let (status, _) = sign_in(&srv, "alice", "alice-pw").await;
        assert_eq!(status, 503);
    }
    assert!(
        signed_in(&sign_in(&srv, "admin", PASSWORD).await),
        "break-glass works"
    );
    assert!(matches!(
        sync(&srv, false).await,
        Err(SyncError::Unavailable(_))
    ));
    assert!(
        !user(&srv, "alice").await.disabled,
        "a failed sync disables nobody"
    );
    let status = srv.app.store.directory_status("corp").await.unwrap();
    assert_eq!(status.failures, 1);
    assert!(
        status
            .last_error
            .unwrap_or_default()
            .contains("cannot connect")
    );
    ldap.resume();
    assert!(
        signed_in(&sign_in(&srv, "alice", "alice-pw").await),
        "the 503s were not counted"
    );
    assert!(sync(&srv, false).await.is_ok());
    assert_eq!(
        srv.app
            .store
            .directory_status("corp")
            .await
            .unwrap()
            .failures,
        0
    );
}

#[tokio::test]
async fn directory_sync_and_sign_in_by_bind_sqlite() {
    sync_and_bind(Db::Sqlite).await
}

#[tokio::test]
async fn directory_sync_and_sign_in_by_bind_postgres() {
    sync_and_bind(Db::Postgres).await
}

async fn disabled_and_removed(db: Db) {
    if !have_slapd() {
        return;
    }
    let ldap = Slapd::start(Shape::ActiveDirectory, false);
    ldap.add(&format!(
        "{}{}{}",
        ad_user("dave", "dave-pw", [1; 16]),
        ad_user("erin", "erin-pw", [2; 16]),
        ad_group("VC Admins", &["dave"])
    ));
    let dir = entry(&ldap, &ldap.url(), serde_json::json!({}));
    // A SCIM target that is never reachable: what is queued stays queued.
    let Some(srv) = server(db, vec![dir], |c| {
        c.scim
            .targets
            .push(tollgate_authz::config::ScimTargetConfig {
                name: "vc".into(),
                base_url: "http://127.0.0.1:9/scim/v2".into(),
                token_env: SCIM_TOKEN_ENV.into(),
                groups: vec![],
                ca_file: None,
                profile: Default::default(),
            })
    })
    .await
    else {
        return;
    };
    assert_eq!(sync(&srv, false).await.expect("sync").changes.len(), 2);
    let dave = user(&srv, "dave").await;
    assert_eq!(dave.upn.as_deref(), Some("dave@corp.example"));
    assert_eq!(dave.groups, vec!["VC Admins"]);
    let account = srv
        .app
        .store
        .directory_account(&dave.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.external_id, "01010101-0101-0101-0101-010101010101");
    assert_eq!(account.dn, "cn=dave,ou=people,dc=corp,dc=example");

    // Dave signs in and holds a session and a refresh token.
    let http = browser();
    let got = sign_in_with(&http, &srv, "dave", "dave-pw").await;
    assert!(signed_in(&got), "{got:?}");
    let code = tollgate::param(&got.1, "code").unwrap();
    let (status, tokens) = raw_token(
        &http,
        &srv.base,
        "rp",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let live = "SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND ended_at IS NULL";
    assert_eq!(count(&srv, live, &dave.id).await, 1);

    // Disabled in AD (userAccountControl ACCOUNTDISABLE): refused at the
    // next sign-in, which disables dave here with his session and tokens.
    ldap.modify(
        "dn: cn=dave,ou=people,dc=corp,dc=example\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n",
    );
    assert_eq!(sign_in(&srv, "dave", "dave-pw").await.0, 401);
    assert!(user(&srv, "dave").await.disabled);
    assert_eq!(count(&srv, live, &dave.id).await, 0, "sessions ended");
    let (status, body) = raw_token(
        &http,
        &srv.base,
        "rp",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let pending = srv.app.store.scim_pending("vc").await.unwrap();
    assert!(
        pending.iter().any(|r| r.subject == dave.id),
        "SCIM deactivation queued: {pending:?}"
    );

    // Removed from AD: disabled at the next sync, never deleted.
    ldap.modify("dn: cn=erin,ou=people,dc=corp,dc=example\nchangetype: delete\n");
    let r = sync(&srv, false).await.expect("sync");
    let shown: Vec<String> = r.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        shown,
        vec!["disable user \"erin\": removed from the directory"]
    );
    assert!(user(&srv, "erin").await.disabled);
    assert_eq!(sign_in(&srv, "erin", "erin-pw").await.0, 401);

    // Enabled again in AD: the directory disabled him, so it enables him.
    ldap.modify(
        "dn: cn=dave,ou=people,dc=corp,dc=example\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n",
    );
    let r = sync(&srv, false).await.expect("sync");
    assert_eq!(r.changes.len(), 1, "{r:?}");
    assert!(!user(&srv, "dave").await.disabled);
    assert!(signed_in(&sign_in(&srv, "dave", "dave-pw").await));
}

#[tokio::test]
async fn directory_disabled_and_removed_users_sqlite() {
    disabled_and_removed(Db::Sqlite).await
}

#[tokio::test]
async fn directory_disabled_and_removed_users_postgres() {
    disabled_and_removed(Db::Postgres).await
}

/// A TCP proxy that forwards at most `cut` bytes from the server per
/// connection (0: no limit) and then drops it: a directory that goes away
/// in the middle of an answer.
struct CutProxy {
    port: u16,
    cut: Arc<AtomicUsize>,
}

impl CutProxy {
    async fn start(upstream: u16) -> CutProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicUsize::new(0));
        let limit = cut.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let limit = limit.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    });
                    let mut sent = 0usize;
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let n = if limit > 0 { n.min(limit - sent) } else { n };
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                        if limit > 0 && sent >= limit {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        CutProxy { port, cut }
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// New connections are cut after `bytes` from the server (0: never).
    fn cut_after(&self, bytes: usize) {
        self.cut.store(bytes, Ordering::SeqCst);
    }
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn down_mid_sync(db: Db) {
    if !have_slapd() {
        return;
    }
    let ldap = Slapd::start(Shape::OpenLdap, false);
    let mut ldif = String::new();
    for i in 0..300 {
        ldif.push_str(&openldap_user(&format!("u{i:03}"), "pw"));
    }
    let first: Vec<String> = (0..50).map(|i| format!("u{i:03}")).collect();
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    ldif.push_str(&openldap_group("early", &first));
    ldap.add(&ldif);
    let proxy = CutProxy::start(ldap.port).await;
    // The first scheduled sync (at start) is cut off in the middle of the
    // listing (after the binds and a few entries)...
    proxy.cut_after(6000);
    let dir = entry(
        &ldap,
        &proxy.url(),
        serde_json::json!({"sync_interval": 3600}),
    );
    let Some(srv) = server(db, vec![dir], |_| {}).await else {
        return;
    };
    let store = srv.app.store.clone();
    wait_for("the first sync to fail", 15, async || {
        store.directory_status("corp").await.unwrap().failures >= 1
    })
    .await;
    let s = store.directory_status("corp").await.unwrap();
    assert_eq!(s.accounts, 0, "nothing from a cut-off listing is applied");
    assert!(s.last_error.is_some());
    // ...and retried by the schedule (5 s after one failure), not an hour later.
    proxy.cut_after(0);
    wait_for("the retry to succeed", 30, async || {
        let s = store.directory_status("corp").await.unwrap();
        s.failures == 0 && s.last_success_at.is_some()
    })
    .await;
    assert_eq!(store.directory_status("corp").await.unwrap().accounts, 300);
    assert_eq!(user(&srv, "u007").await.groups, vec!["early"]);

    // Five users leave; the next sync is cut mid-listing: nobody is
    // disabled (they are missing from a partial answer, not removed).
    let mut gone = String::new();
    for i in 10..15 {
        gone.push_str(&format!(
            "dn: uid=u{i:03},ou=people,dc=example,dc=org\nchangetype: delete\n\n"
        ));
    }
    ldap.modify(&gone);
    proxy.cut_after(9000);
    assert!(matches!(
        sync(&srv, false).await,
        Err(SyncError::Unavailable(_))
    ));
    assert_eq!(store.directory_status("corp").await.unwrap().disabled, 0);
    for i in 0..300 {
        assert!(!user(&srv, &format!("u{i:03}")).await.disabled);
    }
    // The next complete sync disables exactly those five.
    proxy.cut_after(0);
    let r = sync(&srv, false).await.expect("sync");
    assert_eq!(r.changes.len(), 5, "{:?}", r.changes);
    let s = store.directory_status("corp").await.unwrap();
    assert_eq!((s.accounts, s.disabled, s.failures), (300, 5, 0));
    assert!(user(&srv, "u012").await.disabled);
    assert!(!user(&srv, "u015").await.disabled);
}

#[tokio::test]
async fn directory_down_mid_sync_loses_nothing_sqlite() {
    down_mid_sync(Db::Sqlite).await
}

#[tokio::test]
async fn directory_down_mid_sync_loses_nothing_postgres() {
    down_mid_sync(Db::Postgres).await
}

/// ldaps with a CA made in the test: trusted through `ca_file`, refused
/// (sign-in unavailable, not a wrong password) without it.
#[tokio::test]
async fn directory_over_ldaps_trusts_only_its_ca_file() {
    if !have_slapd() || !tollgate::have_tool("/usr/bin/openssl", "openssl") {
        return;
    }
    let ldap = Slapd::start(Shape::OpenLdap, true);
    ldap.add(&openldap_user("tess", "tess-pw"));
    let url = format!("ldaps://127.0.0.1:{}", ldap.tls_port.unwrap());
    let trusted = entry(
        &ldap,
        &url,
        serde_json::json!({"ca_file": ldap.ca_file().display().to_string()}),
    );
    let Some(srv) = server(Db::Sqlite, vec![trusted], |_| {}).await else {
        return;
    };
    assert_eq!(sync(&srv, false).await.expect("sync").changes.len(), 1);
    assert!(signed_in(&sign_in(&srv, "tess", "tess-pw").await));
    assert_eq!(sign_in(&srv, "tess", "wrong").await.0, 401);

    let untrusted = entry(&ldap, &url, serde_json::json!({}));
    let Some(other) = server(Db::Sqlite, vec![untrusted], |_| {}).await else {
        return;
    };
    let err = sync(&other, false).await.unwrap_err();
    assert!(matches!(err, SyncError::Unavailable(_)), "{err}");
    assert_eq!(sign_in(&other, "tess", "tess-pw").await.0, 503);
}

/// StartTLS on the plain `ldap://` port of a slapd that refuses every
/// operation there without TLS (`security tls=1`): without `start_tls` the
/// service bind is refused, so a sync and a sign-in that work with it
/// prove the connection was upgraded; with a CA that did not sign the
/// server's certificate the directory is unavailable (503), never a wrong
/// password.
#[tokio::test]
async fn directory_over_start_tls_upgrades_and_trusts_only_its_ca_file() {
    if !have_slapd() || !tollgate::have_tool("/usr/bin/openssl", "openssl") {
        return;
    }
    let ldap = Slapd::start_requiring_tls(Shape::OpenLdap);
    ldap.add(&openldap_user("tess", "tess-pw"));
    let ca = ldap.ca_file().display().to_string();

    // Plain on the same port: refused by the server, so unavailable.
    let plain = entry(&ldap, &ldap.url(), serde_json::json!({}));
    let Some(srv) = server(Db::Sqlite, vec![plain], |_| {}).await else {
        return;
    };
    let err = sync(&srv, false).await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Unavailable(u) if u.reason.contains("rc 13")),
        "{err}"
    );
    assert_eq!(sign_in(&srv, "tess", "tess-pw").await.0, 503);

    // StartTLS with the server's CA.
    let upgraded = entry(
        &ldap,
        &ldap.url(),
        serde_json::json!({"allow_plain": false, "start_tls": true, "ca_file": ca}),
    );
    let Some(srv) = server(Db::Sqlite, vec![upgraded], |_| {}).await else {
        return;
    };
    assert_eq!(sync(&srv, false).await.expect("sync").changes.len(), 1);
    assert!(signed_in(&sign_in(&srv, "tess", "tess-pw").await));
    assert_eq!(sign_in(&srv, "tess", "wrong").await.0, 401);

    // StartTLS with another CA: the handshake fails, sign-in unavailable.
    let other = tollgate::temp_dir();
    crate::tls_front::test_certs(&other.0);
    let wrong_ca = entry(
        &ldap,
        &ldap.url(),
        serde_json::json!({
            "allow_plain": false,
            "start_tls": true,
            "ca_file": other.0.join("ca.pem").display().to_string(),
        }),
    );
    let Some(srv) = server(Db::Sqlite, vec![wrong_ca], |_| {}).await else {
        return;
    };
    let err = sync(&srv, false).await.unwrap_err();
    assert!(matches!(err, SyncError::Unavailable(_)), "{err}");
    assert_eq!(sign_in(&srv, "tess", "tess-pw").await.0, 503);
    assert_eq!(
        sign_in(&srv, "tess", "wrong").await.0,
        503,
        "never a wrong password"
    );
}

/// Sign-ins through the directory per second: authorize, the login page,
/// the password POST (search + bind as the user against slapd on loopback,
/// risk score, policy decision) and the code, with 16 browsers at once.
/// Every one of them must sign in (no 5xx, no lost bind under load); the
/// rate it prints is the number in docs/operations.md (`RATE_SECS=10`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_sign_in_rate() {
    if !have_slapd() {
        return;
    }
    let ldap = Slapd::start(Shape::OpenLdap, false);
    let mut ldif = String::new();
    for i in 0..64 {
        ldif.push_str(&openldap_user(&format!("r{i:02}"), "rate-pw"));
    }
    ldap.add(&ldif);
    let dir = entry(&ldap, &ldap.url(), serde_json::json!({}));
    let srv = server(Db::Sqlite, vec![dir], |c| {
        c.login.posts_per_ip_per_minute = 0;
        c.login.max_failures_per_ip = 1_000_000;
    })
    .await
    .expect("server");
    let srv = Arc::new(srv);
    sync(&srv, false).await.expect("sync");
    let secs: u64 = std::env::var("RATE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (srv, done) = (srv.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let login = format!("r{:02}", i % 64);
                assert!(signed_in(&sign_in(&srv, &login, "rate-pw").await));
                done.fetch_add(1, Ordering::Relaxed);
                i += 16;
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    let n = done.load(Ordering::Relaxed);
    assert!(n >= 16, "only {n} sign-ins in {secs} s");
    println!(
        "directory sign-ins: {n} in {secs} s = {:.0}/s",
        n as f64 / secs as f64
    );
}
