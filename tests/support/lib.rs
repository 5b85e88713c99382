//! Test support for Tollgate's end-to-end tests: start the real server on
//! 127.0.0.1:0 over SQLite or a fresh PostgreSQL database, with clients and
//! users created through the real store.
//!
//! PostgreSQL is expected on 127.0.0.1:5432 (database `test`, trust auth),
//! or wherever `TOLLGATE_TEST_PG` points (`.ci/test` sets it when it had to
//! start a private cluster). When it is not reachable the PostgreSQL variant
//! is skipped loudly, and under `CI=true` that is a failure.

use std::sync::Arc;
use tollgate_authz::clock::Clock;
use tollgate_authz::config::Config;
use tollgate_authz::oauth::client::{ClientSettings, hash_secret};
use tollgate_authz::state::App;
use tollgate_authz::store::{ClientRow, NewUser};

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server. Dropping it stops the server.
pub struct TestServer {
    pub base: String,
    pub app: App,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
    /// What a restart needs: the same config (address, database) and clock.
    config: Config,
    clock: Clock,
}

/// A stopped server whose database (and address) a restart reuses.
pub struct StoppedServer {
    dir: TempDir,
    config: Config,
    clock: Clock,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory (removed when dropped).
pub fn temp_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!(
        "tollgate-test-{}",
        tollgate_authz::secret::random_id(8).replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&p).ok();
    TempDir(p)
}

/// The administrative PostgreSQL URL tests create their databases through.
pub fn pg_admin_url() -> String {
    std::env::var("TOLLGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `admin` with its database name replaced by `db`.
pub fn pg_url_for(admin: &str, db: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{db}")
}

/// A fresh PostgreSQL database URL, or `None` (after printing why) when
/// PostgreSQL is unavailable outside CI.
pub async fn postgres_db() -> Option<String> {
    use sqlx::Connection;
    let name = format!(
        "tg_{}",
        tollgate_authz::secret::random_id(8)
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let admin = pg_admin_url();
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut c) => {
            if let Err(e) = sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
            {
                panic!("cannot create test database {name}: {e}");
            }
            Some(pg_url_for(&admin, &name))
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required under CI=true but {admin} is unreachable: {e}");
            }
            eprintln!("\n*** SKIPPED PostgreSQL variant: {admin} is unreachable ({e}) ***\n");
            None
        }
    }
}

/// The Redis tests share state through (`TOLLGATE_TEST_REDIS`, set by
/// .ci/test, or the machine's 127.0.0.1:6379), or `None` (after printing
/// why) when it is unreachable outside CI. Tests keep apart by key prefix.
pub fn redis_url() -> Option<String> {
    let url =
        std::env::var("TOLLGATE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    match std::net::TcpStream::connect(&addr) {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("Redis is required under CI=true but {url} is unreachable: {e}");
            }
            eprintln!("\n*** SKIPPED Redis test: {url} is unreachable ({e}) ***\n");
            None
        }
    }
}

