//! Replicas as processes behind a real nginx (issue 16): three `tollgate
//! serve` processes on one PostgreSQL database and one Redis, nginx from
//! Debian in front with round robin. Under a steady token load, a rolling
//! restart (SIGTERM, drain, start again, one replica at a time) fails no
//! request, and `kill -9` of a replica fails at most the requests that
//! were in flight on it; afterwards every request succeeds again. Under
//! a sign-in load across the kill, no grant or session is lost (every
//! completed sign-in's refresh token still works) or duplicated (at most
//! one orphan per sign-in cut off by the kill, one code per grant).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tollgate::{
    PASSWORD, SECRET, TempDir, allow_all_policy, browser, csrf_of, have_tool, param, postgres_db,
    redis_url, temp_dir,
};

use crate::agent::tollgate_bin;
use crate::authenticators::{CHALLENGE, VERIFIER};
use crate::tls_front::NGINX;

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Requests in flight at any time.
const CLIENTS: usize = 8;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One `tollgate serve` process on `port`.
struct Replica {
    child: Child,
    port: u16,
}

fn spawn_replica(config: &Path, port: u16, log: &Path) -> Replica {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new(tollgate_bin())
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TOLLGATE_MASTER_KEY", MASTER_KEY)
        .env("TOLLGATE_E2E_SVC_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn tollgate serve");
    Replica { child, port }
}

impl Replica {
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica on {} never ready",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig}");
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx on a free port, round robin over `ports`, configured as
/// docs/operations.md says: a request whose connection to a replica fails
/// is passed to the next one, POST included (`non_idempotent`): a replica
/// that stops closes its listening socket, and connections still in its
/// accept queue are reset unread.
struct Balancer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Balancer {
    fn start(ports: &[u16]) -> Balancer {
        let dir = temp_dir();
        let port = free_port();
        let servers: String = ports
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p} max_fails=0;\n"))
            .collect();
        let d = dir.0.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               upstream tollgate {{\n{servers}  }}\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 proxy_pass http://tollgate;\n      proxy_next_upstream error timeout non_idempotent;\n\
                 proxy_next_upstream_tries 3;\n      proxy_connect_timeout 1s;\n\
                 proxy_set_header X-Forwarded-For $remote_addr;\n    }}\n  }}\n}}\n"
        );
        let path = dir.0.join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        let child = Command::new(NGINX)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Balancer {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the load saw: (successes, failures with their statuses).
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: std::sync::Mutex<Vec<String>>,
}

/// `CLIENTS` loops of client_credentials through the balancer until
/// `stop` is set.
fn load(url: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|_| {
            let (url, stop, tally) = (url.clone(), stop.clone(), tally.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::SeqCst) {
                    let r = http
                        .post(format!("{url}/token"))
                        .basic_auth("svc", Some(SECRET))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            tally.ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => tally
                            .failed
                            .lock()
                            .expect("tally")
                            .push(r.status().to_string()),
                        Err(e) => tally.failed.lock().expect("tally").push(e.to_string()),
                    }
                }
            })
        })
        .collect()
}

const REDIRECT: &str = "https://rp.example/cb";
/// Browsers signing in at the same time, one user each.
const BROWSERS: usize = 4;

