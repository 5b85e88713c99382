//! Shared test helpers: temporary directories, external tools, swtpm.
#![cfg_attr(not(feature = "tpm"), allow(dead_code))]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).unwrap();
        let p = std::env::temp_dir().join(format!(
            "tollgate-agent-{tag}-{}-{}",
            std::process::id(),
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether `tool` is installed. When it is not, the test is skipped with a
/// loud message — except under `CI=true`, where a missing tool fails.
pub fn require_tool(tool: &str, package: &str, test: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    let msg = format!(
        "SKIPPED {test}: `{tool}` is not installed (Debian package `{package}`, listed in .ci/apt-packages)"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}; CI=true requires it");
    }
    // Straight to the process's stderr: the test harness captures
    // `eprintln!` of passing tests, and a skip must be seen.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!! {msg} !!!!!!!!\n");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A swtpm TPM 2.0 simulator on loopback, killed on drop.
pub struct Swtpm {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Swtpm {
    /// Starts a fresh swtpm (its own state directory), or `None` when swtpm
    /// is not installed (see [`require_tool`]).
    pub fn start(test: &str) -> Option<Self> {
        if !require_tool("swtpm", "swtpm", test) {
            return None;
        }
        let dir = TempDir::new("swtpm");
        for _ in 0..5 {
            // The swtpm TCTI talks to the control channel on port + 1.
            let port = free_port();
            let ctrl = port + 1;
            let child = Command::new("swtpm")
                .args(["socket", "--tpm2"])
                .args([
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                ])
                .args([
                    "--ctrl",
                    &format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"),
                ])
                .args(["--flags", "not-need-init,startup-clear"])
                .args(["--tpmstate", &format!("dir={}", dir.path().display())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn swtpm");
            let mut tpm = Swtpm {
                child,
                port,
                _dir: TempDir(PathBuf::new()),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    tpm._dir = dir;
                    return Some(tpm);
                }
                if let Ok(Some(_)) = tpm.child.try_wait() {
                    break; // port taken: try others
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("swtpm did not start");
    }

    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command, panicking with its stderr on failure.
pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