/// The secret every test client gets (shown here so tests can authenticate).
pub const SECRET: &str = "test-client-secret-0123456789abcdefghij";
/// The bearer token of test SCIM targets, found under [`SCIM_TOKEN_ENV`]
/// by the server (never in the process environment).
pub const SCIM_TOKEN: &str = "test-scim-token-0123456789";
/// The `token_env` test SCIM targets name.
pub const SCIM_TOKEN_ENV: &str = "TOLLGATE_TEST_SCIM_TOKEN";
/// The `[metrics] token_env` value tests may name, and its token.
pub const METRICS_TOKEN_ENV: &str = "TOLLGATE_TEST_METRICS_TOKEN";
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";
/// The `bind_password_env` test directories name, and the service
/// account's password the test slapd is seeded with.
pub const DIRECTORY_PASSWORD_ENV: &str = "TOLLGATE_TEST_DIRECTORY_PASSWORD";
pub const DIRECTORY_PASSWORD: &str = "test-directory-service-pw";
/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestServer {
    /// Starts a server; `tweak` adjusts the config before start. Returns
    /// `None` when the database is unavailable (PostgreSQL outside CI).
    pub async fn start(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        Self::start_with_clock(db, Clock::System, tweak).await
    }

    pub async fn start_with_clock(
        db: Db,
        clock: Clock,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let dir = temp_dir();
        let url = match db {
            Db::Sqlite => format!("sqlite://{}/tollgate.db", dir.0.display()),
            Db::Postgres => postgres_db().await?,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut cfg = Config::demo(&addr.to_string());
        cfg.demo = false;
        // Most tests read the counters; tests/e2e/operations.rs closes it.
        cfg.metrics.public = true;
        cfg.database.url = url;
        cfg.keys.master_key_file = None;
        cfg.http.shutdown_grace = 2;
        tweak(&mut cfg);
        Some(Self::serve_on(listener, cfg, clock, dir).await)
    }

    async fn serve_on(
        listener: tokio::net::TcpListener,
        cfg: Config,
        clock: Clock,
        dir: TempDir,
    ) -> TestServer {
        let addr = listener.local_addr().expect("addr");
        let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string();
        let env = move |k: &str| match k {
            "TOLLGATE_MASTER_KEY" => Some(master.clone()),
            SCIM_TOKEN_ENV => Some(SCIM_TOKEN.to_string()),
            METRICS_TOKEN_ENV => Some(METRICS_TOKEN.to_string()),
            DIRECTORY_PASSWORD_ENV => Some(DIRECTORY_PASSWORD.to_string()),
            _ => None,
        };
        let app = tollgate_authz::server::start(cfg.clone(), clock.clone(), &env)
            .await
            .expect("server start");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        let handle = tokio::spawn(async move {
            tollgate_authz::server::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            base: format!("http://{addr}"),
            app,
            stop: Some(tx),
            handle: Some(handle),
            _dir: dir,
            config: cfg,
            clock,
        }
    }

    /// Stops the server but keeps its database, for [`StoppedServer::restart`].
    pub async fn stop_keeping_data(mut self) -> StoppedServer {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.app.store.close().await;
        let dir = std::mem::replace(&mut self._dir, TempDir(std::path::PathBuf::new()));
        StoppedServer {
            dir,
            config: self.config.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Another replica of this server: the same configuration (issuer,
    /// database, keys, shared state) on a port of its own, as a second
    /// machine behind the load balancer would run it.
    pub async fn replica(&self) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut cfg = self.config.clone();
        cfg.listen = listener.local_addr().expect("addr").to_string();
        Self::serve_on(listener, cfg, self.clock.clone(), temp_dir()).await
    }

    /// Registers a confidential client with [`SECRET`].
    pub async fn add_client(
        &self,
        id: &str,
        f: impl FnOnce(&mut tollgate_authz::config::ClientConfig),
    ) -> Arc<ClientRow> {
        let mut c: tollgate_authz::config::ClientConfig = serde_json::from_value(
            serde_json::json!({"id": id, "redirect_uris": [format!("https://{id}.example/cb")]}),
        )
        .expect("client config");
        c.post_logout_redirect_uris = vec![format!("https://{id}.example/bye")];
        f(&mut c);
        let public = c.token_endpoint_auth_method.as_deref() == Some("none");
        let has_secret = !public && c.jwks.is_none();
        let settings =
            ClientSettings::from_config(&c, tollgate_authz::keys::Alg::ES256, has_secret)
                .expect("client settings");
        let row = ClientRow {
            id: id.into(),
            secret_hash: has_secret.then(|| hash_secret(SECRET)),
            settings,
            source: "cli".into(),
        };
        self.app
            .store
            .insert_client(&row, self.app.now())
            .await
            .expect("insert client");
        Arc::new(row)
    }

    /// Creates a user with [`PASSWORD`]; returns the subject id.
    pub async fn add_user(&self, login: &str, groups: &[&str]) -> String {
        let hash =
            tollgate_authz::login::password::hash(&tollgate_authz::secret::Secret::new(PASSWORD))
                .expect("hash");
        let ids = self
            .app
            .store
            .insert_users(
                &[NewUser {
                    login: login.into(),
                    display_name: format!("{login} Example"),
                    email: Some(format!("{login}@example.com")),
                    upn: Some(format!("{login}@corp.example")),
                    groups: groups.iter().map(|g| g.to_string()).collect(),
                    password_hash: Some(hash),
                }],
                self.app.now(),
            )
            .await
            .expect("insert user");
        ids.into_iter().next().expect("id")
    }

    /// The database URL the server uses (for the CLI and direct edits).
    pub fn config_database_url(&self) -> String {
        self.config.database.url.clone()
    }

    /// The subject id of the user `login`.
    pub async fn user_id(&self, login: &str) -> String {
        self.app
            .store
            .user_by_login(login)
            .await
            .expect("user lookup")
            .expect("user exists")
            .id
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl StoppedServer {
    /// Starts the server again with a changed config (same address,
    /// database and clock).
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        tweak(&mut self.config);
        self.restart().await
    }

    /// Starts the server again on the same address, database and clock.
    pub async fn restart(self) -> TestServer {
        let listener = tokio::net::TcpListener::bind(&self.config.listen)
            .await
            .expect("rebind the same address");
        TestServer::serve_on(listener, self.config, self.clock, self.dir).await
    }
}

/// A browser-like HTTP client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Extracts `name="csrf" value="..."` from a login page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("csrf field in page");
    html[start..].split('"').next().unwrap_or("").to_string()
}

/// Follows the login: GET the authorization URL, submit username and
/// password on the login page, and return the final redirect `Location`.
pub async fn login(
    browser: &reqwest::Client,
    base: &str,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> String {
    let r = browser.get(authorize_url).send().await.expect("authorize");
    assert_eq!(
        r.status(),
        303,
        "authorize should redirect: {:?}",
        r.text().await
    );
    let loc = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    if !loc.starts_with("/login/") {
        return loc;
    }
    let page = browser
        .get(format!("{base}{loc}"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    let csrf = csrf_of(&page);
    let r = browser
        .post(format!("{base}{loc}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .expect("submit");
    assert_eq!(
        r.status(),
        303,
        "login should redirect: {:?}",
        r.text().await
    );
    r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// GETs `url` and returns the body as text.
pub async fn get_text(browser: &reqwest::Client, url: &str) -> String {
    browser
        .get(url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body text")
}

/// The page a sign-in ends on when the user's factors cannot reach its
/// level (`loc` is where the login sent the browser): its status must be
/// 403; returns the page's text and the "Back to the application" URL (the
/// client's redirect URI with `error=unmet_authentication_requirements`).
pub async fn unmet_page(browser: &reqwest::Client, base: &str, loc: &str) -> (String, String) {
    assert!(loc.starts_with("/login/"), "the issuer's own page: {loc}");
    let r = browser
        .get(format!("{base}{loc}"))
        .send()
        .await
        .expect("unmet page");
    assert_eq!(r.status(), 403, "an unmet level is explained on a page");
    let html = r.text().await.expect("html");
    let back = html
        .split("id=\"back-to-app\"")
        .next()
        .and_then(|head| head.rsplit("href=\"").next())
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("a way back to the application: {html}"))
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=");
    (html, back)
}

/// The CSRF token of the `/account` page for this browser's session (the
/// token is bound to the session cookie, so it changes when the cookie is
/// rotated at a step-up).
pub async fn account_csrf(browser: &reqwest::Client, base: &str) -> String {
    csrf_of(&get_text(browser, &format!("{base}/account")).await)
}

/// A state-changing `/account/devices` call (`path` under `base`) as the
/// account page's script makes it: with the page's CSRF token in
/// `x-csrf-token`.
pub async fn account_post(browser: &reqwest::Client, base: &str, path: &str) -> reqwest::Response {
    let csrf = account_csrf(browser, base).await;
    browser
        .post(format!("{base}{path}"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .expect("account post")
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where the test geo databases put an address: (network, country, ASN,
/// organisation, latitude, longitude). Documentation ranges (RFC 5737), so
/// no real address is ever located.
pub const GEO_NETWORKS: [(&str, &str, u32, &str, f64, f64); 3] = [
    ("198.51.100.0", "DE", 64500, "Example Telekom", 52.52, 13.40),
    (
        "203.0.113.0",
        "CN",
        64501,
        "Example Backbone",
        39.90,
        116.40,
    ),
    ("192.0.2.0", "US", 64502, "Example Cable", 40.71, -74.01),
];

/// Writes GeoLite2-City and -ASN schema databases for [`GEO_NETWORKS`]
/// (each a /24) into `dir`; returns (city, asn) paths.
pub fn write_geo(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use tollgate_risk::geo::mmdb_writer::{MmdbValue, MmdbWriter};
    let mut city = MmdbWriter::new("GeoLite2-City", "Tollgate test City database");
    let mut asn = MmdbWriter::new("GeoLite2-ASN", "Tollgate test ASN database");
    for (net, cc, number, org, lat, lon) in GEO_NETWORKS {
        let ip: std::net::IpAddr = net.parse().expect("network");
        let rec = MmdbValue::map([
            (
                "country",
                MmdbValue::map([("iso_code", MmdbValue::Str(cc.into()))]),
            ),
            (
                "location",
                MmdbValue::map([
                    ("accuracy_radius", MmdbValue::U16(20)),
                    ("latitude", MmdbValue::F64(lat)),
                    ("longitude", MmdbValue::F64(lon)),
                ]),
            ),
        ]);
        city.insert(ip, 24, &rec).expect("city record");
        let rec = MmdbValue::map([
            ("autonomous_system_number", MmdbValue::U32(number)),
            ("autonomous_system_organization", MmdbValue::Str(org.into())),
        ]);
        asn.insert(ip, 24, &rec).expect("asn record");
    }
    let (c, a) = (dir.join("city.mmdb"), dir.join("asn.mmdb"));
    std::fs::write(&c, city.to_bytes(1_767_225_600)).expect("write city db");
    std::fs::write(&a, asn.to_bytes(1_767_225_600)).expect("write asn db");
    (c, a)
}

/// The stdout of a `tollgate` command that must have succeeded (else the
/// test fails with its stdout and stderr).
pub fn succeeded(out: std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The `tollgate` binary, built once per test process. Cargo hands
/// `CARGO_BIN_EXE_*` only to a package's own tests, so this runs `cargo
/// build -p tollgate-authz --bin tollgate` into the same target directory
/// (quick when `cargo test --workspace` already compiled the library).
pub fn tollgate_bin() -> std::path::PathBuf {
    workspace_bin("tollgate-authz", "tollgate")
}

/// A binary of this workspace, built on first use (see [`tollgate_bin`]).
pub fn workspace_bin(package: &str, bin: &str) -> std::path::PathBuf {
    use std::path::Path;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<std::collections::HashMap<String, std::path::PathBuf>>> =
        OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(bin) {
        return p.clone();
    }
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/e2e-HASH
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-q", "-p", package, "--bin", bin])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building {bin} failed");
    let path = profile_dir.join(bin);
    assert!(path.exists(), "{} missing after build", path.display());
    built.insert(bin.to_owned(), path.clone());
    path
}

/// `tests/support/allow-all.yaml`: a policy that never steps up on risk,
/// for tests about something else.
pub fn allow_all_policy() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/allow-all.yaml")
}

/// Whether the program at `path` is installed. A missing one is a loud
/// skip (the caller returns), and under `CI=true` a failure.
pub fn have_tool(path: &str, what: &str) -> bool {
    if std::path::Path::new(path).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required under CI=true but {path} is not installed");
    }
    eprintln!("\n*** SKIPPED {what} test: {path} is not installed ***\n");
    false
}
