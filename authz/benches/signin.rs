//! End-to-end interactive sign-ins per second against a real `tollgate
//! serve` (release build), next to argon2id's own rate at the same cost.
//!
//! ```text
//! cargo build --release -p tollgate-authz --bin tollgate
//! cargo bench -p tollgate-authz --bench signin            # both kinds, 10 s each
//! SECS=20 CONC=32 KIND=passkey cargo bench -p tollgate-authz --bench signin
//! DATABASE=postgres://postgres@127.0.0.1/bench cargo bench -p tollgate-authz --bench signin
//! POOL=4 BIN=/path/to/tollgate cargo bench -p tollgate-authz --bench signin  # another pool, binary
//! TOLLGATE_LOG=sqlx::query=debug KIND=passkey CONC=1 SECS=2 cargo bench …   # every statement
//! ```
//!
//! One sign-in is what a browser and a relying party do: `GET /authorize`
//! (PKCE S256) → `GET /login/{id}` → the factor (`POST` the password form,
//! or the passkey options + the assertion from the software authenticator)
//! → the redirect with the code → `POST /token` (ID, access and refresh
//! token). Every sign-in is scored by the shipped default policy and
//! audited, exactly as in production; each simulated browser has its own
//! user, cookie jar and address (`X-Forwarded-For` from a trusted proxy),
//! so neither the per-IP POST limit nor the risk scorer sees one address
//! signing in thousands of users. The load generator runs on the same
//! cores as the server, so its own cost (HTTP client, the passkey's ECDSA
//! signature) is inside the numbers.
//!
//! The argon2 line verifies the server's parameters (m = 19 MiB, t = 2,
//! p = 1) on as many threads as there are cores, before and after the
//! password run: the ceiling for password sign-ins on this machine,
//! whatever the rest of the flow costs. Run it as `cargo bench` builds it
//! (the bench profile): a debug build of this load generator takes more
//! of the cores the server shares.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use tollgate_authz::login::attestation::AttestationPolicy;
use tollgate_authz::login::passkey::{finish_registration, relying_party, start_registration};
use tollgate_authz::login::soft_passkey::SoftPasskey;
use tollgate_authz::secret::{Secret, sha256};
use tollgate_authz::store::Store;

const SECRET: &str = "bench-client-secret-0123456789abcdef";
const REDIRECT: &str = "https://rp.example/cb";
const VERIFIER: &str = "bench-verifier-0123456789-0123456789-0123456789";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let secs: u64 = env_or("SECS", 10);
    let conc: usize = env_or("CONC", 16);
    let kind = std::env::var("KIND").unwrap_or_else(|_| "both".into());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("machine: {cores} cores, load average {}", loadavg());
    // The ceiling on as many threads as cores (`ARGON2_THREADS` to see
    // what more checks than cores at once cost), measured before and after
    // the password run: the machine's speed drifts, the mean is the ceiling.
    let threads: usize = env_or("ARGON2_THREADS", cores);
    let argon_for = || argon2_rate(threads, Duration::from_secs(secs.min(5)));
    let argon = argon_for();
    println!(
        "argon2id verify (m=19 MiB, t=2, p=1, {threads} threads, RustCrypto argon2): {argon:.1}/s"
    );
    let server = Arc::new(Server::start(conc));
    rt.block_on(async {
        let (password_users, passkey_users) = server.users(conc).await;
        if kind == "both" || kind == "password" {
            let r = run(&server, &password_users, Kind::Password, secs).await;
            let after = argon_for();
            println!("argon2id verify after the password run: {after:.1}/s");
            r.print("password sign-in", Some((argon + after) / 2.0));
        }
        if kind == "both" || kind == "passkey" {
            let r = run(&server, &passkey_users, Kind::Passkey, secs).await;
            r.print("passkey sign-in", None);
        }
    });
    println!("server peak RSS: {}", server.peak_rss());
}

