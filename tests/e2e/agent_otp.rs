//! Agent OTPs at sign-in and the `tollgate devices` admin CLI, against the
//! real issuer, the real `tollgate-agent` and the real `tollgate` binaries.
//!
//! - A code from `tollgate-agent otp` (computed here with the agent
//!   library from the agent's own key store) is the `otp` factor after the
//!   password: `acr` `aal2`, `amr` `["pwd","otp","mfa"]`. Each time step
//!   once per device; RFC 6238 and GM/T 0021 SM3 devices; the TOTP lockout.
//! - `tollgate devices list|revoke` on the server's database: a revoked
//!   device's OTP and approvals are refused; a bad id is a clear error.

use std::path::Path;
use std::process::Output;

use crate::agent::{
    PIN, agent, agent_bin, approve, authorize_url, number_of, pin_line, temp_state, text,
    tollgate_bin, unix_now,
};
use crate::authenticators::id_claims;
use tollgate::{Db, PASSWORD, TempDir, TestServer, browser, csrf_of, get_text, login, param};
use tollgate_agent::agent::store::KeyStore;
use tollgate_agent::otp;
use tollgate_agent::secret::Pin;
use tollgate_authz::clock::Clock;

/// A server on a manual clock (starting at the real time, which the agent
/// signs with) with client `rp` and user `alice`. Risk is not these tests'
/// subject: the allow-all policy keeps new browsers from adding step-ups.
async fn issuer(tweak: impl FnOnce(&mut tollgate_authz::config::Config)) -> Option<TestServer> {
    let _ = agent_bin(); // built before the clock starts (see agent.rs)
    let srv = TestServer::start_with_clock(Db::Sqlite, Clock::manual(unix_now()), |c| {
        c.policy.files = vec![tollgate::allow_all_policy()];
        tweak(c)
    })
    .await?;
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    Some(srv)
}

