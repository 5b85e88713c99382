//! Passkeys and TOTP over HTTP: the account page enrolls them, the login
//! interaction uses them, a software authenticator plays the browser.
//! On SQLite and PostgreSQL.

use crate::oidc_flow::jwt_payload;
use serde_json::{Value, json};
use tollgate::{Db, PASSWORD, SECRET, TestServer, browser, csrf_of, param};
use tollgate_authz::clock::Clock;
use tollgate_authz::login::soft_passkey::{SoftPasskey, TestAttestationCa};
use tollgate_authz::login::totp;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const T0: i64 = 1_767_225_600;

pub fn authorize_url(base: &str, extra: &str) -> String {
    format!(
        "{base}/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

/// Starts a server on a manual clock with client `rp` and user `alice`. The
/// issuer names `localhost` (a WebAuthn RP id must be a domain); requests
/// still go to `srv.base` (127.0.0.1), the software passkey signs for the issuer.
pub(crate) async fn server(
    db: Db,
    tweak: impl FnOnce(&mut tollgate_authz::config::Config),
) -> Option<TestServer> {
    let srv = TestServer::start_with_clock(db, Clock::manual(T0), |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
        tweak(c)
    })
    .await?;
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    Some(srv)
}

/// The CSRF token the passkey button carries (`data-csrf`).
pub(crate) fn data_csrf(html: &str) -> String {
    html.split("data-csrf=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn loc(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// GET a login page; returns (its path, its HTML).
pub(crate) async fn open_login(http: &reqwest::Client, base: &str, url: &str) -> (String, String) {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "{url}");
    let path = loc(&r);
    assert!(path.starts_with("/login/"), "{path}");
    let html = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (path, html)
}

pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(url).form(form).send().await.unwrap()
}

pub(crate) async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = http.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Signs in to `/account` with alice's password; returns the account CSRF token.
pub async fn account_session(http: &reqwest::Client, base: &str) -> String {
    let (path, html) = open_login(http, base, &format!("{base}/account")).await;
    let r = post_form(
        http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(loc(&r), "/account");
    tollgate::account_csrf(http, base).await
}

/// Registers a software passkey through the account page.
pub(crate) async fn register(
    http: &reqwest::Client,
    base: &str,
    csrf: &str,
    synced: bool,
) -> SoftPasskey {
    register_attested(http, base, csrf, synced, None).await
}

/// Registers a software passkey, with a `packed` attestation by `ca` if given.
pub(crate) async fn register_attested(
    http: &reqwest::Client,
    base: &str,
    csrf: &str,
    synced: bool,
    ca: Option<&TestAttestationCa>,
) -> SoftPasskey {
    let (s, start) = post_json(
        http,
        &format!("{base}/account/passkeys/options"),
        &json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(s, 200, "{start}");
    let origin = base.replace("127.0.0.1", "localhost");
    let (pk, resp) =
        SoftPasskey::register_attested(&start["options"].to_string(), &origin, synced, ca).unwrap();
    let body = json!({"csrf": csrf, "ceremony": start["ceremony"], "response": serde_json::from_str::<Value>(&resp).unwrap(), "name": "Test key"});
    let (s, done) = post_json(http, &format!("{base}/account/passkeys"), &body).await;
    assert_eq!(
        (s, done["redirect"].as_str()),
        (200, Some("/account?done=passkey")),
        "{done}"
    );
    pk
}

/// Re-authenticates the account session with `pk` (`/account/reauth`):
/// changing a passkey user's factors needs the passkey, not the password.
/// Returns the account CSRF token of the re-authenticated session (the
/// session cookie, and so the token, is new once the level rose).
pub(crate) async fn reauth_with_passkey(
    http: &reqwest::Client,
    base: &str,
    pk: &mut SoftPasskey,
) -> String {
    let r = http
        .get(format!("{base}/account/reauth"))
        .send()
        .await
        .unwrap();
    let path = loc(&r);
    let html = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (s, ok) = passkey_login(http, base, &path, &data_csrf(&html), pk, base).await;
    assert_eq!(
        (s, ok["redirect"].as_str()),
        (200, Some("/account")),
        "{ok}"
    );
    tollgate::account_csrf(http, base).await
}

/// Runs the passkey ceremony on a login page; returns (status, JSON).
pub(crate) async fn passkey_login(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    csrf: &str,
    pk: &mut SoftPasskey,
    origin: &str,
) -> (u16, Value) {
    let (s, start) = post_json(
        http,
        &format!("{base}{path}/passkey/options"),
        &json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(s, 200, "{start}");
    let origin = origin.replace("127.0.0.1", "localhost");
    let resp = pk.assert(&start["options"].to_string(), &origin).unwrap();
    let body = json!({"csrf": csrf, "ceremony": start["ceremony"], "response": serde_json::from_str::<Value>(&resp).unwrap()});
    post_json(http, &format!("{base}{path}/passkey"), &body).await
}

/// Signs in with `pk` alone from a fresh browser (`extra` appended to the
/// authorization request): the ID token's claims, or the `error` (or the
/// next login page) the client was sent to.
pub(crate) async fn passkey_sign_in(
    base: &str,
    pk: &mut SoftPasskey,
    extra: &str,
) -> Result<Value, String> {
    let http = browser();
    let (path, html) = open_login(&http, base, &authorize_url(base, extra)).await;
    let (s, ok) = passkey_login(&http, base, &path, &csrf_of(&html), pk, base).await;
    assert_eq!(s, 200, "{ok}");
    let back = ok["redirect"].as_str().unwrap_or_default().to_string();
    match param(&back, "code") {
        Some(_) => Ok(id_claims(&http, base, &back, "https://rp.example/cb").await),
        None if back == path => {
            let (_, to_client) = tollgate::unmet_page(&http, base, &back).await;
            Err(param(&to_client, "error").unwrap_or(to_client))
        }
        None => Err(param(&back, "error").unwrap_or(back)),
    }
}

/// Exchanges the code in `redirect` and returns the ID token's claims.
pub async fn id_claims(
    http: &reqwest::Client,
    base: &str,
    redirect: &str,
    redirect_uri: &str,
) -> Value {
    let code = param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    jwt_payload(tokens["id_token"].as_str().unwrap())
}

pub(crate) async fn audit_kinds(srv: &TestServer) -> Vec<String> {
    srv.app
        .store
        .audit_records(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

async fn passkeys(db: Db) {
    let Some(srv) = server(db, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let web = srv.app.config.issuer.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, false).await;
    let rows = srv
        .app
        .store
        .passkeys(
            &srv.app
                .store
                .user_by_login("alice")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(
        (rows.len(), rows[0].aaguid.as_str(), rows[0].backup_eligible),
        (1, "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a", false)
    );

    // Discoverable sign-in from a fresh browser: a device-bound passkey with
    // attestation `none` (no attestation policy) is phr, not phrh.
    let fresh = browser();
    let (path, html) = open_login(&fresh, &base, &authorize_url(&base, "")).await;
    assert!(html.contains("Sign in with a passkey"));
    let (s, ok) = passkey_login(&fresh, &base, &path, &csrf_of(&html), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let claims = id_claims(
        &fresh,
        &base,
        ok["redirect"].as_str().unwrap(),
        "https://rp.example/cb",
    )
    .await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));

    // Refusals: each a 4xx, never a 500, each audited.
    let b2 = browser();
    let (path2, html2) = open_login(&b2, &base, &authorize_url(&base, "")).await;
    let c2 = csrf_of(&html2);
    let url2 = format!("{base}{path2}/passkey");
    let wrong_origin = passkey_login(&b2, &base, &path2, &c2, &mut pk, "http://evil.example").await;
    assert_eq!(
        (wrong_origin.0, wrong_origin.1["error"].as_str()),
        (401, Some("rejected"))
    );
    pk.rp_id_override = Some("evil.example".into());
    let wrong_rp = passkey_login(&b2, &base, &path2, &c2, &mut pk, &base).await;
    pk.rp_id_override = None;
    assert_eq!(
        (wrong_rp.0, wrong_rp.1["error"].as_str()),
        (401, Some("rejected"))
    );
    let r = b2
        .post(&url2)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, e) = post_json(
        &b2,
        &url2,
        &json!({"csrf": "forged", "ceremony": "x", "response": {}}),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (403, Some("csrf")));
    // A challenge from another browser's interaction is unknown here.
    let b3 = browser();
    let (path3, html3) = open_login(&b3, &base, &authorize_url(&base, "")).await;
    let (_, other) = post_json(
        &b3,
        &format!("{base}{path3}/passkey/options"),
        &json!({"csrf": csrf_of(&html3)}),
    )
    .await;
    let resp = pk.assert(&other["options"].to_string(), &web).unwrap();
    let body = json!({"csrf": c2, "ceremony": other["ceremony"], "response": serde_json::from_str::<Value>(&resp).unwrap()});
    let (s, e) = post_json(&b2, &url2, &body).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("stale_challenge")));
    // A stale challenge (older than challenge_ttl).
    let (_, start) = post_json(
        &b2,
        &format!("{base}{path2}/passkey/options"),
        &json!({"csrf": c2}),
    )
    .await;
    srv.app.clock.advance(301);
    let resp = pk.assert(&start["options"].to_string(), &web).unwrap();
    let body = json!({"csrf": c2, "ceremony": start["ceremony"], "response": serde_json::from_str::<Value>(&resp).unwrap()});
    let (s, e) = post_json(&b2, &url2, &body).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("stale_challenge")));
    // A counter that goes backwards suspends the credential.
    let (path4, html4) = open_login(&b2, &base, &authorize_url(&base, "")).await;
    pk.counter = 0; // the next assertion carries 1: not above the stored 1
    let (s, e) = passkey_login(&b2, &base, &path4, &csrf_of(&html4), &mut pk, &base).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("counter_regression")));
    pk.counter = 100;
    let (s, e) = passkey_login(&b2, &base, &path4, &csrf_of(&html4), &mut pk, &base).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("suspended")));
    let kinds = audit_kinds(&srv).await;
    for want in [
        "passkey.registered",
        "passkey.failure",
        "passkey.malformed",
        "login.csrf_mismatch",
        "passkey.stale_challenge",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} in {kinds:?}");
    }
    let fails = srv.app.store.audit_records(0, 10_000).await.unwrap();
    let reasons: Vec<String> = fails
        .iter()
        .filter(|r| r.kind == "passkey.failure")
        .map(|r| {
            r.data["detail"]["reason"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        reasons,
        ["rejected", "rejected", "counter_regression", "suspended"]
    );
}

#[tokio::test]
async fn passkeys_sqlite() {
    passkeys(Db::Sqlite).await;
}

#[tokio::test]
async fn passkeys_postgres() {
    passkeys(Db::Postgres).await;
}

/// Enrolls TOTP on the account page; returns the secret and the first of
/// the recovery codes shown.
pub(crate) async fn enroll_totp(
    srv: &TestServer,
    http: &reqwest::Client,
    csrf: &str,
) -> (Vec<u8>, String) {
    let base = &srv.base;
    let page = post_form(http, &format!("{base}/account/totp/new"), &[("csrf", csrf)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("src=\"data:image/svg+xml;base64,"),
        "QR code rendered server-side"
    );
    assert!(page.contains("otpauth://totp/Tollgate:alice?secret="));
    let key = page
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    let secret = totp::base32_decode(key).unwrap();
    let p = totp::Params::default();
    let r = post_form(
        http,
        &format!("{base}/account/totp"),
        &[("csrf", csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(r.status(), 400, "a wrong code does not activate");
    let code = totp::code_at_step(p, &secret, srv.app.now() / 30);
    let r = post_form(
        http,
        &format!("{base}/account/totp"),
        &[("csrf", csrf), ("code", &code)],
    )
    .await;
    let html = r.text().await.unwrap();
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "ten recovery codes shown once: {html}"
    );
    let first = html
        .split("<li><code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    (secret, first.to_string())
}

/// Password, then a code, for `acr_values=aal2`. Returns the final response.
async fn password_then_code(
    srv: &TestServer,
    http: &reqwest::Client,
    code: &str,
) -> reqwest::Response {
    let base = &srv.base;
    let (path, html) = open_login(
        http,
        base,
        &authorize_url(base, "&acr_values=aal2&prompt=login"),
    )
    .await;
    let r = post_form(
        http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(loc(&r), path, "password alone is not aal2");
    let page = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"code\""), "the TOTP form is offered");
    post_form(
        http,
        &format!("{base}{path}/totp"),
        &[("csrf", &csrf_of(&page)), ("code", code)],
    )
    .await
}

async fn totp_flow(db: Db) {
    let Some(srv) = server(db, |c| c.login.max_failures_per_user = 3).await else {
        return;
    };
    let http = browser();
    let csrf = account_session(&http, &srv.base).await;
    let (secret, _) = enroll_totp(&srv, &http, &csrf).await;
    let p = totp::Params::default();
    // The enrollment used this step; the next step's code (within ±1) signs in.
    let next = totp::code_at_step(p, &secret, srv.app.now() / 30 + 1);
    let r = password_then_code(&srv, &http, &next).await;
    let claims = id_claims(&http, &srv.base, &loc(&r), "https://rp.example/cb").await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    // The same code (its step) again, also after a restart: refused.
    let r = password_then_code(&srv, &http, &next).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("already used"));
    let srv = srv.stop_keeping_data().await.restart().await;
    let http = browser();
    let r = password_then_code(&srv, &http, &next).await;
    assert_eq!(r.status(), 401, "replay refused after restart");
    // Lockout after max_failures_per_user (3, counting the two above), then time passes.
    let r = password_then_code(&srv, &http, "000000").await;
    assert_eq!(r.status(), 401);
    srv.app.clock.advance(30);
    let good = totp::code_at_step(p, &secret, srv.app.now() / 30);
    let r = password_then_code(&srv, &http, &good).await;
    assert_eq!(r.status(), 429, "locked even with the right code");
    srv.app.clock.advance(srv.app.config.login.lockout);
    let good = totp::code_at_step(p, &secret, srv.app.now() / 30);
    let r = password_then_code(&srv, &http, &good).await;
    assert_eq!(r.status(), 303, "unlocked after the lockout");
    let kinds = audit_kinds(&srv).await;
    for want in [
        "totp.enrolled",
        "login.failure",
        "login.locked",
        "recovery.regenerated",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} in {kinds:?}");
    }
}

#[tokio::test]
async fn totp_sqlite() {
    totp_flow(Db::Sqlite).await;
}

#[tokio::test]
async fn totp_postgres() {
    totp_flow(Db::Postgres).await;
}

/// `acr_values=phr` on a password+TOTP session asks only for the passkey and
/// ends with `acr=phr` (a synced passkey: never phrh); `phrh` is unmet.
#[tokio::test]
async fn step_up_to_phr_with_a_synced_passkey() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;
    // Binding TOTP next to a passkey needs the passkey (phr), not the password.
    let r = http
        .get(format!("{base}/account/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(loc(&r), "/account/reauth");
    let csrf = reauth_with_passkey(&http, &base, &mut pk).await;
    let (secret, _) = enroll_totp(&srv, &http, &csrf).await;
    let code = totp::code_at_step(totp::Params::default(), &secret, srv.app.now() / 30 + 1);
    let r = password_then_code(&srv, &http, &code).await;
    let claims = id_claims(&http, &base, &loc(&r), "https://rp.example/cb").await;
    assert_eq!(claims["acr"], "aal2");

    let (path, html) = open_login(&http, &base, &authorize_url(&base, "&acr_values=phr")).await;
    assert!(
        html.contains("This action needs a stronger sign-in"),
        "{html}"
    );
    assert!(
        html.contains("passkey-signin")
            && !html.contains("name=\"code\"")
            && !html.contains("type=\"password\""),
        "only the passkey can reach phr"
    );
    let (s, ok) = passkey_login(&http, &base, &path, &data_csrf(&html), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let claims = id_claims(
        &http,
        &base,
        ok["redirect"].as_str().unwrap(),
        "https://rp.example/cb",
    )
    .await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "swk", "user", "mfa"]));

    let r = http
        .get(authorize_url(&base, "&acr_values=phrh"))
        .send()
        .await
        .unwrap();
    // phrh is out of reach (a synced passkey, no attestation trusted): the
    // sign-in page says so at once, with nothing to add on /account, and
    // leads back to the client.
    let (page, back) = tollgate::unmet_page(&http, &base, &loc(&r)).await;
    assert!(page.contains("your passkeys are synced"), "{page}");
    assert!(!page.contains("id=\"unmet-add\""), "{page}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{back}"
    );
}

/// Account changes: CSRF, re-authentication, last factor, recovery codes.
#[tokio::test]
async fn account_changes_are_guarded() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, false).await;
    let uid = srv
        .app
        .store
        .user_by_login("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let cred = srv.app.store.passkeys(&uid).await.unwrap()[0]
        .cred_id
        .clone();
    let rename = format!("{base}/account/passkeys/{cred}/rename");
    let r = post_form(&http, &rename, &[("csrf", "forged"), ("name", "x")]).await;
    assert_eq!(r.status(), 403);
    // The password that registered the passkey is not enough to change it.
    let r = post_form(&http, &rename, &[("csrf", &csrf), ("name", "Work laptop")]).await;
    assert_eq!(loc(&r), "/account/reauth");
    let csrf = reauth_with_passkey(&http, &base, &mut pk).await;
    let r = post_form(&http, &rename, &[("csrf", &csrf), ("name", "Work laptop")]).await;
    assert!(r.text().await.unwrap().contains("Work laptop"));
    srv.app.clock.advance(301);
    let r = post_form(
        &http,
        &format!("{base}/account/passkeys/{cred}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        loc(&r),
        "/account/reauth",
        "a stale session must sign in again"
    );
    // Re-authenticate: the password alone goes on to the passkey (the
    // strongest factor held); with the passkey, remove it; the password
    // is then the last factor and cannot go (no remove button for it).
    let r = http
        .get(format!("{base}/account/reauth"))
        .send()
        .await
        .unwrap();
    let path = loc(&r);
    let html = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Confirm it"), "{html}");
    let r = post_form(
        &http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(loc(&r), path, "a password is not enough for a passkey user");
    let html = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (s, ok) = passkey_login(&http, &base, &path, &data_csrf(&html), &mut pk, &base).await;
    assert_eq!(
        (s, ok["redirect"].as_str()),
        (200, Some("/account")),
        "{ok}"
    );
    let csrf = tollgate::account_csrf(&http, &base).await;
    let r = post_form(
        &http,
        &format!("{base}/account/passkeys/{cred}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(r.text().await.unwrap().contains("Passkey removed"));
    // Recovery codes: shown once at TOTP enrollment; one works once as the
    // second factor; regenerating replaces them all.
    let (_, code) = enroll_totp(&srv, &http, &csrf).await;
    let r = password_then_code(&srv, &http, &code).await;
    assert_eq!(r.status(), 303, "a recovery code signs in");
    let r = password_then_code(&srv, &http, &code).await;
    assert_eq!(r.status(), 401, "but only once");
    // That sign-in made a new session: the old form token no longer works.
    let r = post_form(
        &http,
        &format!("{base}/account/recovery"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 403);
    let page = http
        .get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = post_form(
        &http,
        &format!("{base}/account/recovery"),
        &[("csrf", &csrf_of(&page))],
    )
    .await;
    assert_eq!(r.text().await.unwrap().matches("<li><code>").count(), 10);
    assert_eq!(srv.app.store.recovery_codes_left(&uid).await.unwrap(), 10);
}
