//! Levels that say exactly what was done, when: an old strong factor next
//! to a fresh weak one is an old level (the policy's `max_age` asks for
//! the strong one again, the ID token says what is fresh), and changing
//! factors needs a fresh sign-in at the strongest level the user holds.

use crate::authenticators::{
    account_session, authorize_url, data_csrf, id_claims, loc, open_login, passkey_login,
    post_form, register, server,
};
use serde_json::json;
use tollgate::{Db, PASSWORD, browser, csrf_of, get_text, param};

const STRICT: &str = "rules_before:\n  - name: strict-needs-a-fresh-passkey\n    when: {client: [strict]}\n    require: phr\n    max_age: 15m\n";

/// Passkey at t0; 20 minutes later a password-only re-authentication
/// (a relying party asking `max_age=0`); then a client whose policy rule
/// says `require: phr, max_age: 15m` must prompt for the passkey, not
/// issue a code on the old passkey.
#[tokio::test]
async fn a_stale_passkey_and_a_fresh_password_are_a_stale_phr() {
    let dir = tollgate::temp_dir();
    let rules = dir.0.join("strict.yaml");
    std::fs::write(&rules, STRICT).unwrap();
    let Some(srv) = server(Db::Sqlite, |c| {
        c.policy.files = vec![tollgate::allow_all_policy(), rules.clone()];
    })
    .await
    else {
        return;
    };
    srv.add_client("strict", |_| {}).await;
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;

    // t0: the passkey signs in (a new session: passkey only).
    let (path, html) = open_login(&http, &base, &authorize_url(&base, "&prompt=login")).await;
    let (s, ok) = passkey_login(&http, &base, &path, &csrf_of(&html), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let t0 = srv.app.now();

    // t0 + 20 min: the password alone, for a client that wants it fresh.
    srv.app.clock.advance(20 * 60);
    let (path, html) = open_login(&http, &base, &authorize_url(&base, "&max_age=0")).await;
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
    let back = loc(&r);
    assert!(param(&back, "code").is_some(), "{back}");
    let claims = id_claims(&http, &base, &back, "https://rp.example/cb").await;
    assert_eq!(
        (
            claims["acr"].clone(),
            claims["amr"].clone(),
            claims["auth_time"].clone()
        ),
        (json!("aal1"), json!(["pwd"]), json!(srv.app.now())),
        "max_age=0: only the fresh password counts"
    );

    // The strict client: the session's phr is 20 minutes old.
    let url = authorize_url(&base, "")
        .replace("client_id=rp", "client_id=strict")
        .replace("rp.example%2Fcb", "strict.example%2Fcb");
    let r = http.get(&url).send().await.unwrap();
    let next = loc(&r);
    assert!(
        next.starts_with("/login/"),
        "a prompt, not a code on a stale passkey: {next}"
    );
    let page = get_text(&http, &format!("{base}{next}")).await;
    assert!(
        page.contains("id=\"passkey-signin\""),
        "the passkey is asked for: {page}"
    );
    let (s, ok) = passkey_login(&http, &base, &next, &data_csrf(&page), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let back = ok["redirect"].as_str().unwrap_or_default().to_string();
    let claims = id_claims_for(&http, &base, &back).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["auth_time"], json!(srv.app.now()));
    assert!(srv.app.now() > t0);
}

/// [`id_claims`] for the `strict` client.
async fn id_claims_for(http: &reqwest::Client, base: &str, redirect: &str) -> serde_json::Value {
    let code = param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("strict", Some(tollgate::SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://strict.example/cb"),
            ("code_verifier", crate::authenticators::VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: serde_json::Value = r.json().await.unwrap();
    crate::oidc_flow::jwt_payload(tokens["id_token"].as_str().unwrap())
}

/// `POST /account/recovery`: regenerate the recovery codes.
async fn regenerate(http: &reqwest::Client, base: &str, csrf: &str) -> reqwest::Response {
    post_form(http, &format!("{base}/account/recovery"), &[("csrf", csrf)]).await
}

/// A passkey user who re-authenticates with the password only may not
/// regenerate recovery codes (which reach aal2 anywhere) until the passkey
/// is used.
#[tokio::test]
async fn recovery_codes_need_the_passkey_of_a_passkey_user() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;
    srv.app
        .clock
        .advance(srv.app.config.authenticators.reauth_window + 1);
    let r = regenerate(&http, &base, &csrf).await;
    assert_eq!(loc(&r), "/account/reauth");

    // The password alone: the sign-in goes on to the passkey.
    let r = http
        .get(format!("{base}/account/reauth"))
        .send()
        .await
        .unwrap();
    let path = loc(&r);
    let page = get_text(&http, &format!("{base}{path}")).await;
    let r = post_form(
        &http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&page)),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(loc(&r), path, "a password is not enough for a passkey user");
    let r = regenerate(&http, &base, &csrf).await;
    assert_eq!(
        loc(&r),
        "/account/reauth",
        "refused after a password-only re-auth"
    );

    // The passkey: now the codes are issued.
    let page = get_text(&http, &format!("{base}{path}")).await;
    let (s, ok) = passkey_login(&http, &base, &path, &data_csrf(&page), &mut pk, &base).await;
    assert_eq!(
        (s, ok["redirect"].as_str()),
        (200, Some("/account")),
        "{ok}"
    );
    let csrf = tollgate::account_csrf(&http, &base).await;
    let r = regenerate(&http, &base, &csrf).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().matches("<li><code>").count(), 10);
}

/// A device approval goes through the policy gate like every factor: at
/// the account's re-authentication (user known, no decision yet) the
/// approval leaves a `policy.decision` record for `tollgate-account`.
#[tokio::test]
async fn device_approval_at_account_reauth_is_decided() {
    use crate::agent::{
        agent, agent_bin, approve, enroll_code, number_of, pin_line, temp_state, unix_now,
    };
    let _ = agent_bin();
    let Some(srv) = tollgate::TestServer::start_with_clock(
        Db::Sqlite,
        tollgate_authz::clock::Clock::manual(unix_now()),
        |c| {
            c.policy.files = vec![tollgate::allow_all_policy()];
            c.authenticators.reauth_window = 60;
        },
    )
    .await
    else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let base = srv.base.clone();
    let http = browser();
    let dir = temp_state();
    let code = enroll_code(&http, &base).await;
    let args = [
        "--pin-stdin",
        "enroll",
        "--server",
        &base,
        "--code",
        &code,
        "--storage",
        "software",
        // A plain-http issuer on loopback: the test flag (no PAM use here).
        "--insecure-http",
    ];
    let out = agent(&dir.0, &args, &pin_line(), &[]).await;
    assert!(out.status.success(), "{}", crate::agent::text(&out));

    srv.app.clock.advance(61);
    let r = http
        .get(format!("{base}/account/reauth"))
        .send()
        .await
        .unwrap();
    let path = loc(&r);
    let page = get_text(&http, &format!("{base}{path}")).await;
    let number = number_of(&page).unwrap_or_else(|| panic!("a device approval is offered: {page}"));
    let out = approve(&dir.0, &number).await;
    assert!(out.status.success(), "{}", crate::agent::text(&out));
    let r = post_form(
        &http,
        &format!("{base}{path}/device"),
        &[("csrf", &csrf_of(&page)), ("action", "continue")],
    )
    .await;
    assert_eq!(loc(&r), "/account");
    let decided = srv
        .app
        .store
        .audit_records(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .any(|r| r.kind == "policy.decision" && r.subject == "tollgate-account");
    assert!(decided, "the re-authentication was decided and audited");
}
