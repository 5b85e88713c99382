//! Browser hygiene, each property as the attack it stops: a session cookie
//! copied before a step-up does not carry the raised level; on an https
//! issuer a cookie planted under the bare name (by a sibling subdomain) is
//! not ours; a GET (an `<img>` on another site) changes no TOTP secret;
//! device calls need the account CSRF token; an enrollment code needs the
//! strongest factor held; an unmet level is explained, not a bare error.

use crate::authenticators::{
    account_session, authorize_url, loc, open_login, post_form, reauth_with_passkey, register,
    server,
};
use tollgate::{Db, PASSWORD, TestServer, account_post, browser, csrf_of, param};

/// The `Cookie` header value `jar` sends to `base`.
fn cookie_header(jar: &reqwest::cookie::Jar, base: &str) -> String {
    use reqwest::cookie::CookieStore;
    jar.cookies(&base.parse().unwrap())
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A browser whose cookie jar the test can read (what an attacker who
/// copied the cookie, or planted it, holds).
fn browser_with_jar() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (http, jar)
}

/// GET `/account` with exactly the cookie header `cookie`: 200 is the
/// account page (a live session), 303 the way to sign in.
async fn account_with(base: &str, cookie: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/account"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The id of the live session the `tg_session` cookie in `cookie` opens.
async fn session_of(srv: &TestServer, cookie: &str) -> Option<String> {
    let token = cookie
        .split("; ")
        .find_map(|kv| kv.strip_prefix("tg_session="))?;
    let hash = tollgate_authz::oauth::client::hash_secret(token);
    srv.app
        .store
        .session_by_token(&hash, srv.app.now())
        .await
        .unwrap()
        .map(|s| s.id)
}

/// Password at aal1, then a passkey re-authentication raises the level:
/// the cookie copied before the rise no longer opens the session.
#[tokio::test]
async fn the_session_cookie_is_rotated_when_the_level_rises() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let (http, jar) = browser_with_jar();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;
    let copied = cookie_header(&jar, &base);
    assert!(copied.contains("tg_session="), "{copied}");
    assert_eq!(
        account_with(&base, &copied).await,
        200,
        "the copy works at aal1"
    );
    let before = session_of(&srv, &copied).await.expect("a live session");

    reauth_with_passkey(&http, &base, &mut pk).await;
    let now = cookie_header(&jar, &base);
    assert_ne!(now, copied, "a new cookie once the level rose");
    assert_eq!(account_with(&base, &now).await, 200);
    assert_eq!(
        account_with(&base, &copied).await,
        303,
        "the cookie from before the step-up is dead"
    );
    assert_eq!(
        session_of(&srv, &now).await.as_deref(),
        Some(before.as_str()),
        "the same session (its grants' sid) under a new secret"
    );
}

/// Every `Set-Cookie` of an https issuer: `__Host-` name, `Secure`,
/// `Path=/`, no `Domain`.
fn assert_host_cookies(r: &reqwest::Response) -> Vec<(String, String)> {
    let mut out = vec![];
    for v in r.headers().get_all("set-cookie") {
        let v = v.to_str().unwrap();
        assert!(v.starts_with("__Host-"), "{v}");
        assert!(v.contains("; Secure") && v.contains("; Path=/"), "{v}");
        assert!(!v.to_ascii_lowercase().contains("domain="), "{v}");
        let (name, rest) = v.split_once('=').unwrap();
        out.push((
            name.to_string(),
            rest.split(';').next().unwrap().to_string(),
        ));
    }
    out
}

/// On an https issuer the cookies are `__Host-` cookies, and a session
/// cookie under the bare name (what a sibling subdomain can set for the
/// parent domain: session fixation) is ignored.
#[tokio::test]
async fn https_issuers_use_host_prefixed_cookies_and_ignore_bare_names() {
    // The server itself listens on plain loopback; only the issuer (and so
    // the cookie rules) is https. The test carries the cookies by hand, as
    // a client over http would drop `Secure` ones.
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.issuer = c.issuer.replace("http://", "https://");
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let base = srv.base.clone();
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain.get(authorize_url(&base, "")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let set = assert_host_cookies(&r);
    let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"__Host-tg_login"), "{names:?}");
    let jar: String = set
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let path = loc(&r);
    let html = plain
        .get(format!("{base}{path}"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The interaction's cookie under the bare name is not this browser's.
    let bare = jar.replace("__Host-", "");
    let r = plain
        .get(format!("{base}{path}"))
        .header("cookie", &bare)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a bare tg_login is not ours");
    let r = plain
        .post(format!("{base}{path}"))
        .header("cookie", &jar)
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(param(&loc(&r), "code").is_some(), "{}", loc(&r));
    let session = assert_host_cookies(&r)
        .into_iter()
        .find(|(n, _)| n == "__Host-tg_session")
        .expect("a __Host- session cookie")
        .1;
    assert_eq!(
        account_with(&base, &format!("__Host-tg_session={session}")).await,
        200
    );
    assert_eq!(
        account_with(&base, &format!("tg_session={session}")).await,
        303,
        "the same secret under the bare name opens nothing"
    );
}

/// The plain-http loopback demo keeps the bare names (a browser refuses
/// `__Host-` cookies without `Secure`).
#[tokio::test]
async fn the_http_loopback_demo_keeps_plain_cookie_names() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(authorize_url(&srv.base, ""))
        .send()
        .await
        .unwrap();
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(set.iter().any(|c| c.starts_with("tg_login=")), "{set:?}");
    assert!(set.iter().all(|c| !c.contains("Secure")), "{set:?}");
}

/// `GET /account/totp` (what an `<img src>` on any page makes a signed-in
/// browser do) creates and replaces no pending secret; the POST does.
#[tokio::test]
async fn a_get_of_the_totp_page_changes_no_secret() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let uid = srv.user_id("alice").await;
    let pending = || async {
        srv.app
            .store
            .totp(&uid)
            .await
            .unwrap()
            .map(|t| t.secret_sealed)
    };
    let r = http
        .get(format!("{base}/account/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(pending().await, None, "a GET made no secret");
    let r = post_form(
        &http,
        &format!("{base}/account/totp/new"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let first = pending().await.expect("the POST made one");
    http.get(format!("{base}/account/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(pending().await, Some(first), "a GET replaced nothing");
    let r = post_form(
        &http,
        &format!("{base}/account/totp/new"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(r.status(), 403, "the POST needs the CSRF token");
}

/// A passkey user signed in with the password alone (a policy that lets
/// aal1 in) asks for an agent enrollment code: refused until the passkey
/// is used, like every other factor binding; and without the account CSRF
/// token, refused whatever the level.
#[tokio::test]
async fn a_device_enrollment_code_needs_the_strongest_factor_held() {
    let Some(srv) = server(Db::Sqlite, |c| {
        c.policy.files = vec![tollgate::allow_all_policy()];
    })
    .await
    else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;
    let path = "/account/devices/enroll-code";
    let r = account_post(&http, &base, path).await;
    assert_eq!(r.status(), 403, "the password alone binds no device");
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"], "insufficient_user_authentication", "{e}");
    assert!(
        e["error_description"].as_str().unwrap().contains("phr"),
        "{e}"
    );
    reauth_with_passkey(&http, &base, &mut pk).await;
    let r = http.post(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"], "csrf_mismatch", "{e}");
    let r = account_post(&http, &base, path).await;
    assert_eq!(r.status(), 200);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{e}");
}

/// `acr_values=phr` for a user with only a password: a page that says a
/// passkey is needed and links to `/account`, and a way back that gives
/// the client `unmet_authentication_requirements`.
#[tokio::test]
async fn an_unmet_level_says_what_is_missing() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let to = tollgate::login(
        &http,
        &base,
        &authorize_url(&base, "&acr_values=phr"),
        "alice",
        PASSWORD,
    )
    .await;
    let (page, back) = tollgate::unmet_page(&http, &base, &to).await;
    assert!(
        page.contains("rp needs a passkey (or an enrolled device); you have none"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/account\" id=\"unmet-add\""),
        "{page}"
    );
    assert!(back.starts_with("https://rp.example/cb?"), "{back}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("st"), "{back}");
}

/// Every state-changing POST a signed-in browser can be made to send
/// (forms and script calls, account and sign-in pages) without the page's
/// CSRF token: refused with 403, and the session still stands (the logout
/// only asks for confirmation).
#[tokio::test]
async fn every_state_changing_post_needs_its_csrf_token() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    register(&http, &base, &csrf, true).await;
    // A sign-in in progress, for the interaction's own steps.
    let (path, _) = open_login(&http, &base, &authorize_url(&base, "&prompt=login")).await;
    let form: &[(&str, &str)] = &[("csrf", "forged"), ("name", "x"), ("code", "123456")];
    let json = serde_json::json!({"csrf": "forged"});
    let cases: Vec<(String, bool)> = vec![
        ("/account/passkeys/options".into(), true),
        ("/account/passkeys".into(), true),
        ("/account/passkeys/x/rename".into(), false),
        ("/account/passkeys/x/remove".into(), false),
        ("/account/totp".into(), false),
        ("/account/totp/new".into(), false),
        ("/account/totp/remove".into(), false),
        ("/account/recovery".into(), false),
        ("/account/devices/enroll-code".into(), false),
        ("/account/devices/d-x/revoke".into(), false),
        (path.clone(), false),
        (format!("{path}/totp"), false),
        (format!("{path}/device"), false),
        (format!("{path}/passkey/options"), true),
        (format!("{path}/passkey"), true),
    ];
    for (p, is_json) in &cases {
        let req = http.post(format!("{base}{p}"));
        let req = if *is_json {
            req.json(&json)
        } else {
            req.form(form)
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 403, "{p}: {body}");
    }
    let r = post_form(&http, &format!("{base}/end_session"), &[("csrf", "forged")]).await;
    assert!(r.status().is_success(), "a confirmation page");
    assert_eq!(
        http.get(format!("{base}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still signed in"
    );
    let audit = crate::authenticators::audit_kinds(&srv).await;
    assert!(
        audit
            .iter()
            .filter(|k| k.ends_with(".csrf_mismatch"))
            .count()
            >= cases.len(),
        "each refusal is audited: {audit:?}"
    );
}