/// Enrolls a software-key agent for alice into a fresh state directory,
/// with `extra` enroll arguments; returns (state dir, device id).
async fn enroll(srv: &TestServer, extra: &[&str]) -> (TempDir, String) {
    let base = &srv.base;
    // A second device for alice would need a sign-in with the first.
    let code = crate::agent::issued_code(srv, "alice").await;
    let dir = temp_state();
    let mut args = vec![
        "--pin-stdin",
        "enroll",
        "--insecure-http",
        "--server",
        base,
        "--code",
        &code,
        "--storage",
        "software",
    ];
    args.extend_from_slice(extra);
    let out = agent(&dir.0, &args, &pin_line(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let device = KeyStore::load(&dir.0).expect("key store").device_id.clone();
    (dir, device)
}

/// The agent's OTP at the issuer's current time, from its key store.
fn agent_code(state: &Path, srv: &TestServer) -> String {
    let ks = KeyStore::load(state).expect("key store");
    let (seed, params) = ks.otp_seed(state, &Pin::new(PIN.into())).expect("OTP seed");
    otp::generate(&seed, params, srv.app.now()).expect("otp")
}

/// A fresh browser asks for `aal2`: password, then `code` on the page
/// that offers the device approval and the one-time-code form.
async fn password_then_code(srv: &TestServer, code: &str) -> (reqwest::Client, reqwest::Response) {
    let base = &srv.base;
    let http = browser();
    let r = http
        .get(authorize_url(base, "&acr_values=aal2"))
        .send()
        .await
        .expect("authorize");
    let path = r.headers()["location"].to_str().expect("loc").to_string();
    let page = get_text(&http, &format!("{base}{path}")).await;
    let r = http
        .post(format!("{base}{path}"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("password");
    assert_eq!(r.status(), 303);
    let page = get_text(&http, &format!("{base}{path}")).await;
    assert!(
        page.contains(&format!("action=\"{path}/totp\"")) && page.contains("tollgate-agent otp"),
        "the one-time-code form is offered: {page}"
    );
    let r = http
        .post(format!("{base}{path}/totp"))
        .form(&[("csrf", csrf_of(&page).as_str()), ("code", code)])
        .send()
        .await
        .expect("code");
    (http, r)
}

async fn assert_signed_in(srv: &TestServer, code: &str) {
    let (http, r) = password_then_code(srv, code).await;
    assert_eq!(r.status(), 303, "{code}: {:?}", r.text().await);
    let back = r.headers()["location"].to_str().expect("loc").to_string();
    let claims = id_claims(&http, &srv.base, &back, "https://rp.example/cb").await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

async fn assert_refused(srv: &TestServer, code: &str, status: u16, why: &str) {
    let (_, r) = password_then_code(srv, code).await;
    assert_eq!(r.status().as_u16(), status, "{code}");
    let html = r.text().await.expect("html");
    assert!(html.contains(why), "{why}: {html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_otp_is_the_otp_factor_at_sign_in() {
    let Some(srv) = issuer(|c| c.login.max_failures_per_user = 3).await else {
        return;
    };
    let (totp_dir, _) = enroll(&srv, &[]).await;
    let (sm3_dir, sm3_device) = enroll(&srv, &["--otp-algorithm", "sm3-gmt0021"]).await;
    let uid = srv.user_id("alice").await;
    let mut algorithms: Vec<String> = srv
        .app
        .store
        .otp_devices(&uid)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, a)| a)
        .collect();
    algorithms.sort();
    assert_eq!(algorithms, ["sm3-gmt0021", "totp-sha1"]);

    // RFC 6238 from the first device; the same code (its step) twice: refused.
    let code = agent_code(&totp_dir.0, &srv);
    assert_signed_in(&srv, &code).await;
    assert_refused(&srv, &code, 401, "already used").await;
    // GM/T 0021 SM3 from the second device.
    assert_signed_in(&srv, &agent_code(&sm3_dir.0, &srv)).await;

    // After the admin revokes the SM3 device its next code is refused,
    // while the other device's next code still works.
    let out = cli(&srv, &["devices", "revoke", &sm3_device]).await;
    assert!(out.status.success(), "{}", text(&out));
    srv.app.clock.advance(30);
    assert_refused(&srv, &agent_code(&sm3_dir.0, &srv), 401, "not correct").await;
    assert_signed_in(&srv, &agent_code(&totp_dir.0, &srv)).await;

    // The TOTP lockout applies: three wrong codes, then even the right one waits.
    for _ in 0..3 {
        assert_refused(&srv, "000000", 401, "not correct").await;
    }
    srv.app.clock.advance(30);
    let good = agent_code(&totp_dir.0, &srv);
    assert_refused(&srv, &good, 429, "Too many failed attempts").await;
    srv.app.clock.advance(srv.app.config.login.lockout);
    assert_signed_in(&srv, &agent_code(&totp_dir.0, &srv)).await;
    let audit = srv.app.store.audit_records(0, 10_000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.kind == "login.factor" && r.data["factor"] == "agent_otp"),
        "{:?}",
        audit.iter().map(|r| &r.data).collect::<Vec<_>>()
    );
}

/// Runs `tollgate ARGS` against the test server's database.
async fn cli(srv: &TestServer, args: &[&str]) -> Output {
    let db = srv.app.config.database.url.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(tollgate_bin())
            .args(&args)
            .env("TOLLGATE_DATABASE_URL", db)
            .env_remove("TOLLGATE_ISSUER")
            .env_remove("TOLLGATE_LISTEN")
            .output()
            .expect("run tollgate")
    })
    .await
    .expect("cli thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_cli_lists_and_revokes() {
    let _ = tollgate_bin();
    let Some(srv) = issuer(|_| {}).await else {
        return;
    };
    let (dir, device) = enroll(&srv, &[]).await;
    let uid = srv.user_id("alice").await;

    let out = cli(&srv, &["devices", "list"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let row = listed
        .lines()
        .find(|l| l.starts_with(&device))
        .unwrap_or_else(|| panic!("{device} not listed: {listed}"));
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!((cols[1], cols[3], cols[5]), (uid.as_str(), "software", "-"));
    let out = cli(&srv, &["devices", "list", "--user", "nobody"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("no user \"nobody\""), "{}", text(&out));

    // A pending approval, then the admin revokes the device.
    let http = browser();
    let back = login(
        &http,
        &srv.base,
        &authorize_url(&srv.base, ""),
        "alice",
        PASSWORD,
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");
    let page = http
        .get(authorize_url(&srv.base, "&acr_values=phr"))
        .send()
        .await
        .expect("step-up");
    let path = page.headers()["location"]
        .to_str()
        .expect("loc")
        .to_string();
    let page = get_text(&http, &format!("{}{path}", srv.base)).await;
    let number = number_of(&page).expect("a number to approve");
    let out = cli(&srv, &["devices", "revoke", &device]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("device {device} revoked")));
    let out = cli(&srv, &["devices", "list", "--user", "alice"]).await;
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let row = listed.lines().find(|l| l.starts_with(&device)).unwrap();
    assert_ne!(row.split('\t').nth(5), Some("-"), "revoked_at set: {row}");
    assert!(
        srv.app
            .store
            .device(&device)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // The revoked device can neither approve nor sign in with its OTP.
    let out = approve(&dir.0, &number).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("device_revoked"), "{}", text(&out));
    // Its OTP no longer counts: alice has no second factor left for aal2.
    assert!(srv.app.store.otp_devices(&uid).await.unwrap().is_empty());
    let base = &srv.base;
    let b = browser();
    let back = login(
        &b,
        base,
        &authorize_url(base, "&acr_values=aal2"),
        "alice",
        PASSWORD,
    )
    .await;
    let (page, back) = tollgate::unmet_page(&b, base, &back).await;
    assert!(page.contains("You have only a password"), "{page}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{back}"
    );

    // Bad ids: a clear message and a non-zero exit, never a panic.
    for bad in ["d-doesnotexist", "", "not a device id\u{7f}"] {
        let out = cli(&srv, &["devices", "revoke", bad]).await;
        assert!(!out.status.success(), "{bad:?}: {}", text(&out));
        let msg = text(&out);
        assert!(
            msg.contains(&format!("device {bad}")) && !msg.contains("panicked"),
            "{bad:?}: {msg}"
        );
    }
    // Revoking twice is refused too (already revoked).
    let out = cli(&srv, &["devices", "revoke", &device]).await;
    assert!(!out.status.success(), "{}", text(&out));
}
