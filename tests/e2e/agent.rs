//! The endpoint agent against the real issuer on loopback: the real
//! `tollgate-agent` binary (software key store, a root-run system
//! enrollment over HTTPS through `tls_front`) enrolls, approves a step-up
//! by number matching, takes an offline grant, logs in offline through its
//! PAM mode while the issuer is down, and uploads the receipt after a
//! restart on the same database.
//!
//! The binaries: Cargo only hands `CARGO_BIN_EXE_*` to a package's own
//! tests, so [`agent_bin`] (and [`tollgate_bin`] for the admin CLI) runs
//! `cargo build -p tollgate-agent --bin tollgate-agent` once per test
//! process into this test's own target directory (a no-op when `cargo test
//! --workspace` already built it) and uses `target/<profile>/tollgate-agent`.
//! The main scenario runs on SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::oidc_flow::jwt_payload;
use tollgate::{Db, PASSWORD, SECRET, TempDir, TestServer, browser, csrf_of, login, param};
use tollgate_agent::agent::store::KeyStore;
use tollgate_agent::grant::{self, GRANT_DIST_ID, GrantClaims};
use tollgate_agent::secret::Pin;
use tollgate_agent::signed::{self, DeviceAuth};
use tollgate_agent::signer::{Sm2Signer, SoftwareSigner, sign_message};
use tollgate_agent::sm2::Sm2SecretKey;
use tollgate_agent::wire::{ApprovalRequest, Decision};
use tollgate_authz::clock::Clock;

pub(crate) const PIN: &str = "246810";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn authorize_url(base: &str, extra: &str) -> String {
    format!(
        "{base}/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

/// The agent binary, built once per test process (see the module docs).
pub(crate) fn agent_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("tollgate-agent", "tollgate-agent"))
        .clone()
}

/// The `tollgate` binary (package tollgate-authz), built the same way.
pub(crate) fn tollgate_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("tollgate-authz", "tollgate"))
        .clone()
}

/// Builds `bin` of `package` into this test's target directory (a no-op
/// when it is up to date) and returns its path.
fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/e2e-HASH
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
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
    path
}

/// Runs the agent with `args`, feeding `stdin`, on a blocking thread.
pub(crate) async fn agent(
    state: &Path,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Output {
    let (state, stdin) = (state.to_path_buf(), stdin.to_vec());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut cmd = Command::new(agent_bin());
        cmd.arg("--state-dir").arg(&state).args(&args);
        cmd.env_remove("TOLLGATE_AGENT_STATE_DIR")
            .env_remove("PAM_TYPE");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tollgate-agent");
        // A command that fails before reading its input closes the pipe early.
        let _ = child.stdin.take().expect("stdin").write_all(&stdin);
        child.wait_with_output().expect("agent output")
    })
    .await
    .expect("agent thread")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn pin_line() -> Vec<u8> {
    format!("{PIN}\n").into_bytes()
}

pub(crate) async fn approve(state: &Path, number: &str) -> Output {
    agent(
        state,
        &["--pin-stdin", "approve", "--number", number],
        &pin_line(),
        &[],
    )
    .await
}

/// Signs alice in with her password in `http` and returns a fresh
/// enrollment code for her.
pub(crate) async fn enroll_code(http: &reqwest::Client, base: &str) -> String {
    enroll_code_for(http, base, "alice").await
}

/// An enrollment code for `login_name` from the issuer's own code path
/// (`agent::enroll::issue_code`, what the endpoint calls once it allowed
/// the request), for tests about what follows the code when the user
/// already holds a device: a further code through the endpoint needs a
/// sign-in with that device (`hygiene::a_device_enrollment_code_needs_the_
/// strongest_factor_held`).
pub(crate) async fn issued_code(srv: &TestServer, login_name: &str) -> String {
    let uid = srv.user_id(login_name).await;
    let (code, _) = tollgate_authz::agent::enroll::issue_code(&srv.app, &uid, srv.app.now())
        .await
        .expect("an enrollment code");
    code.expose().to_string()
}