/// One whole sign-in through the balancer (authorize, the password form,
/// the code at `/token`); the refresh token it ended with, or where it
/// stopped. Never panics: around a `kill -9` a step may fail.
async fn sign_in(url: &str, login: &str) -> Result<String, String> {
    let http = browser();
    let authorize = format!(
        "{url}/authorize?client_id=web&response_type=code&scope=openid&state=s\
         &redirect_uri={REDIRECT}&code_challenge={CHALLENGE}&code_challenge_method=S256"
    );
    let step = |what: &'static str| move |e: reqwest::Error| format!("{what}: {e}");
    let r = http
        .get(&authorize)
        .send()
        .await
        .map_err(step("authorize"))?;
    let page = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with("/login/"))
        .ok_or_else(|| format!("authorize: {}", r.status()))?
        .to_string();
    let html = http
        .get(format!("{url}{page}"))
        .send()
        .await
        .map_err(step("login page"))?
        .text()
        .await
        .map_err(step("login page"))?;
    if !html.contains("name=\"csrf\"") {
        return Err("login page without a form".into());
    }
    let form = [
        ("csrf", csrf_of(&html)),
        ("username", login.to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let r = http
        .post(format!("{url}{page}"))
        .form(&form)
        .send()
        .await
        .map_err(step("password"))?;
    let back = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = param(&back, "code").ok_or_else(|| format!("password: {} {back}", r.status()))?;
    let r = http
        .post(format!("{url}/token"))
        .basic_auth("web", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .map_err(step("token"))?;
    if r.status() != 200 {
        return Err(format!("token: {}", r.status()));
    }
    let tokens: serde_json::Value = r.json().await.map_err(step("token"))?;
    tokens["refresh_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "token: no refresh token".into())
}

/// What the sign-in load saw: the refresh tokens of completed sign-ins,
/// and the sign-ins that failed (with the step).
#[derive(Default)]
struct SignIns {
    done: std::sync::Mutex<Vec<String>>,
    failed: std::sync::Mutex<Vec<String>>,
}

fn sign_in_load(
    url: String,
    stop: Arc<AtomicBool>,
    seen: Arc<SignIns>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..BROWSERS)
        .map(|i| {
            let (url, stop, seen) = (url.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match sign_in(&url, &format!("user{i}")).await {
                        Ok(rt) => seen.done.lock().expect("sign-ins").push(rt),
                        Err(e) => seen.failed.lock().expect("sign-ins").push(e),
                    }
                }
            })
        })
        .collect()
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .expect(sql)
        .try_get::<i64, _>(0)
        .expect("count")
}

