//! Policy decisions end to end (issue 5): the real server with policy files
//! and geo databases, browsers that come from different countries (through
//! `X-Forwarded-For` from a trusted proxy), passkeys from the software
//! authenticator, and the RFC 9470 loop through the ext_authz endpoint with
//! a small gateway + resource server in the test.

use crate::authenticators::{
    account_session, audit_kinds, authorize_url, data_csrf, id_claims, loc, open_login,
    passkey_login, post_form, register,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tollgate::{
    Db, PASSWORD, SECRET, TempDir, TestServer, csrf_of, get_text, param, temp_dir, write_geo,
};
use tollgate_authz::clock::Clock;
use tollgate_authz::login::soft_passkey::SoftPasskey;

pub(crate) const DE: &str = "198.51.100.7";
pub(crate) const CN: &str = "203.0.113.9";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
pub(crate) const API: &str = "https://api.example";

/// The repository's policy files.
fn repo_policy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(name)
}

/// A server deciding with `policies/default.yaml`, `extra` repository
/// policy files, and `rules` (YAML written to a file of its own); geo
/// databases for the test networks; the proxy on 127.0.0.1 trusted.
async fn server(db: Db, extra: &[&str], rules: &str) -> Option<(TestServer, TempDir)> {
    let mut files = vec![repo_policy("default.yaml")];
    files.extend(extra.iter().map(|f| repo_policy(f)));
    server_with(db, files, rules).await
}

/// [`server`] with the given policy files before `rules`.
pub(crate) async fn server_with(
    db: Db,
    files: Vec<PathBuf>,
    rules: &str,
) -> Option<(TestServer, TempDir)> {
    server_at(db, files, rules, Clock::System).await
}

/// [`server_with`] on `clock`.
async fn server_at(
    db: Db,
    mut files: Vec<PathBuf>,
    rules: &str,
    clock: Clock,
) -> Option<(TestServer, TempDir)> {
    let dir = temp_dir();
    let (city, asn) = write_geo(&dir.0);
    if !rules.is_empty() {
        let f = dir.0.join("rules.yaml");
        std::fs::write(&f, rules).unwrap();
        files.push(f);
    }
    let srv = TestServer::start_with_clock(db, clock, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
        c.policy.files = files;
        c.policy.geo_city = Some(city);
        c.policy.geo_asn = Some(asn);
        c.gateway.audiences = vec![API.into()];
    })
    .await?;
    srv.add_client("rp", |c| {
        c.access_token_audience = Some(API.into());
        c.permissions = vec!["decide".into()];
    })
    .await;
    Some((srv, dir))
}

/// A browser at `ip`: its own cookie jar (so its own `tg_device`), a
/// desktop Chrome user agent, and the address a trusted proxy reports.
pub(crate) fn browser_at(ip: &str) -> reqwest::Client {
    jar_at(std::sync::Arc::default(), ip)
}

/// A browser at `ip` with the cookie jar `jar`: the same cookies (device
/// id, session) from another address.
fn jar_at(jar: std::sync::Arc<reqwest::cookie::Jar>, ip: &str) -> reqwest::Client {
    jar_with(jar, ip, &[])
}

/// [`jar_at`] with more headers on every request (a browser's signals).
fn jar_with(
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    ip: &str,
    extra: &[(&'static str, &str)],
) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-forwarded-for", ip.parse().unwrap());
    h.insert("user-agent", UA.parse().unwrap());
    for (name, value) in extra {
        h.insert(*name, value.parse().unwrap());
    }
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

/// Password on the login page reached from `url`; returns the response.
pub(crate) async fn password(
    http: &reqwest::Client,
    base: &str,
    url: &str,
    user: &str,
) -> reqwest::Response {
    let (path, html) = open_login(http, base, url).await;
    post_form(
        http,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", user),
            ("password", PASSWORD),
        ],
    )
    .await
}

/// Signs `user` in with the password and, if the login asks for more, the
/// passkey; returns (ID-token claims, whether a passkey was needed).
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    url: &str,
    user: &str,
    pk: &mut SoftPasskey,
) -> (Value, bool) {
    let r = password(http, base, url, user).await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let next = loc(&r);
    if !next.starts_with("/login/") {
        return (
            id_claims(http, base, &next, "https://rp.example/cb").await,
            false,
        );
    }
    let html = get_text(http, &format!("{base}{next}")).await;
    let (s, ok) = passkey_login(http, base, &next, &data_csrf(&html), pk, base).await;
    assert_eq!(s, 200, "{ok}");
    let back = ok["redirect"].as_str().unwrap();
    (
        id_claims(http, base, back, "https://rp.example/cb").await,
        true,
    )
}

/// The audit data (`event`, `decision`) of the login decisions, oldest first.
pub(crate) async fn login_decision_records(srv: &TestServer) -> Vec<Value> {
    srv.app
        .store
        .audit_records(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "policy.decision" && r.data["point"] == "login")
        .map(|r| r.data)
        .collect()
}

/// The login decisions in the audit log, oldest first.
async fn login_decisions(srv: &TestServer) -> Vec<Value> {
    let records = login_decision_records(srv).await;
    records.into_iter().map(|d| d["decision"].clone()).collect()
}