/// [`enroll_code`] for the user `login_name`.
pub(crate) async fn enroll_code_for(
    http: &reqwest::Client,
    base: &str,
    login_name: &str,
) -> String {
    let back = login(http, base, &authorize_url(base, ""), login_name, PASSWORD).await;
    assert!(param(&back, "code").is_some(), "{back}");
    let code: serde_json::Value =
        tollgate::account_post(http, base, "/account/devices/enroll-code")
            .await
            .json()
            .await
            .expect("json");
    code["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an enrollment code: {code}"))
        .to_string()
}

/// pam_exec with `expose_authtok`: the PIN then a NUL on stdin.
async fn pam(state: &Path) -> Output {
    let mut authtok = PIN.as_bytes().to_vec();
    authtok.push(0);
    agent(
        state,
        &["pam"],
        &authtok,
        &[
            ("PAM_USER", "alice"),
            ("PAM_TYPE", "auth"),
            ("PAM_SERVICE", "lightdm"),
        ],
    )
    .await
}

/// The two digits on the device-approval page.
pub(crate) fn number_of(html: &str) -> Option<String> {
    let marker = "id=\"approval-number\"><strong>";
    let start = html.find(marker)? + marker.len();
    Some(html[start..].split('<').next()?.to_string())
}

/// Starts a step-up to `phr`: returns the login path and the page.
async fn step_up(http: &reqwest::Client, base: &str) -> (String, String) {
    let r = http
        .get(authorize_url(base, "&acr_values=phr"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    assert!(loc.starts_with("/login/"), "{loc}");
    let page = http
        .get(format!("{base}{loc}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    (loc, page)
}

pub(crate) async fn device_form(
    http: &reqwest::Client,
    base: &str,
    loc: &str,
    csrf: &str,
    action: &str,
) -> reqwest::Response {
    http.post(format!("{base}{loc}/device"))
        .form(&[("csrf", csrf), ("action", action)])
        .send()
        .await
        .expect("device form")
}

pub(crate) fn temp_state() -> TempDir {
    let p = std::env::temp_dir().join(format!(
        "tollgate-e2e-agent-{}",
        tollgate_authz::secret::random_id(8).replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&p).expect("state dir");
    TempDir(p)
}

/// Signs a device request the way the agent does, with the unlocked key.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn device_auth(
    key: &mut dyn Sm2Signer,
    device: &str,
    path: &str,
    body: &[u8],
) -> String {
    let now = unix_now();
    let nonce = tollgate_agent::b64::random(16).expect("nonce");
    let msg = signed::request_bytes("POST", path, device, now, &nonce, body).expect("msg");
    let sig = sign_message(key, &msg).expect("sign");
    DeviceAuth {
        device_id: device.into(),
        ts: now,
        nonce,
        signature: tollgate_agent::b64::encode(&sig.to_der()),
    }
    .to_header()
}

pub(crate) async fn audit_kinds(srv: &TestServer) -> Vec<(String, serde_json::Value)> {
    srv.app
        .store
        .audit_records(0, 10_000)
        .await
        .expect("audit")
        .into_iter()
        .map(|r| (r.kind, r.data))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_approves_and_logs_in_offline_against_the_real_issuer() {
    agent_scenario(Db::Sqlite).await;
}

/// The same scenario on PostgreSQL (the issuer's other backend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_approves_and_logs_in_offline_on_postgres() {
    agent_scenario(Db::Postgres).await;
}

async fn agent_scenario(db: Db) {
    if !crate::tls_front::TlsFront::available() {
        return;
    }
    // Build (or find) the agent before the manual clock starts: the agent
    // signs with the real time, and the server accepts it only within ±300 s
    // of its own clock, so a slow build must not happen in between.
    let _ = agent_bin();
    let real_now = unix_now();
    let clock = Clock::manual(real_now);
    // Risk is not this test's subject: new browsers would add step-ups.
    let Some(srv) = TestServer::start_with_clock(db, clock.clone(), |c| {
        c.policy.files = vec![tollgate::allow_all_policy()]
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let base = srv.base.clone();
    let http = browser();
    let dir = temp_state();
    let state = dir.0.as_path();

    // Enrollment codes need a signed-in user.
    let anon = reqwest::Client::new()
        .post(format!("{base}/account/devices/enroll-code"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anon.status(), 401);
    let code = enroll_code(&http, &base).await;

    // A system enrollment (root, https with a private CA): the only kind
    // PAM mode accepts for the offline logins below.
    let front = crate::tls_front::TlsFront::start(base.trim_start_matches("http://"));
    let ca = front.ca.display().to_string();
    let args = [
        "--pin-stdin",
        "enroll",
        "--system",
        "alice",
        "--server",
        &front.url,
        "--ca-file",
        &ca,
        "--code",
        &code,
        "--storage",
        "software",
    ];
    let out = agent(state, &args, &pin_line(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let devices = srv.app.store.devices(None).await.expect("devices");
    assert_eq!(devices.len(), 1);
    let device = devices[0].clone();
    assert_eq!(device.key_storage, "software");
    assert!(text(&out).contains(&device.id), "{}", text(&out));
    // the code was single-use
    let again = agent(state, &[&args[..], &["--force"]].concat(), &pin_line(), &[]).await;
    assert!(!again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("invalid_code"), "{}", text(&again));

    // Step-up to phr: the login page shows a number; a wrong number is refused.
    let (loc, page) = step_up(&http, &base).await;
    let csrf = csrf_of(&page);
    let n1 = number_of(&page).expect("number on the page");
    let wrong = if n1 == "42" { "43" } else { "42" };
    let out = approve(state, wrong).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("did not accept the answer: rejected"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("rp from 127.0.0.1"), "{}", text(&out));
    let r = device_form(&http, &base, &loc, &csrf, "continue").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("html").contains("did not match"));
    // a new number, approved with the right one, completes the step-up
    let r = device_form(&http, &base, &loc, &csrf, "renew").await;
    let n2 = number_of(&r.text().await.expect("html")).expect("new number");
    let out = approve(state, &n2).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("approved"), "{}", text(&out));
    let r = device_form(&http, &base, &loc, &csrf, "continue").await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let back = r.headers()["location"].to_str().expect("loc").to_string();
    let code = param(&back, "code").expect("code after step-up");
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let id = jwt_payload(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["acr"], "phr", "{id}");
    assert_eq!(
        id["amr"],
        serde_json::json!(["pwd", "swk", "pin", "mfa"]),
        "{id}"
    );

    // Replays: an answer to the used challenge, and a device request nonce.
    let ks = KeyStore::load(state).expect("key store");
    let mut key = ks.unlock(state, &Pin::new(PIN.into())).expect("unlock");
    let tx = loc.trim_start_matches("/login/");
    let used = srv.app.store.challenges_of(tx).await.expect("challenges")[0].clone();
    let mut replay = ApprovalRequest {
        device_id: device.id.clone(),
        challenge_id: used.id.clone(),
        transaction_id: used.transaction_id.clone(),
        nonce: used.nonce.clone(),
        number: n2.clone(),
        decision: Decision::Approve,
        signature: String::new(),
    };
    let sig =
        sign_message(&mut key, &signed::approval_bytes(&replay).expect("bytes")).expect("sig");
    replay.signature = tollgate_agent::b64::encode(&sig.to_der());
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/agent/challenges/{}/answer", used.id))
        .json(&replay)
        .send()
        .await
        .expect("replay");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("already answered"));
    let path = "/v1/agent/challenges/pending";
    let auth = device_auth(&mut key, &device.id, path, b"{}");
    for want in [200, 401] {
        let r = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .header("authorization", &auth)
            .body("{}")
            .send()
            .await
            .expect("pending");
        assert_eq!(r.status(), want);
        if want == 401 {
            assert!(r.text().await.expect("body").contains("replayed_request"));
        }
    }

    // Offline grant; issuer down; offline login through PAM; restart; upload.
    let out = agent(state, &["--pin-stdin", "grant"], &pin_line(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let good_grant = std::fs::read_to_string(state.join("grant.tgg")).expect("grant");
    let stopped = srv.stop_keeping_data().await;
    let out = pam(state).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = agent(state, &["--pin-stdin", "upload"], &pin_line(), &[]).await;
    assert!(
        !out.status.success(),
        "upload with the issuer down: {}",
        text(&out)
    );
    let srv = stopped.restart().await;
    let out = agent(state, &["--pin-stdin", "upload"], &pin_line(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(": accepted"), "{}", text(&out));
    let audit = audit_kinds(&srv).await;
    assert!(
        audit.iter().any(|(k, d)| k == "offline.login"
            && d["sequence"] == 1
            && d["service"] == "lightdm"
            && d["flags"] == serde_json::json!([])),
        "{audit:?}"
    );
    for kind in [
        "device.enrolled",
        "step_up.device_wrong_number",
        "step_up.device_approved",
        "device.grant_issued",
    ] {
        assert!(audit.iter().any(|(k, _)| k == kind), "{kind}: {audit:?}");
    }

    // A challenge expires after 120 s (issuer clock); then back to real time.
    // (A new browser: the first one's session already reached phr.)
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    assert!(param(&back, "code").is_some(), "{back}");
    let (loc, page) = step_up(&http, &base).await;
    let csrf = csrf_of(&page);
    let n = number_of(&page).expect("number");
    clock.advance(121);
    let out = approve(state, &n).await;
    assert!(text(&out).contains("no login is waiting"), "{}", text(&out));
    let r = device_form(&http, &base, &loc, &csrf, "continue").await;
    assert!(r.text().await.expect("html").contains("expired"));
    clock.advance(-121);

    // Bad grants refuse offline login: expired (really signed by the
    // issuer), truncated, signed by another key.
    let mut gk =
        tollgate_authz::agent::offline::grant_key(&srv.app.store, &srv.app.master, real_now)
            .await
            .expect("grant key");
    let expired = tollgate_authz::agent::offline::issue_grant(
        &srv.app,
        &device,
        &mut gk,
        real_now - tollgate_authz::agent::offline::GRANT_TTL - 60,
    )
    .await
    .expect("expired grant");
    let claims: GrantClaims =
        grant::verify_grant_signature(&good_grant, &ks.grant_key().expect("pinned key"))
            .expect("good grant");
    let mut stranger = SoftwareSigner::new(Sm2SecretKey::generate().expect("key"), GRANT_DIST_ID);
    let foreign = grant::sign_grant(&claims, &mut stranger).expect("foreign");
    for (name, token, expect) in [
        ("expired", expired, "expired at"),
        (
            "truncated",
            good_grant[..good_grant.len() - 9].to_string(),
            "truncated or malformed",
        ),
        ("foreign key", foreign, "signed by another key"),
    ] {
        std::fs::write(state.join("grant.tgg"), &token).expect("write grant");
        let out = pam(state).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(expect), "{name}: {}", text(&out));
    }
    std::fs::write(state.join("grant.tgg"), &good_grant).expect("restore grant");

    // Revocation by the user: a pending approval is then refused, and so
    // is a new grant; an offline login after it is uploaded but flagged.
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    assert!(param(&back, "code").is_some(), "{back}");
    let (_loc, page) = step_up(&http, &base).await;
    let n = number_of(&page).expect("number");
    // Without the account page's CSRF token (a form another site made the
    // browser post) the device stays.
    let r = http
        .post(format!("{base}/account/devices/{}/revoke", device.id))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 403, "no CSRF token, no revocation");
    let r = tollgate::account_post(
        &http,
        &base,
        &format!("/account/devices/{}/revoke", device.id),
    )
    .await;
    assert_eq!(r.status(), 200);
    let out = approve(state, &n).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("device_revoked"), "{}", text(&out));
    let out = agent(state, &["--pin-stdin", "grant"], &pin_line(), &[]).await;
    assert!(text(&out).contains("device_revoked"), "{}", text(&out));
    let out = pam(state).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = agent(state, &["--pin-stdin", "upload"], &pin_line(), &[]).await;
    assert!(
        text(&out).contains(": flagged (device_revoked"),
        "{}",
        text(&out)
    );
    let audit = audit_kinds(&srv).await;
    assert!(
        audit.iter().any(|(k, d)| k == "offline.login_flagged"
            && d["flags"] == serde_json::json!(["device_revoked"])),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|(k, _)| k == "device.revoked"),
        "{audit:?}"
    );
}

/// Malformed agent requests get a 4xx JSON error, never a 500.
#[tokio::test]
async fn agent_endpoints_refuse_bad_input_cleanly() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let b = &srv.base;
    let cases: Vec<(&str, Option<&str>, &str, u16, &str)> = vec![
        (
            "/v1/agent/enroll/begin",
            None,
            "not json",
            400,
            "invalid_request",
        ),
        (
            "/v1/agent/enroll/begin",
            None,
            r#"{"code":"AAA-BBB-CCC"}"#,
            400,
            "invalid_code",
        ),
        (
            "/v1/agent/enroll/finish",
            None,
            r#"{"enrollment_id":"e-x","public_key":"AA","dist_id":"1","key_storage":"tpm","hostname":"h","signature":"AA"}"#,
            400,
            "invalid_enrollment",
        ),
        (
            "/v1/agent/challenges/pending",
            None,
            "{}",
            401,
            "invalid_request",
        ),
        (
            "/v1/agent/challenges/pending",
            Some("Tollgate-SM2 device=\"d-x\", ts=\"1\", nonce=\"n\", sig=\"AA\""),
            "{}",
            401,
            "unknown_device",
        ),
        (
            "/v1/agent/grant",
            Some("Bearer nope"),
            "{}",
            401,
            "invalid_request",
        ),
        (
            "/v1/agent/receipts",
            None,
            r#"{"receipts":["tgr1.x.y"]}"#,
            401,
            "invalid_request",
        ),
        (
            "/v1/agent/challenges/c-x/answer",
            None,
            "[]",
            400,
            "invalid_request",
        ),
        (
            "/v1/agent/challenges/c-x/answer",
            None,
            r#"{"device_id":"d-x","challenge_id":"c-x","transaction_id":"t","nonce":"n","number":"42","decision":"approve","signature":"AA"}"#,
            401,
            "unknown_device",
        ),
        (
            "/account/devices/d-x/revoke",
            None,
            "",
            401,
            "login_required",
        ),
    ];
    for (path, auth, body, status, error) in cases {
        let mut req = http.post(format!("{b}{path}")).body(body.to_string());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status().as_u16(), status, "{path} {body}");
        let j: serde_json::Value = r.json().await.expect("json error");
        assert_eq!(j["error"], error, "{path} {body}: {j}");
    }
    let key: serde_json::Value = http
        .get(format!("{b}/v1/agent/grant-key"))
        .send()
        .await
        .expect("grant key")
        .json()
        .await
        .expect("json");
    assert_eq!(key["dist_id"], "1234567812345678");
    let der = tollgate_agent::b64::decode(key["public_key"].as_str().expect("key")).expect("b64");
    tollgate_agent::sm2::Sm2PublicKey::from_spki_der(&der).expect("an SM2 SPKI");
}
