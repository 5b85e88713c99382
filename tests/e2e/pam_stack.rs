//! PAM mode through a real PAM stack (issue 14): `pamtester` runs a PAM
//! service whose auth stack is the documented `pam_exec.so expose_authtok
//! … tollgate-agent pam`, for a real unprivileged Unix user made with
//! `useradd`. Root enrolls the terminal (`enroll --system`, https with a
//! private CA); the user then tries what malware running as the user would
//! (an issuer of its own on loopback, a `--force` re-enrollment, a state of
//! its own, planted symlinks), and none of it makes PAM accept the user's
//! chosen PIN. The legitimate offline login works with the issuer stopped.
//!
//! Needs root (useradd, /etc/pam.d, the root-owned state): a loud skip
//! outside CI, a failure under `CI=true`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tollgate::{Db, TempDir, TestServer, browser, have_tool, temp_dir};

use crate::agent::{PIN, agent_bin, pin_line, text};
use crate::tls_front::TlsFront;

const ATTACKER_PIN: &str = "13579";

/// Root, or a loud skip (a failure under `CI=true`).
fn running_as_root() -> bool {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned))
        });
    if euid.as_deref() == Some("0") {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the PAM stack test needs root under CI=true (useradd, /etc/pam.d)");
    }
    eprintln!("\n*** SKIPPED PAM stack test: not running as root ***\n");
    false
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("output")
}

