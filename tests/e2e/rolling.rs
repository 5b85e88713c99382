//! Replicas as processes behind a real nginx (issue 16): three `tollgate
//! serve` processes on one PostgreSQL database and one Redis, nginx from
//! Debian in front with round robin. Under a steady token load, a rolling
//! restart (SIGTERM, drain, start again, one replica at a time) fails no
//! request, and `kill -9` of a replica fails at most the requests that
//! were in flight on it; afterwards every request succeeds again.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tollgate::{SECRET, TempDir, have_tool, postgres_db, redis_url, temp_dir};

use crate::agent::tollgate_bin;
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

fn config(dir: &Path, db: &str, redis: &str, issuer: &str) -> PathBuf {
    let text = format!(
        "version = 1\nissuer = \"{issuer}\"\n\n[database]\nurl = \"{db}\"\n\n\
         [http]\nshutdown_grace = 5\n\n[state]\nredis = \"{redis}\"\n\n\
         [[clients]]\nid = \"svc\"\nsecret_env = \"TOLLGATE_E2E_SVC_SECRET\"\n\
         grant_types = [\"client_credentials\"]\nredirect_uris = []\n"
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    reps[1].signal("-KILL");
    let _ = tokio::task::block_in_place(|| reps[1].wait());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failed_by_kill = tally.failed.lock().expect("tally").len();
    let ok_before = tally.ok.load(Ordering::SeqCst);
    // ... and afterwards nothing fails on the two that are left.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
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
}