fn config(dir: &Path, db: &str, redis: &str, issuer: &str) -> PathBuf {
    // Risk is not what this test is about: the sign-in load must not be
    // stepped up for signing in often from one address.
    let policy = allow_all_policy();
    let text = format!(
        "version = 1\nissuer = \"{issuer}\"\n\n[database]\nurl = \"{db}\"\n\n\
         [http]\nshutdown_grace = 5\ntrusted_proxies = [\"127.0.0.1\"]\n\n\
         [state]\nredis = \"{redis}\"\n\n\
         [policy]\nfiles = [\"{}\"]\n\n\
         [[clients]]\nid = \"svc\"\nsecret_env = \"TOLLGATE_E2E_SVC_SECRET\"\n\
         grant_types = [\"client_credentials\"]\nredirect_uris = []\n\n\
         [[clients]]\nid = \"web\"\nsecret_env = \"TOLLGATE_E2E_SVC_SECRET\"\n\
         redirect_uris = [\"{REDIRECT}\"]\n",
        policy.display()
    );
    let path = dir.join("tollgate.toml");
    std::fs::write(&path, text).expect("config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_fails_nothing_and_kill_9_fails_only_what_was_in_flight() {
    if !have_tool(NGINX, "nginx") {
        return;
    }
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(db) = postgres_db().await else {
        return;
    };
    let _ = tollgate_bin();
    let dir = temp_dir();
    let ports = [free_port(), free_port(), free_port()];
    let balancer = Balancer::start(&ports);
    let url = format!("http://127.0.0.1:{}", balancer.port);
    let cfg = config(&dir.0, &db, &redis, &url);
    let log = |i: usize| dir.0.join(format!("replica{i}.log"));
    // The first start migrates the database; the others join it.
    let mut reps = vec![spawn_replica(&cfg, ports[0], &log(0))];
    reps[0].ready().await;
    for i in 0..BROWSERS {
        add_user(&cfg, &format!("user{i}"));
    }
    for (i, p) in ports.iter().enumerate().skip(1) {
        reps.push(spawn_replica(&cfg, *p, &log(i)));
    }
    for r in &reps {
        r.ready().await;
    }

    // Rolling restart under load: no request fails.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers = load(url.clone(), stop.clone(), tally.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..reps.len() {
        reps[i].signal("-TERM");
        let status = tokio::task::block_in_place(|| reps[i].wait());
        assert!(status.success(), "replica {i} exited with {status}");
        reps[i] = spawn_replica(&cfg, ports[i], &log(i));
        reps[i].ready().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("load task");
    }
    let rolled = tally.ok.load(Ordering::SeqCst);
    let failed = tally.failed.lock().expect("tally").clone();
    eprintln!(
        "rolling restart: {rolled} tokens issued, {} failed",
        failed.len()
    );
    assert!(rolled > 100, "too little load to mean anything: {rolled}");
    assert!(
        failed.is_empty(),
        "the rolling restart failed requests: {failed:?}"
    );

    // kill -9 under load: at most the requests in flight on it fail.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers = load(url.clone(), stop.clone(), tally.clone());
    let seen = Arc::new(SignIns::default());
    let browsers = sign_in_load(url.clone(), stop.clone(), seen.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    reps[1].signal("-KILL");
    let _ = tokio::task::block_in_place(|| reps[1].wait());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failed_by_kill = tally.failed.lock().expect("tally").len();
    let ok_before = tally.ok.load(Ordering::SeqCst);
    // ... and afterwards nothing fails on the two that are left.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers.into_iter().chain(browsers) {
        w.await.expect("load task");
    }
    let failed = tally.failed.lock().expect("tally").clone();
    eprintln!(
        "kill -9: {} tokens issued, {} failed ({failed_by_kill} around the kill)",
        tally.ok.load(Ordering::SeqCst),
        failed.len()
    );
    assert!(failed_by_kill <= CLIENTS, "{failed:?}");
    assert_eq!(
        failed.len(),
        failed_by_kill,
        "requests failed after the kill: {failed:?}"
    );
    assert!(
        tally.ok.load(Ordering::SeqCst) > ok_before,
        "no load after the kill"
    );

    // Sign-ins across the kill: each completed one kept its grant (its
    // refresh token still works, once), and nothing was written twice.
    let done = seen.done.lock().expect("sign-ins").clone();
    let cut = seen.failed.lock().expect("sign-ins").clone();
    eprintln!(
        "kill -9: {} sign-ins completed, {} cut off: {cut:?}",
        done.len(),
        cut.len()
    );
    assert!(
        done.len() >= 2 * BROWSERS,
        "too few sign-ins: {}",
        done.len()
    );
    assert!(
        cut.len() <= BROWSERS,
        "more sign-ins failed than were in flight: {cut:?}"
    );
    let http = reqwest::Client::new();
    for rt in &done {
        let r = http
            .post(format!("{url}/token"))
            .basic_auth("web", Some(SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
            .await
            .expect("refresh");
        assert_eq!(r.status(), 200, "a completed sign-in's grant was lost");
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.expect("database");
    let done_n = done.len() as i64;
    let orphans = cut.len() as i64;
    let grants = count(&pool, "SELECT COUNT(*) FROM grants WHERE client_id = 'web'").await;
    let exchanged = count(
        &pool,
        "SELECT COUNT(*) FROM auth_codes WHERE client_id = 'web' AND consumed_at IS NOT NULL",
    )
    .await;
    let two_codes = count(
        &pool,
        "SELECT COUNT(*) FROM (SELECT grant_id FROM auth_codes GROUP BY grant_id HAVING COUNT(*) > 1) t",
    )
    .await;
    let sessions = count(
        &pool,
        "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.login LIKE 'user%'",
    )
    .await;
    pool.close().await;
    eprintln!("kill -9: {grants} grants, {exchanged} codes exchanged, {sessions} sessions");
    assert!(
        (done_n..=done_n + orphans).contains(&grants),
        "grants {grants} for {done_n} completed and {orphans} cut-off sign-ins"
    );
    assert!(
        (done_n..=done_n + orphans).contains(&exchanged),
        "codes exchanged {exchanged} for {done_n} completed sign-ins"
    );
    assert_eq!(two_codes, 0, "a grant with two codes");
    assert!(
        (done_n..=done_n + orphans).contains(&sessions),
        "sessions {sessions} for {done_n} completed and {orphans} cut-off sign-ins"
    );
}

/// `tollgate users add LOGIN --password-stdin` against the shared database.
fn add_user(config: &Path, login: &str) {
    use std::io::Write;
    let mut child = Command::new(tollgate_bin())
        .args(["users", "add", login, "--password-stdin", "--config"])
        .arg(config)
        .env("TOLLGATE_MASTER_KEY", MASTER_KEY)
        .env("TOLLGATE_E2E_SVC_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("tollgate users add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(PASSWORD.as_bytes())
        .expect("password");
    assert!(
        child.wait().expect("users add").success(),
        "users add {login}"
    );
}