/// An unprivileged Unix user, removed on drop.
struct UnixUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl UnixUser {
    fn create() -> UnixUser {
        let suffix: String = tollgate_authz::secret::random_id(12)
            .chars()
            .filter(char::is_ascii_lowercase)
            .take(6)
            .collect();
        let name = format!("tgpam{suffix}");
        let out = run(
            Command::new("useradd").args([
                "-M",
                "-d",
                "/nonexistent",
                "-s",
                "/usr/sbin/nologin",
                &name,
            ]),
            b"",
        );
        assert!(out.status.success(), "useradd: {}", text(&out));
        let id = |flag: &str| -> u32 {
            let out = run(Command::new("id").args([flag, &name]), b"");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("numeric id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        assert_ne!(uid, 0);
        UnixUser { name, uid, gid }
    }

    /// The agent run as this user (what malware in the user's session can do).
    fn agent(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(
            Command::new("setpriv")
                .args(["--reuid", &self.uid.to_string()])
                .args(["--regid", &self.gid.to_string(), "--clear-groups", "--"])
                .arg(agent_bin())
                .args(args)
                .env_remove("TOLLGATE_AGENT_STATE_DIR")
                .env("USER", &self.name),
            stdin,
        )
    }
}

impl Drop for UnixUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// A PAM service in /etc/pam.d whose auth stack is the agent, as
/// docs/agent.md writes it (plus `log=` so a failing test can say why).
struct PamService {
    name: String,
    log: PathBuf,
    _dir: TempDir,
}

impl PamService {
    fn install() -> PamService {
        let dir = temp_dir();
        let log = dir.0.join("pam_exec.log");
        // Linux-PAM lowercases service names before it opens /etc/pam.d/.
        let name = format!(
            "tollgate-e2e-{}",
            tollgate_authz::secret::random_id(8)
                .to_ascii_lowercase()
                .replace(['-', '_'], "x")
        );
        let stack = format!(
            "auth required pam_exec.so quiet expose_authtok log={} {} pam\n\
             account required pam_permit.so\n",
            log.display(),
            agent_bin().display()
        );
        std::fs::write(Path::new("/etc/pam.d").join(&name), stack).expect("write pam service");
        PamService {
            name,
            log,
            _dir: dir,
        }
    }

    /// `pamtester SERVICE USER authenticate` with `pin` typed at the prompt.
    fn authenticate(&self, user: &str, pin: &str) -> (bool, String) {
        let _ = std::fs::remove_file(&self.log);
        let out = run(
            Command::new("pamtester").args([&self.name, user, "authenticate"]),
            format!("{pin}\n").as_bytes(),
        );
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        if out.status.success() {
            return (true, log);
        }
        // Why: what the agent says when run the way pam_exec runs it.
        let mut authtok = pin.as_bytes().to_vec();
        authtok.push(0);
        let direct = run(
            Command::new(agent_bin())
                .arg("pam")
                .env_remove("TOLLGATE_AGENT_STATE_DIR")
                .env("PAM_USER", user)
                .env("PAM_TYPE", "auth")
                .env("PAM_SERVICE", &self.name),
            &authtok,
        );
        (
            false,
            format!("{}{log}\ndirect: {}", text(&out), text(&direct)),
        )
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new("/etc/pam.d").join(&self.name));
    }
}

/// The agent as root (the administrator enrolling the terminal).
fn root_agent(args: &[&str], stdin: &[u8]) -> Output {
    run(
        Command::new(agent_bin())
            .args(args)
            .env_remove("TOLLGATE_AGENT_STATE_DIR"),
        stdin,
    )
}

/// An enrollment code for `login_name` on `base`, in a fresh browser.
async fn enroll_code_for(base: &str, login_name: &str) -> String {
    crate::agent::enroll_code_for(&browser(), base, login_name).await
}

async fn issuer(login_name: &str) -> Option<TestServer> {
    let srv = TestServer::start(Db::Sqlite, |c| {
        c.policy.files = vec![tollgate::allow_all_policy()];
    })
    .await?;
    srv.add_client("rp", |_| {}).await;
    srv.add_user(login_name, &[]).await;
    Some(srv)
}

fn digest_of_dir(dir: &Path) -> Vec<(String, Vec<u8>, u32, u32)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .expect("read state")
        .map(|e| {
            let e = e.expect("entry");
            let m = std::fs::symlink_metadata(e.path()).expect("lstat");
            let body = if m.is_file() {
                std::fs::read(e.path()).expect("read")
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                body,
                m.uid(),
                m.mode(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_cannot_subvert_pam_mode() {
    if !running_as_root()
        || !have_tool("/usr/bin/pamtester", "pamtester")
        || !have_tool("/usr/sbin/useradd", "useradd (passwd)")
        || !TlsFront::available()
    {
        return;
    }
    let user = UnixUser::create();
    let Some(srv) = issuer(&user.name).await else {
        return;
    };
    let pam = PamService::install();
    let system_dir = PathBuf::from("/var/lib/tollgate-agent/system").join(&user.name);
    let _cleanup = TempDir(system_dir.clone());

    // Root enrolls the terminal for the user over https (private CA) and
    // fetches an offline grant.
    let front = TlsFront::start(srv.base.trim_start_matches("http://"));
    let ca = front.ca.display().to_string();
    let code = enroll_code_for(&srv.base, &user.name).await;
    let enroll = [
        "--pin-stdin",
        "enroll",
        "--system",
        &user.name,
        "--server",
        &front.url,
        "--ca-file",
        &ca,
        "--code",
        &code,
        "--storage",
        "software",
    ];
    let out = tokio::task::block_in_place(|| root_agent(&enroll, &pin_line()));
    assert!(out.status.success(), "{}", text(&out));
    let sys = system_dir.display().to_string();
    let out = tokio::task::block_in_place(|| {
        root_agent(&["--state-dir", &sys, "--pin-stdin", "grant"], &pin_line())
    });
    assert!(out.status.success(), "{}", text(&out));
    let meta = std::fs::metadata(&system_dir).expect("system dir");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));

    // The attacker's issuer: a Tollgate of its own on loopback, where the
    // user's login is an account the attacker controls.
    let Some(fake) = issuer(&user.name).await else {
        return;
    };
    let attacker_dir = temp_dir();
    std::os::unix::fs::chown(&attacker_dir.0, Some(user.uid), Some(user.gid)).expect("chown");
    let mine = attacker_dir.0.join("state");
    let mine_s = mine.display().to_string();
    let attacker_pin = format!("{ATTACKER_PIN}\n");

    // The offline issuer is stopped for everything below.
    let _stopped = srv.stop_keeping_data().await;
    let (ok, why) = tokio::task::block_in_place(|| pam.authenticate(&user.name, PIN));
    assert!(ok, "the legitimate offline login failed: {why}");
    let (ok, why) = tokio::task::block_in_place(|| pam.authenticate(&user.name, "000000"));
    assert!(!ok, "a wrong PIN passed: {why}");
    let before = digest_of_dir(&system_dir);

    // 1. Re-enroll the system state against the fake issuer, as the user.
    for target in [
        vec!["enroll", "--system", user.name.as_str()],
        vec!["--state-dir", sys.as_str(), "enroll", "--force"],
    ] {
        let code = enroll_code_for(&fake.base, &user.name).await;
        let args: Vec<&str> = [
            &["--pin-stdin"][..],
            &target,
            &[
                "--insecure-http",
                "--server",
                &fake.base,
                "--code",
                &code,
                "--storage",
                "software",
            ],
        ]
        .concat();
        let out = tokio::task::block_in_place(|| user.agent(&args, attacker_pin.as_bytes()));
        assert!(!out.status.success(), "{target:?}: {}", text(&out));
    }
    assert_eq!(
        digest_of_dir(&system_dir),
        before,
        "the user changed root's state"
    );

    // 2. A state of the user's own, enrolled and granted by the fake issuer:
    // PAM never reads it, so the attacker's PIN does not pass.
    let code = enroll_code_for(&fake.base, &user.name).await;
    let args = [
        "--state-dir",
        &mine_s,
        "--pin-stdin",
        "enroll",
        "--insecure-http",
        "--server",
        &fake.base,
        "--code",
        &code,
        "--storage",
        "software",
    ];
    let out = tokio::task::block_in_place(|| user.agent(&args, attacker_pin.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
    let grant = ["--state-dir", &mine_s, "--pin-stdin", "grant"];
    let out = tokio::task::block_in_place(|| user.agent(&grant, attacker_pin.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
    let (ok, why) = tokio::task::block_in_place(|| pam.authenticate(&user.name, ATTACKER_PIN));
    assert!(!ok, "the attacker's PIN passed: {why}");

    // 3. The old documented layout (the directory chowned to the user): the
    // user swaps in its own key store and grant and plants a symlink where
    // the agent writes receipts. PAM refuses the state, with the user's PIN
    // and with the right one, and root's file behind the link is untouched.
    std::os::unix::fs::chown(&system_dir, Some(user.uid), None).expect("chown to the user");
    let victim_dir = temp_dir();
    let victim = victim_dir.0.join("shadow");
    std::fs::write(&victim, "root:secret\n").expect("victim");
    let victim_mode = std::fs::metadata(&victim).expect("victim").mode();
    let swap = format!(
        "for f in keystore.json grant.tgg; do cp {mine}/$f {sys}/$f.new && mv -f {sys}/$f.new {sys}/$f; done \
         && mv {sys}/receipts {sys}/receipts.old && ln -s {v} {sys}/receipts",
        mine = mine.display(),
        v = victim_dir.0.display()
    );
    let out = tokio::task::block_in_place(|| {
        run(
            Command::new("setpriv")
                .args(["--reuid", &user.uid.to_string()])
                .args(["--regid", &user.gid.to_string(), "--clear-groups", "--"])
                .args(["sh", "-c", &swap]),
            b"",
        )
    });
    assert!(out.status.success(), "planting: {}", text(&out));
    for pin in [ATTACKER_PIN, PIN] {
        let (ok, why) = tokio::task::block_in_place(|| pam.authenticate(&user.name, pin));
        assert!(!ok, "PAM accepted a user-writable state: {why}");
        assert!(why.contains("not root"), "{why}");
    }
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "root:secret\n"
    );
    assert_eq!(
        std::fs::metadata(&victim).expect("victim").mode(),
        victim_mode
    );
    assert_eq!(
        std::fs::read_dir(&victim_dir.0)
            .expect("victim dir")
            .count(),
        1,
        "a receipt was written through the planted symlink"
    );
    drop(fake);
}