/// CPU seconds (user + system) process `pid` (or `self`) has used so far.
fn process_cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    // Fields 14 and 15 (utime, stime) in clock ticks, after the `(comm)`.
    stat.and_then(|s| {
        let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
        let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    })
    .unwrap_or(0.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Verifications per second of the server's argon2id parameters, one
/// verifier per thread, for `dur`. Each thread keeps its working memory
/// from check to check, as the server does (`login/password.rs`), which is
/// the fastest the library goes (a few per cent faster than allocating
/// 19 MiB per check): the ceiling is argon2's best, not a slower baseline.
fn argon2_rate(threads: usize, dur: Duration) -> f64 {
    let phc = tollgate_authz::login::password::hash(&Secret::new("correct horse battery"))
        .expect("argon2 hash");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done, phc) = (stop.clone(), done.clone(), phc.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("PHC string");
                let params = Params::try_from(&parsed).expect("argon2 parameters");
                let mut salt = [0u8; 64];
                let salt = parsed
                    .salt
                    .expect("salt")
                    .decode_b64(&mut salt)
                    .expect("salt base64");
                let expected = parsed.hash.expect("hash output");
                let mut memory = vec![Block::default(); params.block_count()];
                let mut out = vec![0u8; expected.len()];
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                while !stop.load(Ordering::Relaxed) {
                    argon
                        .hash_password_into_with_memory(
                            b"wrong horse battery",
                            salt,
                            &mut out,
                            &mut memory,
                        )
                        .expect("argon2 check");
                    assert_ne!(out, expected.as_bytes(), "a wrong password verified");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("argon2 thread");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Password,
    Passkey,
}

struct BenchUser {
    /// `bench{i}` has a password only; `benchpk{i}` also a passkey (a
    /// user with a passkey is asked for it, as the default policy says).
    login: String,
    password: String,
    passkey: tokio::sync::Mutex<SoftPasskey>,
    /// The address this browser signs in from (via the trusted proxy).
    ip: String,
}

/// `tollgate serve` on a throw-away config, its data in a temp dir.
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    config: PathBuf,
    issuer: String,
    base: String,
    database: String,
    child: std::sync::Mutex<Option<Child>>,
}

impl Server {
    fn start(conc: usize) -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bin = std::env::var("BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target/release/tollgate"));
        assert!(
            bin.exists(),
            "{} is missing: cargo build --release -p tollgate-authz --bin tollgate",
            bin.display()
        );
        let dir =
            std::env::temp_dir().join(format!("tollgate-signin-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let database = std::env::var("DATABASE")
            .unwrap_or_else(|_| format!("sqlite://{}/tollgate.db", dir.display()));
        // WebAuthn needs a domain for the RP id: the issuer names localhost,
        // requests go to 127.0.0.1.
        let issuer = format!("http://localhost:{port}");
        let config = dir.join("tollgate.toml");
        let policy = root.join("policies/default.yaml");
        std::fs::write(
            &config,
            format!(
                r#"version = 1
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
[database]
url = "{database}"
max_connections = {pool}
[http]
trusted_proxies = ["127.0.0.1"]
# Each browser comes from one address; at 1,000 sign-ins a second 16 of
# them would pass the per-address limit (600 sign-in POSTs a minute) in
# 10 s and measure 429s. A real load has many addresses; the limit itself
# is tested in tests/e2e.
[login]
posts_per_ip_per_minute = 0
[policy]
files = ["{policy}"]
[[clients]]
id = "rp"
secret_env = "BENCH_RP_SECRET"
redirect_uris = ["{REDIRECT}"]
"#,
                // `POOL=4`: another `[database] max_connections`.
                pool = env_or("POOL", (conc / 2).clamp(4, 16)),
                policy = policy.display()
            ),
        )
        .expect("write config");
        let server = Server {
            bin,
            dir,
            config,
            issuer,
            base: format!("http://127.0.0.1:{port}"),
            database,
            child: std::sync::Mutex::new(None),
        };
        let cfg = server.config.display().to_string();
        server.cli(&["check-config", &cfg], None);
        server
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("BENCH_RP_SECRET", SECRET)
            .env(
                "TOLLGATE_MASTER_KEY",
                base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            )
            // `TOLLGATE_LOG=sqlx::query=debug` traces what one sign-in asks of
            // the store.
            .env(
                "TOLLGATE_LOG",
                std::env::var("TOLLGATE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .current_dir(&self.dir);
        c
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) {
        use std::io::Write;
        let mut c = self.command();
        c.args(args).stdin(Stdio::piped()).stdout(Stdio::null());
        let mut child = c.spawn().expect("run tollgate");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let status = child.wait().expect("tollgate exit");
        assert!(status.success(), "tollgate {args:?} failed");
    }

    /// Creates `n` users with a password each, registers a software
    /// passkey for each in the store (as the account page would), then
    /// starts the server.
    async fn users(&self, n: usize) -> (Vec<Arc<BenchUser>>, Vec<Arc<BenchUser>>) {
        let mut users = Vec::new();
        let rp = relying_party(&self.issuer, "Tollgate").expect("relying party");
        for i in 0..2 * n {
            let login = if i < n {
                format!("bench{i}")
            } else {
                format!("benchpk{i}")
            };
            let password = format!("bench password number {i} {}", std::process::id());
            let cfg = self.config.display().to_string();
            self.cli(
                &["users", "add", &login, "--password-stdin", "--config", &cfg],
                Some(&password),
            );
            users.push((login, password));
        }
        let store = Store::connect(&self.database, 2).await.expect("store");
        let mut out = Vec::new();
        for (i, (login, password)) in users.into_iter().enumerate() {
            let user = store
                .user_by_login(&login)
                .await
                .expect("store")
                .expect("user just added");
            let (opts, state) =
                start_registration(&rp, &user.id, &login, &login, &[], false).expect("options");
            let (pk, resp) = SoftPasskey::register(&opts, &self.issuer, false).expect("register");
            let row = finish_registration(
                &rp,
                &state,
                &resp,
                &user.id,
                "Bench key",
                &AttestationPolicy::default(),
                0,
            )
            .expect("registration");
            if i >= n {
                store.insert_passkey(&row).await.expect("store passkey");
            }
            out.push(Arc::new(BenchUser {
                login,
                password,
                passkey: tokio::sync::Mutex::new(pk),
                ip: format!("10.{}.{}.{}", 20 + i / 65536, (i / 256) % 256, i % 256 + 1),
            }));
        }
        store.close().await;
        let child = self
            .command()
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tollgate serve");
        *self.child.lock().unwrap() = Some(child);
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                let passkey_users = out.split_off(n);
                return (out, passkey_users);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("tollgate serve did not answer /healthz");
    }

    /// CPU seconds (user + system) the server process has used so far.
    fn cpu_secs(&self) -> f64 {
        let pid = self.child.lock().unwrap().as_ref().map(Child::id);
        pid.map_or(0.0, |p| process_cpu_secs(&p.to_string()))
    }

    fn peak_rss(&self) -> String {
        let pid = self.child.lock().unwrap().as_ref().map(Child::id);
        pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
            })
            .unwrap_or_else(|| "?".into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A browser's cookies, kept by hand so one HTTP client (and its
/// keep-alive connections, as behind a reverse proxy) serves every browser.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let Some(pair) = v.to_str().ok().and_then(|s| s.split(';').next()) else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.trim().to_string(), value.to_string()));
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Browser<'a> {
    http: &'a reqwest::Client,
    jar: Jar,
    ip: &'a str,
}

impl Browser<'_> {
    fn req(&self, m: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .request(m, url)
            .header("user-agent", UA)
            .header("x-forwarded-for", self.ip);
        if !self.jar.0.is_empty() {
            b = b.header("cookie", self.jar.header());
        }
        b
    }
    async fn send(&mut self, b: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
        let r = b.send().await.map_err(|e| format!("transport: {e}"))?;
        self.jar.take(&r);
        Ok(r)
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    s[i..].split(end).next()
}

/// One complete sign-in; `Err` says where it stopped.
async fn sign_in(
    http: &reqwest::Client,
    server: &Server,
    user: &BenchUser,
    kind: Kind,
) -> Result<(), String> {
    let base = &server.base;
    let mut b = Browser {
        http,
        jar: Jar::default(),
        ip: &user.ip,
    };
    let challenge = B64.encode(sha256(VERIFIER.as_bytes()));
    let url = format!(
        "{base}/authorize?client_id=rp&response_type=code&scope=openid&state=s&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        url_encode(REDIRECT)
    );
    let r = b.send(b.req(reqwest::Method::GET, &url)).await?;
    let path = location(&r);
    if !path.starts_with("/login/") {
        return Err(format!("authorize: {} {path}", r.status()));
    }
    let r = b
        .send(b.req(reqwest::Method::GET, &format!("{base}{path}")))
        .await?;
    let html = r.text().await.map_err(|e| e.to_string())?;
    let redirect = match kind {
        Kind::Password => {
            let csrf = between(&html, "name=\"csrf\" value=\"", "\"").ok_or("no csrf field")?;
            let form = [
                ("csrf", csrf),
                ("username", user.login.as_str()),
                ("password", user.password.as_str()),
            ];
            let r = b
                .send(
                    b.req(reqwest::Method::POST, &format!("{base}{path}"))
                        .form(&form),
                )
                .await?;
            if r.status() != 303 {
                return Err(format!("password: {}", r.status()));
            }
            location(&r)
        }
        Kind::Passkey => {
            let csrf = between(&html, "data-csrf=\"", "\"").ok_or("no passkey button")?;
            let r = b
                .send(
                    b.req(
                        reqwest::Method::POST,
                        &format!("{base}{path}/passkey/options"),
                    )
                    .json(&json!({"csrf": csrf})),
                )
                .await?;
            if r.status() != 200 {
                return Err(format!("passkey options: {}", r.status()));
            }
            let start: Value = r.json().await.map_err(|e| e.to_string())?;
            let answer = user
                .passkey
                .lock()
                .await
                .assert(&start["options"].to_string(), &server.issuer)?;
            let response: Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
            let body = json!({"csrf": csrf, "ceremony": start["ceremony"], "response": response});
            let r = b
                .send(
                    b.req(reqwest::Method::POST, &format!("{base}{path}/passkey"))
                        .json(&body),
                )
                .await?;
            if r.status() != 200 {
                return Err(format!("passkey: {}", r.status()));
            }
            let done: Value = r.json().await.map_err(|e| e.to_string())?;
            done["redirect"].as_str().unwrap_or_default().to_string()
        }
    };
    let code = between(&redirect, "code=", "&")
        .filter(|_| redirect.starts_with(REDIRECT))
        .ok_or_else(|| format!("no code: {redirect}"))?
        .to_string();
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("token: {}", r.status()));
    }
    let tokens: Value = r.json().await.map_err(|e| e.to_string())?;
    if tokens["id_token"].as_str().is_none() || tokens["refresh_token"].as_str().is_none() {
        return Err("token: no id_token or refresh_token".into());
    }
    Ok(())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Report {
    ok: usize,
    failed: Vec<String>,
    latencies_ms: Vec<f64>,
    secs: f64,
    /// CPU seconds the server used during the run.
    server_cpu: f64,
    /// CPU seconds the load generator (this process) used during the run:
    /// what the same cores could not give the server.
    client_cpu: f64,
    load: String,
}

impl Report {
    fn print(&self, what: &str, ceiling: Option<f64>) {
        let mut l = self.latencies_ms.clone();
        l.sort_by(f64::total_cmp);
        let pct = |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)));
        let rate = self.ok as f64 / self.secs;
        let vs = ceiling.map_or(String::new(), |c| {
            format!(", {:.0} % of the argon2 rate", 100.0 * rate / c)
        });
        println!(
            "{what}: {rate:.1}/s{vs}  ({} ok, {} failed, server CPU {:.2} ms and load generator CPU {:.2} ms per sign-in, p50 {:.1} ms, p99 {:.1} ms, load average after {})",
            self.ok,
            self.failed.len(),
            1e3 * self.server_cpu / self.ok.max(1) as f64,
            1e3 * self.client_cpu / self.ok.max(1) as f64,
            pct(0.5).copied().unwrap_or(0.0),
            pct(0.99).copied().unwrap_or(0.0),
            self.load
        );
        let mut kinds: Vec<&String> = self.failed.iter().collect();
        kinds.sort();
        kinds.dedup();
        for k in kinds.iter().take(5) {
            println!("  failure: {k}");
        }
    }
}