pub(crate) fn reason_codes(decision: &Value) -> Vec<String> {
    decision["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Alice with a password and a synced passkey, enrolled from `http`.
pub(crate) async fn alice_with_passkey(srv: &TestServer, http: &reqwest::Client) -> SoftPasskey {
    srv.add_user("alice", &[]).await;
    let csrf = account_session(http, &srv.base).await;
    register(http, &srv.base, &csrf, true).await
}

const NEW_COUNTRY_NEW_DEVICE: &str = r#"
rules_before:
  - name: new-country-on-new-device
    description: first login from a country on a device never seen
    when:
      action: login
      reasons: [new_country]
      device: unknown
    require: phr
"#;

async fn new_country_new_device(db: Db) {
    let Some((srv, _dir)) = server(db, &[], NEW_COUNTRY_NEW_DEVICE).await else {
        return;
    };
    let base = srv.base.clone();
    let home = browser_at(DE);
    let mut pk = alice_with_passkey(&srv, &home).await;
    // Habits: a few logins from Germany on the same browser.
    for _ in 0..3 {
        let (claims, _) = sign_in(
            &home,
            &base,
            &authorize_url(&base, "&prompt=login"),
            "alice",
            &mut pk,
        )
        .await;
        assert!(claims["sub"].is_string(), "{claims}");
    }
    let (claims, stepped) = sign_in(
        &home,
        &base,
        &authorize_url(&base, "&prompt=login"),
        "alice",
        &mut pk,
    )
    .await;
    assert!(!stepped, "a familiar login needs only the password");
    assert_eq!(claims["acr"], "aal1");

    // The same password from China on a browser never seen: the policy
    // asks for a passkey before anything is issued.
    let away = browser_at(CN);
    let r = password(&away, &base, &authorize_url(&base, ""), "alice").await;
    let next = loc(&r);
    assert!(
        next.starts_with("/login/"),
        "stepped up, not completed: {next}"
    );
    let html = get_text(&away, &format!("{base}{next}")).await;
    assert!(html.contains("passkey-signin"), "the passkey is offered");
    // Why, in plain words (issue 15), in English and in Chinese.
    assert!(
        html.contains("This sign-in comes from a new device"),
        "{html}"
    );
    assert!(html.contains("(CN)"), "the new country is named: {html}");
    let zh = away
        .get(format!("{base}{next}"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("这次登录来自新的设备"), "{zh}");
    assert!(zh.contains("<html lang=\"zh-CN\">"), "{zh}");
    assert!(
        !html.contains("name=\"code\"") && !html.contains("type=\"password\""),
        "only a factor that reaches phr is offered"
    );
    let last = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(last["decision"], "step_up", "{last}");
    assert_eq!(last["required_acr"], "phr");
    let codes = reason_codes(&last);
    for code in ["new-country-on-new-device", "new_country", "new_device"] {
        assert!(codes.iter().any(|c| c == code), "{code} missing: {codes:?}");
    }
    assert!(
        last["policy_version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let (s, ok) = passkey_login(&away, &base, &next, &data_csrf(&html), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let claims = id_claims(
        &away,
        &base,
        ok["redirect"].as_str().unwrap(),
        "https://rp.example/cb",
    )
    .await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "swk", "user", "mfa"]));
}

#[tokio::test]
async fn new_country_new_device_steps_up_to_a_passkey_sqlite() {
    new_country_new_device(Db::Sqlite).await;
}

#[tokio::test]
async fn new_country_new_device_steps_up_to_a_passkey_postgres() {
    new_country_new_device(Db::Postgres).await;
}

pub(crate) const DENY_ASN: &str = r#"
rules_before:
  - name: blocked-backbone
    description: logins from this network are refused
    when:
      asn: [64501]
    deny: true
    revoke: true
    alert: true
"#;

/// A fresh password-only sign-in of `user` at `rp`; its access token.
pub(crate) async fn password_token(http: &reqwest::Client, base: &str, user: &str) -> String {
    let r = password(http, base, &authorize_url(base, "&prompt=login"), user).await;
    tokens(http, base, &loc(&r)).await.0
}

/// Answers an RFC 9470 challenge: authorization again with its
/// `acr_values` and `max_age`, the browser session carried, the passkey as
/// the step; returns the new access token.
pub(crate) async fn step_up_token(
    http: &reqwest::Client,
    base: &str,
    challenge: &str,
    pk: &mut SoftPasskey,
) -> String {
    let acr = auth_param(challenge, "acr_values").expect("acr_values in the challenge");
    let max_age = auth_param(challenge, "max_age").expect("max_age in the challenge");
    let url = authorize_url(base, &format!("&acr_values={acr}&max_age={max_age}"));
    let (path, html) = open_login(http, base, &url).await;
    assert!(html.contains("passkey-signin"), "{html}");
    let (s, ok) = passkey_login(http, base, &path, &data_csrf(&html), pk, base).await;
    assert_eq!(s, 200, "{ok}");
    tokens(http, base, ok["redirect"].as_str().unwrap()).await.0
}

/// Exchanges the code in `redirect` as confidential client `client`
/// (secret [`SECRET`], redirect `https://rp.example/cb`, the test PKCE
/// verifier); returns the token response.
pub(crate) async fn code_exchange(
    http: &reqwest::Client,
    base: &str,
    client: &str,
    redirect: &str,
) -> Value {
    let code = param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", crate::authenticators::VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Tokens from a code exchange at `rp`: (access, refresh).
pub(crate) async fn tokens(http: &reqwest::Client, base: &str, redirect: &str) -> (String, String) {
    let t = code_exchange(http, base, "rp", redirect).await;
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A refresh-token grant at `rp`: (status, body).
pub(crate) async fn refresh(http: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn deny_rule_revokes(db: Db) {
    let Some((srv, _dir)) = server(db, &[], DENY_ASN).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("bob", &[]).await;
    let home = browser_at(DE);
    let r = password(&home, &base, &authorize_url(&base, ""), "bob").await;
    let (access, refresh_token) = tokens(&home, &base, &loc(&r)).await;
    let (s, rotated) = refresh(&home, &base, &refresh_token).await;
    assert_eq!(s, 200, "{rotated}");
    let live = rotated["refresh_token"].as_str().unwrap().to_owned();

    // The same user from the blocked network: refused, with a page.
    let away = browser_at(CN);
    let r = password(&away, &base, &authorize_url(&base, ""), "bob").await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign-in refused"), "{page}");
    let last = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["revoke"], true);
    assert!(reason_codes(&last).contains(&"blocked-backbone".to_owned()));

    // Everything bob held before stops working.
    let (s, err) = refresh(&home, &base, &live).await;
    assert_eq!(
        (s, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "{err}"
    );
    let intro: Value = home
        .post(format!("{base}/introspect"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], false, "{intro}");
    // The home browser's session ended too: a new authorization asks again.
    let r = home.get(authorize_url(&base, "")).send().await.unwrap();
    assert!(
        loc(&r).starts_with("/login/"),
        "session must be gone: {}",
        loc(&r)
    );
    let kinds = audit_kinds(&srv).await;
    for kind in ["policy.revoked", "security.alert"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
}

#[tokio::test]
async fn a_deny_rule_refuses_and_revokes_refresh_tokens_sqlite() {
    deny_rule_revokes(Db::Sqlite).await;
}

#[tokio::test]
async fn a_deny_rule_refuses_and_revokes_refresh_tokens_postgres() {
    deny_rule_revokes(Db::Postgres).await;
}

#[tokio::test]
async fn vcenter_admins_get_phr() {
    let Some((srv, _dir)) = server(Db::Sqlite, &["vcenter-admins.yaml"], "").await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_client("vcenter", |c| {
        c.redirect_uris = vec!["https://rp.example/cb".into()];
    })
    .await;
    srv.add_user("alice", &["vcenter-admins"]).await;
    let http = browser_at(DE);
    let csrf = account_session(&http, &base).await;
    let mut pk = register(&http, &base, &csrf, true).await;
    // Alice's browser session (from the account page) is password-only:
    // at vCenter the policy asks for a passkey straight away.
    let url = authorize_url(&base, "").replace("client_id=rp", "client_id=vcenter");
    let (next, html) = open_login(&http, &base, &url).await;
    assert!(
        html.contains("This action needs a stronger sign-in") && html.contains("passkey-signin"),
        "{html}"
    );
    let (s, ok) = passkey_login(&http, &base, &next, &data_csrf(&html), &mut pk, &base).await;
    assert_eq!(s, 200, "{ok}");
    let t = code_exchange(&http, &base, "vcenter", ok["redirect"].as_str().unwrap()).await;
    let claims = crate::oidc_flow::jwt_payload(t["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "phr");
    let last = login_decisions(&srv).await.pop().unwrap();
    assert!(
        reason_codes(&last).contains(&"vcenter-admins-need-phr".to_owned()),
        "{last}"
    );
    assert_eq!(last["max_age"], 900);
    assert_eq!(last["notify"], json!(["secops-log"]));
    assert!(
        audit_kinds(&srv)
            .await
            .contains(&"policy.notify".to_owned())
    );

    // The same user at another client: the rule does not apply (the
    // score alone decides there).
    sign_in(
        &http,
        &base,
        &authorize_url(&base, "&prompt=login"),
        "alice",
        &mut pk,
    )
    .await;
    let last = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(last["rules_fired"], json!([]), "{last}");
    assert_ne!(last["required_acr"], "phr", "{last}");
}

#[tokio::test]
async fn failed_passwords_raise_the_next_score() {
    let Some((srv, _dir)) = server(Db::Sqlite, &[], "").await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("dave", &[]).await;
    let http = browser_at(DE);
    for _ in 0..2 {
        let r = password(&http, &base, &authorize_url(&base, "&prompt=login"), "dave").await;
        assert!(param(&loc(&r), "code").is_some(), "{}", loc(&r));
    }
    let calm = login_decisions(&srv).await.pop().unwrap();
    for _ in 0..4 {
        let (path, html) = open_login(&http, &base, &authorize_url(&base, "&prompt=login")).await;
        let r = post_form(
            &http,
            &format!("{base}{path}"),
            &[
                ("csrf", &csrf_of(&html)),
                ("username", "dave"),
                ("password", "wrong"),
            ],
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    // The right password now: the failures count against this login.
    password(&http, &base, &authorize_url(&base, "&prompt=login"), "dave").await;
    let after = login_decisions(&srv).await.pop().unwrap();
    assert!(
        after["score"].as_u64() > calm["score"].as_u64(),
        "failures must raise the score: {calm} then {after}"
    );
    // (The built-in model, trained on both generators, weighs per-user
    // failures and failures per prefix; failures per address alone have
    // zero weight there, as they overlap with those two.)
    for code in ["user_failures", "prefix_failures"] {
        assert!(reason_codes(&after).contains(&code.to_owned()), "{after}");
    }
}

pub(crate) const ADMIN_API_NEEDS_PHR: &str = r#"
rules_before:
  - name: admin-api-needs-phr
    description: the admin API needs a phishing-resistant login within 5 minutes
    when:
      action: request
      path: ["/admin/*"]
    require: phr
    max_age: 5m
"#;

/// A gateway with its upstream, as one small server: every request is
/// checked with Tollgate's ext_authz endpoint first (the way Envoy's HTTP
/// ext_authz service is called: same method, the path after the prefix,
/// the original headers); a 200 reaches the "upstream" handler, which
/// echoes the `x-tollgate-*` headers; anything else goes back to the
/// client with its `WWW-Authenticate` challenge.
async fn gateway(tollgate: String) -> String {
    use axum::extract::Request;
    use axum::response::IntoResponse;
    let http = reqwest::Client::new();
    let handler = move |req: Request| {
        let (http, tollgate) = (http.clone(), tollgate.clone());
        async move {
            let mut check = http.request(
                req.method().clone(),
                format!("{tollgate}/ext_authz{}", req.uri()),
            );
            for name in ["authorization", "user-agent", "host"] {
                if let Some(v) = req.headers().get(name) {
                    check = check.header(name, v);
                }
            }
            let r = check.header("x-forwarded-for", DE).send().await.unwrap();
            let status = axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap();
            if status != 200 {
                let mut resp = status.into_response();
                if let Some(v) = r.headers().get("www-authenticate") {
                    resp.headers_mut()
                        .insert("www-authenticate", v.to_str().unwrap().parse().unwrap());
                }
                return resp;
            }
            let h = |n: &str| r.headers()[n].to_str().unwrap().to_owned();
            axum::Json(json!({
                "upstream": req.uri().path(),
                "sub": h("x-tollgate-sub"),
                "acr": h("x-tollgate-acr"),
                "score": h("x-tollgate-score"),
            }))
            .into_response()
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// `name="value"` from a challenge.
pub(crate) fn auth_param(challenge: &str, name: &str) -> Option<String> {
    challenge
        .split(&format!("{name}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_owned)
}

#[tokio::test]
async fn rfc9470_step_up_through_ext_authz() {
    // Only the route rule steps up: the score never adds a step-up here.
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(Db::Sqlite, files, ADMIN_API_NEEDS_PHR).await else {
        return;
    };
    let base = srv.base.clone();
    let gw = gateway(base.clone()).await;
    let http = browser_at(DE);
    let mut pk = alice_with_passkey(&srv, &http).await;
    let api = reqwest::Client::new();
    let call = |token: String| {
        let api = api.clone();
        let gw = gw.clone();
        async move {
            api.get(format!("{gw}/admin/users"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    // No token, a forged token: 401 without a step-up challenge.
    let r = api.get(format!("{gw}/admin/users")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tollgate\"");
    let r = call("e30.e30.e30".into()).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // A password-only token: the gateway answers with the RFC 9470 challenge.
    let weak = password_token(&http, &base, "alice").await;
    assert_eq!(crate::oidc_flow::jwt_payload(&weak)["acr"], "aal1");
    let r = call(weak.clone()).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert_eq!(auth_param(&challenge, "acr_values").as_deref(), Some("phr"));
    assert_eq!(auth_param(&challenge, "max_age").as_deref(), Some("300"));
    // APISIX forward-auth's shape: the original path in X-Forwarded-Uri.
    let r = api
        .get(format!("{base}/ext_authz"))
        .bearer_auth(&weak)
        .header("x-forwarded-uri", "/admin/users?page=2")
        .header("x-forwarded-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("acr_values=\"phr\"")
    );
    // Elsewhere the weak token is fine (bands here never step up).
    let r = api
        .get(format!("{gw}/reports"))
        .bearer_auth(&weak)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["acr"], "aal1");

    // The client closes the loop: authorization again with the challenge's
    // acr_values and max_age; the browser session is carried, so the user
    // is asked only for the passkey.
    let strong = step_up_token(&http, &base, &challenge, &mut pk).await;
    let r = call(strong.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["acr"], "phr", "{body}");
    assert_eq!(body["upstream"], "/admin/users");
    assert_eq!(body["sub"], crate::oidc_flow::jwt_payload(&strong)["sub"]);
    assert!(body["score"].as_str().unwrap().parse::<u8>().is_ok());

    // max_age: a phr session older than five minutes is not enough for
    // the admin API (asked through /v1/decide, which takes the session's
    // acr and auth_time as the caller reports them).
    let decide = |session: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .post(format!("{base}/v1/decide"))
                .basic_auth("rp", Some(SECRET))
                .json(&json!({"subject": "alice", "action": "request",
                    "resource": "https://api.example/admin/users",
                    "context": {"ip": DE, "user_agent": UA, "session": session}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let now = srv.app.now();
    let fresh = decide(json!({"acr": "phr", "auth_time": now - 10})).await;
    assert_eq!(fresh["decision"], "allow", "{fresh}");
    let stale = decide(json!({"acr": "phr", "auth_time": now - 301})).await;
    assert_eq!(
        (
            stale["decision"].as_str(),
            stale["required_acr"].as_str(),
            stale["max_age"].as_u64()
        ),
        (Some("step_up"), Some("phr"), Some(300)),
        "{stale}"
    );

    // A revoked token stops at the gateway at once.
    let r = http
        .post(format!("{base}/revoke"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", strong.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = call(strong).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn v1_decide_needs_a_confidential_client_and_valid_json() {
    let Some((srv, _dir)) = server(Db::Sqlite, &[], "").await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("erin", &[]).await;
    let http = reqwest::Client::new();
    let good = json!({"subject": "erin", "context": {"ip": DE}});
    // (basic auth, content type, body, status, error)
    type Case<'a> = (Option<(&'a str, &'a str)>, &'a str, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            None,
            "application/json",
            good.to_string(),
            401,
            "invalid_client",
        ),
        (
            Some(("rp", "wrong")),
            "application/json",
            good.to_string(),
            401,
            "invalid_client",
        ),
        (
            Some(("rp", SECRET)),
            "text/plain",
            good.to_string(),
            400,
            "invalid_request",
        ),
        (
            Some(("rp", SECRET)),
            "application/json",
            "{".into(),
            400,
            "invalid_request",
        ),
        (
            Some(("rp", SECRET)),
            "application/json",
            json!({"subject": "erin", "bogus": 1}).to_string(),
            400,
            "invalid_request",
        ),
        (
            Some(("rp", SECRET)),
            "application/json",
            json!({"subject": ""}).to_string(),
            400,
            "invalid_request",
        ),
        (
            Some(("rp", SECRET)),
            "application/json",
            json!({"subject": "erin", "context": {"ip": "not-an-ip"}}).to_string(),
            400,
            "invalid_request",
        ),
    ];
    for (auth, ct, body, status, error) in cases {
        let mut r = http
            .post(format!("{base}/v1/decide"))
            .header("content-type", ct)
            .body(body.clone());
        if let Some((id, secret)) = auth {
            r = r.basic_auth(id, Some(secret));
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), status, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], error, "{body}: {v}");
    }
    let r = http
        .post(format!("{base}/v1/decide"))
        .basic_auth("rp", Some(SECRET))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    for field in ["decision", "score", "reasons", "policy_version"] {
        assert!(!d[field].is_null(), "{field} missing: {d}");
    }
    assert_eq!(
        d["policy_version"].as_str(),
        Some(&*srv.app.decisions.version())
    );
}

/// Hot reload: a valid change takes effect without a restart, a broken
/// file keeps the old policy (and shows in the metrics), and no request
/// fails while the policy is swapped under load.
#[tokio::test]
async fn policy_files_reload_without_a_restart() {
    let dir = temp_dir();
    let file = dir.0.join("contractors.yaml");
    let rules = |verdict: &str| {
        format!(
            "rules_before:\n  - name: contractors\n    description: contractors' requests\n    when:\n      group: [contractors]\n    {verdict}\n"
        )
    };
    std::fs::write(&file, rules("allow: true")).unwrap();
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.policy.files = vec![repo_policy("default.yaml"), file.clone()];
        c.policy.reload_interval = 1;
        // Four clients ask as fast as they can for one subject: this test is
        // about reloading under load, not the per-subject budget
        // (`callers::decisions_for_one_subject_are_rate_limited`).
        c.gateway.decide_per_subject_per_minute = 0;
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |c| c.permissions = vec!["decide".into()])
        .await;
    srv.add_user("carol", &["contractors"]).await;
    let base = srv.base.clone();
    let http = reqwest::Client::new();
    let ask = {
        let (http, base) = (http.clone(), base.clone());
        move || {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let r = http
                    .post(format!("{base}/v1/decide"))
                    .basic_auth("rp", Some(SECRET))
                    .json(&json!({"subject": "carol", "context": {"ip": DE}}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        }
    };
    let first = ask().await.1;
    assert_eq!(first["decision"], "allow", "{first}");
    let v1 = first["policy_version"].as_str().unwrap().to_owned();

    // Load: four clients asking all the time, counting anything but a 200.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (ask, stop) = (ask.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut versions) =
                (0u32, 0u32, std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, d) = ask().await;
                if status == 200 {
                    ok += 1;
                    versions.insert(d["policy_version"].as_str().unwrap_or("").to_owned());
                } else {
                    failed += 1;
                }
            }
            (ok, failed, versions)
        }));
    }

    std::fs::write(&file, rules("deny: true")).unwrap();
    let mut v2 = None;
    for _ in 0..100 {
        let d = ask().await.1;
        if d["decision"] == "deny" {
            v2 = d["policy_version"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let v2 = v2.expect("the changed file takes effect within 10 s");
    assert_ne!(v1, v2);

    // A broken file: reported, and the last good policy keeps deciding.
    std::fs::write(
        &file,
        "rules_before:\n  - name: broken\n    when: {bogus: 1}\n    deny: true\n",
    )
    .unwrap();
    let m = metrics_with(&http, &base, "tollgate_policy_stale 1")
        .await
        .expect("a broken policy file shows in the metrics");
    assert!(
        m.lines()
            .any(|l| l == "tollgate_policy_reload_failures_total 1"),
        "reported once: {m}"
    );
    let d = ask().await.1;
    assert_eq!(
        (d["decision"].as_str(), d["policy_version"].as_str()),
        (Some("deny"), Some(v2.as_str()))
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut seen) = (0, std::collections::BTreeSet::new());
    for h in load {
        let (o, failed, versions) = h.await.unwrap();
        assert_eq!(failed, 0, "no request fails during a swap");
        ok += o;
        seen.extend(versions);
    }
    assert!(ok > 20, "the load ran ({ok} requests)");
    let allowed: std::collections::BTreeSet<String> = [v1, v2].into_iter().collect();
    assert!(
        seen.is_subset(&allowed),
        "only whole policies answer: {seen:?}"
    );

    // Fixed again: the stale flag clears.
    std::fs::write(&file, rules("allow: true")).unwrap();
    assert!(
        metrics_with(&http, &base, "tollgate_policy_stale 0")
            .await
            .is_some()
    );
    assert_eq!(ask().await.1["decision"], "allow");
}

/// The metrics text once it has the exact line `line` (within 10 s).
async fn metrics_with(http: &reqwest::Client, base: &str, line: &str) -> Option<String> {
    for _ in 0..100 {
        let m = get_text(http, &format!("{base}/metrics")).await;
        if m.lines().any(|l| l == line) {
            return Some(m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

/// The CLI over the server's database: the audit chain verifies, an edit
/// made directly in the database is found, and the login events export
/// for `tollgate policy simulate`.
#[tokio::test]
async fn audit_verify_export_and_what_if_through_the_cli() {
    let Some((srv, dir)) = server(Db::Sqlite, &[], "").await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("frank", &["vcenter-admins"]).await;
    let http = browser_at(DE);
    for _ in 0..3 {
        let r = password(
            &http,
            &base,
            &authorize_url(&base, "&prompt=login"),
            "frank",
        )
        .await;
        assert!(param(&loc(&r), "code").is_some(), "{}", loc(&r));
    }
    let url = srv.config_database_url();
    let cfg = dir.0.join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!("version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let tollgate = tollgate::tollgate_bin();
    let run = |args: &[&str]| {
        std::process::Command::new(&tollgate)
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap()
    };

    let events = run(&["audit", "export", "--format", "events"]);
    assert!(
        events.status.success(),
        "{}",
        String::from_utf8_lossy(&events.stderr)
    );
    let text = String::from_utf8(events.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .all(|e| e["user"] == "frank" && e["ip"] == DE && e["client"] == "rp")
    );
    let events_file = dir.0.join("events.jsonl");
    std::fs::write(&events_file, &text).unwrap();
    let users = dir.0.join("users.json");
    std::fs::write(&users, r#"{"frank": {"groups": ["vcenter-admins"]}}"#).unwrap();
    // What-if: would vcenter-admins.yaml change frank's logins at rp? No
    // (the rule is for client vcenter); the report says so.
    let sim = std::process::Command::new(&tollgate)
        .args(["policy", "simulate", "--events"])
        .arg(&events_file)
        .arg("--policy")
        .arg(repo_policy("default.yaml"))
        .arg("--policy")
        .arg(repo_policy("vcenter-admins.yaml"))
        .arg("--geoip-city")
        .arg(dir.0.join("city.mmdb"))
        .arg("--geoip-asn")
        .arg(dir.0.join("asn.mmdb"))
        .arg("--users")
        .arg(&users)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&sim.stdout);
    assert!(
        sim.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    assert!(report.contains('3'), "{report}");

    let ok = run(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit log intact"));

    // Someone edits a record directly in the database.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let victim: i64 = sqlx::query_scalar(
        "SELECT id FROM audit_log WHERE kind = 'login.success' ORDER BY id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE id = ?")
        .bind(victim)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let broken = run(&["audit", "verify"]);
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains(&format!("audit record {victim}")), "{err}");
}

/// `risk: lockout:` in the policy replaces `[login]`'s limits.
#[tokio::test]
async fn the_policy_sets_the_lockout() {
    let rules = "risk:\n  lockout:\n    max_failures_per_user: 2\n    max_failures_per_ip: 100\n    window: 10m\n    duration: 1h\n";
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(Db::Sqlite, files, rules).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("gina", &[]).await;
    let http = browser_at(DE);
    let attempt = |pw: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let (path, html) =
                open_login(&http, &base, &authorize_url(&base, "&prompt=login")).await;
            post_form(
                &http,
                &format!("{base}{path}"),
                &[
                    ("csrf", &csrf_of(&html)),
                    ("username", "gina"),
                    ("password", pw),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    };
    // [login] would allow five failures; the policy allows two.
    assert_eq!(srv.app.config.login.max_failures_per_user, 5);
    for (pw, want) in [("wrong", 401), ("wrong", 401), (PASSWORD, 429)] {
        assert_eq!(attempt(pw).await, want, "{pw}");
    }
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGHUP reloads the policy of a running `tollgate serve` at once (here
/// with polling off, so nothing else could have reloaded it).
#[tokio::test]
async fn sighup_reloads_a_running_server() {
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = dir.0.join("contractors.yaml");
    let rules = |verdict: &str| {
        format!(
            "rules_before:\n  - name: contractors\n    when: {{group: [contractors]}}\n    {verdict}\n"
        )
    };
    std::fs::write(&extra, rules("allow: true")).unwrap();
    let cfg = dir.0.join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\nissuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
             [database]\nurl = \"sqlite://{db}\"\n\
             [policy]\nfiles = [\"{default}\", \"{extra}\"]\nreload_interval = 0\n\
             [[clients]]\nid = \"svc\"\nsecret_env = \"SVC_SECRET\"\ngrant_types = [\"client_credentials\"]\npermissions = [\"decide\"]\n",
            db = dir.0.join("t.db").display(),
            default = repo_policy("default.yaml").display(),
            extra = extra.display(),
        ),
    )
    .unwrap();
    let bin = tollgate::tollgate_bin();
    let envs = [
        (
            "TOLLGATE_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("SVC_SECRET", SECRET),
        ("TOLLGATE_LOG", "warn"),
    ];
    let mut add = std::process::Command::new(&bin)
        .args([
            "users",
            "add",
            "carol",
            "--group",
            "contractors",
            "--password-stdin",
            "--config",
        ])
        .arg(&cfg)
        .envs(envs)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "{PASSWORD}").unwrap();
    }
    assert!(add.wait().unwrap().success());
    let server = Child(
        std::process::Command::new(&bin)
            .args(["serve", "--config"])
            .arg(&cfg)
            .envs(envs)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "tollgate serve did not come up");
    let decide = || async {
        let r = http
            .post(format!("{base}/v1/decide"))
            .basic_auth("svc", Some(SECRET))
            .json(&json!({"subject": "carol", "context": {"ip": DE}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["decision"].clone()
    };
    assert_eq!(decide().await, "allow");
    std::fs::write(&extra, rules("deny: true")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        decide().await,
        "allow",
        "no polling: the old policy still serves"
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut denied = false;
    for _ in 0..50 {
        if decide().await == "deny" {
            denied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(denied, "SIGHUP swapped the policy in");
}

/// `[audit] hash = "sm3"`: new records are chained with SM3, checked here
/// against OpenSSL's SM3; a chain begun with SHA-256 stays verifiable.
#[tokio::test]
async fn the_audit_chain_can_use_sm3() {
    use tollgate_authz::store::ChainHash;
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    srv.add_user("hal", &[]).await;
    srv.app
        .audit("test.sha256", "t", "s", json!({"n": 1}))
        .await;
    let stopped = srv.stop_keeping_data().await;
    let srv = stopped
        .restart_with(|c| c.audit.hash = ChainHash::Sm3)
        .await;
    srv.app.audit("test.sm3", "t", "s", json!({"n": 2})).await;
    let records = srv.app.store.audit_records(0, 1000).await.unwrap();
    let (old, new): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.kind == "test.sha256");
    assert!(!old[0].hash.starts_with("sm3:"));
    let r = new.iter().find(|r| r.kind == "test.sm3").unwrap();
    let hex = r.hash.strip_prefix("sm3:").expect("an sm3: hash");
    // The chained bytes: each field as u64 big-endian length + bytes.
    let mut buf = Vec::new();
    let data = serde_json::to_string(&r.data).unwrap();
    for part in [
        r.prev_hash.as_str(),
        &r.ts.to_string(),
        &r.kind,
        &r.actor,
        &r.subject,
        &data,
    ] {
        buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
        buf.extend_from_slice(part.as_bytes());
    }
    let mut openssl = std::process::Command::new("openssl")
        .args(["dgst", "-sm3", "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    {
        use std::io::Write;
        openssl.stdin.take().unwrap().write_all(&buf).unwrap();
    }
    let out = openssl.wait_with_output().unwrap();
    let digest = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        digest.split_whitespace().next(),
        Some(hex),
        "OpenSSL's SM3 agrees"
    );
    assert_eq!(
        srv.app.store.verify_audit().await.unwrap().unwrap(),
        records.len() as u64,
        "a mixed SHA-256 → SM3 chain verifies"
    );
}

/// The policy sets the level enrolling an agent device needs (client
/// `tollgate-devices`): below it the enrollment code is refused, naming
/// the level.
#[tokio::test]
async fn device_enrollment_needs_the_level_the_policy_asks() {
    let rules = "rules_before:\n  - name: devices-need-aal2\n    when: {client: [tollgate-devices]}\n    require: aal2\n";
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(Db::Sqlite, files, rules).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("ivy", &[]).await;
    let http = browser_at(DE);
    let r = password(&http, &base, &authorize_url(&base, ""), "ivy").await;
    assert!(param(&loc(&r), "code").is_some());
    let r = tollgate::account_post(&http, &base, "/account/devices/enroll-code").await;
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "insufficient_user_authentication", "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("aal2"),
        "{e}"
    );
}

const TRAVEL_DENIED: &str = r#"
rules_before:
  - name: travel-denied
    description: a login faster than a plane from the last one
    when:
      action: login
      reasons: [impossible_travel]
    deny: true
"#;

/// A server with the shipped default policy and `rules`, on a clock the
/// test moves by hand.
async fn on_a_manual_clock(db: Db, rules: &str) -> Option<(TestServer, TempDir, Clock)> {
    let clock = Clock::manual(crate::agent::unix_now());
    let (srv, dir) = server_at(db, vec![repo_policy("default.yaml")], rules, clock.clone()).await?;
    Some((srv, dir, clock))
}

/// Alice signs in from Beijing with her browser (its `tg_device` cookie),
/// then the same cookie signs in from Frankfurt 30 minutes later (the
/// server's clock moved by hand). The scorer itself finds the travel (no
/// reason is injected): the default policy steps up, a rule naming
/// `impossible_travel` denies; both audited with the reason.
async fn stolen_cookie_travels(db: Db, rules: &str, want: &str) {
    let Some((srv, _dir, clock)) = on_a_manual_clock(db, rules).await else {
        return;
    };
    let base = srv.base.clone();
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let beijing = jar_at(jar.clone(), CN);
    let mut pk = alice_with_passkey(&srv, &beijing).await;
    for _ in 0..3 {
        let (claims, _) = sign_in(
            &beijing,
            &base,
            &authorize_url(&base, "&prompt=login"),
            "alice",
            &mut pk,
        )
        .await;
        assert!(claims["sub"].is_string(), "{claims}");
        clock.advance(60);
    }
    let home = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(home["decision"], "allow", "{home}");

    clock.advance(30 * 60);
    let frankfurt = jar_at(jar, DE);
    let r = password(
        &frankfurt,
        &base,
        &authorize_url(&base, "&prompt=login"),
        "alice",
    )
    .await;
    let next = loc(&r);
    assert!(!next.contains("code="), "no code is issued: {next}");
    let last = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(last["decision"], want, "{last}");
    let travel = last["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "impossible_travel")
        .unwrap_or_else(|| panic!("impossible_travel missing: {last}"));
    let detail = travel["detail"].as_str().unwrap();
    let kmh: f64 = detail.split(' ').next().unwrap().parse().unwrap();
    assert!(
        kmh > 805.0 && detail.contains("31 min") && detail.contains("own device id"),
        "{detail}"
    );
}

/// The headers a Chromium on Linux set to Chinese sends with every request.
const CHROMIUM_ZH: [(&str, &str); 4] = [
    ("sec-ch-ua", r#""Chromium";v="131", "Not_A Brand";v="24""#),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-ch-ua-mobile", "?0"),
    ("accept-language", "zh-CN,zh;q=0.9"),
];

/// Alice's device cookie replayed with her exact user agent, from her own
/// city, by another browser (set to German, no client hints, another time
/// zone): nothing but the browser signals her Chromium always sent tells
/// it apart (issue 11). The scorer finds `device_mismatch` itself; the
/// signals are in the decision's event, the sign-in page asked for them.
async fn replayed_cookie_from_another_browser(db: Db) {
    let Some((srv, _dir, clock)) = on_a_manual_clock(db, "").await else {
        return;
    };
    let base = srv.base.clone();
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let home = jar_with(jar.clone(), CN, &CHROMIUM_ZH);
    let mut pk = alice_with_passkey(&srv, &home).await;
    for _ in 0..3 {
        sign_in(
            &home,
            &base,
            &authorize_url(&base, "&prompt=login"),
            "alice",
            &mut pk,
        )
        .await;
        clock.advance(3600);
    }
    let usual = login_decisions(&srv).await.pop().unwrap();
    assert_eq!(usual["decision"], "allow", "{usual}");

    let thief = jar_with(jar, CN, &[("accept-language", "de-DE,de;q=0.9")]);
    let (path, html) = open_login(&thief, &base, &authorize_url(&base, "&prompt=login")).await;
    let page = thief.get(format!("{base}{path}")).send().await.unwrap();
    let asked = page.headers()["accept-ch"].to_str().unwrap();
    assert!(asked.contains("Sec-CH-UA-Platform-Version"), "{asked}");
    assert!(
        html.contains(r#"name="tz""#),
        "the form carries the page's time zone"
    );
    let r = post_form(
        &thief,
        &format!("{base}{path}"),
        &[
            ("csrf", &csrf_of(&html)),
            ("username", "alice"),
            ("password", PASSWORD),
            ("tz", "60"),
        ],
    )
    .await;
    assert!(!loc(&r).contains("code="), "no code is issued: {}", loc(&r));
    let last = login_decision_records(&srv).await.pop().unwrap();
    let (event, decision) = (&last["event"], &last["decision"]);
    assert_eq!(decision["decision"], "step_up", "{decision}");
    let mismatch = decision["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "device_mismatch")
        .unwrap_or_else(|| panic!("device_mismatch missing: {decision}"));
    let detail = mismatch["detail"].as_str().unwrap();
    assert!(
        detail.contains("language de-de") && detail.contains("no client hints"),
        "{detail}"
    );
    assert_eq!(event["accept_language"], "de-DE,de;q=0.9", "{event}");
    assert_eq!(event["tz_offset_min"], 60, "{event}");
    assert!(event.get("client_hints").is_none(), "{event}");
}

#[tokio::test]
async fn a_cookie_replayed_from_another_browser_steps_up_sqlite() {
    replayed_cookie_from_another_browser(Db::Sqlite).await;
}

#[tokio::test]
async fn a_cookie_replayed_from_another_browser_steps_up_postgres() {
    replayed_cookie_from_another_browser(Db::Postgres).await;
}

#[tokio::test]
async fn a_stolen_cookie_from_far_away_steps_up_sqlite() {
    stolen_cookie_travels(Db::Sqlite, "", "step_up").await;
}

#[tokio::test]
async fn a_stolen_cookie_from_far_away_steps_up_postgres() {
    stolen_cookie_travels(Db::Postgres, "", "step_up").await;
}

#[tokio::test]
async fn a_travel_rule_denies_the_stolen_cookie_sqlite() {
    stolen_cookie_travels(Db::Sqlite, TRAVEL_DENIED, "deny").await;
}

#[tokio::test]
async fn a_travel_rule_denies_the_stolen_cookie_postgres() {
    stolen_cookie_travels(Db::Postgres, TRAVEL_DENIED, "deny").await;
}

/// An aal1 (password-only) token at ext_authz on a route no rule covers,
/// under the default policy: allowed from its own session's context (the
/// session's device stands in for the cookie the gateway never sees), and
/// challenged when the same token comes from Beijing minutes later.
async fn gateway_scores_against_the_session(db: Db) {
    let Some((srv, _dir, clock)) = on_a_manual_clock(db, "").await else {
        return;
    };
    let base = srv.base.clone();
    let home = browser_at(DE);
    alice_with_passkey(&srv, &home).await;
    let mut token = String::new();
    for _ in 0..3 {
        token = password_token(&home, &base, "alice").await;
        clock.advance(60);
    }
    assert_eq!(crate::oidc_flow::jwt_payload(&token)["acr"], "aal1");
    let api = reqwest::Client::new();
    let check = |ip: &'static str| {
        let (api, base, token) = (api.clone(), base.clone(), token.clone());
        async move {
            api.get(format!("{base}/ext_authz/reports/weekly"))
                .bearer_auth(token)
                .header("x-forwarded-for", ip)
                .header("user-agent", UA)
                .send()
                .await
                .unwrap()
        }
    };
    let r = check(DE).await;
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    assert_eq!(r.headers()["x-tollgate-acr"], "aal1");

    clock.advance(2 * 60); // still within the token's lifetime
    let r = check(CN).await;
    assert_eq!(r.status(), 401, "{:?}", r.headers());
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("insufficient_user_authentication"),
        "{challenge}"
    );
    // /v1/decide with the token's sid: the same answers, and never
    // `no_device_id` (no device cookie reaches a gateway).
    let sid = crate::oidc_flow::jwt_payload(&token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let decide = |ip: &'static str| {
        let (http, base, sid) = (home.clone(), base.clone(), sid.clone());
        let now = srv.app.now();
        async move {
            let r = http
                .post(format!("{base}/v1/decide"))
                .basic_auth("rp", Some(SECRET))
                .json(&json!({"subject": "alice", "action": "request",
                    "resource": "https://api.example/reports/weekly",
                    "context": {"ip": ip, "user_agent": UA,
                        "session": {"acr": "aal1", "auth_time": now - 180, "sid": sid}}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let near = decide(DE).await;
    assert_eq!(near["decision"], "allow", "{near}");
    let far = decide(CN).await;
    assert_eq!(far["decision"], "step_up", "{far}");
    let codes = reason_codes(&far);
    assert!(codes.iter().any(|c| c == "impossible_travel"), "{codes:?}");
    for d in [&near, &far] {
        assert!(!reason_codes(d).iter().any(|c| c == "no_device_id"), "{d}");
    }
}

#[tokio::test]
async fn the_gateway_scores_a_token_against_its_session_sqlite() {
    gateway_scores_against_the_session(Db::Sqlite).await;
}

#[tokio::test]
async fn the_gateway_scores_a_token_against_its_session_postgres() {
    gateway_scores_against_the_session(Db::Postgres).await;
}