/// Every user signs in again and again, one browser each, for `secs`.
async fn run(server: &Arc<Server>, users: &[Arc<BenchUser>], kind: Kind, secs: u64) -> Report {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(users.len())
        .build()
        .expect("http client");
    // Warm up: one sign-in each (first-login rules, connection pool).
    for u in users {
        if let Err(e) = sign_in(&http, server, u, kind).await {
            panic!("warm-up sign-in of {} failed: {e}", u.login);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let cpu_before = server.cpu_secs();
    let own_before = process_cpu_secs("self");
    let mut tasks = tokio::task::JoinSet::new();
    for u in users {
        let (http, u, server) = (http.clone(), u.clone(), server.clone());
        tasks.spawn(async move {
            let mut ok = 0;
            let mut failed = Vec::new();
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match sign_in(&http, &server, &u, kind).await {
                    Ok(()) => {
                        ok += 1;
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Err(e) => failed.push(e),
                }
            }
            (ok, failed, lat)
        });
    }
    let mut report = Report {
        ok: 0,
        failed: Vec::new(),
        latencies_ms: Vec::new(),
        secs: 0.0,
        server_cpu: 0.0,
        client_cpu: 0.0,
        load: String::new(),
    };
    while let Some(r) = tasks.join_next().await {
        let (ok, failed, lat) = r.expect("sign-in task");
        report.ok += ok;
        report.failed.extend(failed);
        report.latencies_ms.extend(lat);
    }
    report.secs = start.elapsed().as_secs_f64();
    report.server_cpu = server.cpu_secs() - cpu_before;
    report.client_cpu = process_cpu_secs("self") - own_before;
    report.load = loadavg();
    report
}
