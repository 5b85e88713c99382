//! Protocol error cases as a table: each gets its exact status and error
//! code, never a 500.

use crate::oidc_flow::jwt_payload;
use tollgate::{Db, PASSWORD, SECRET, TestServer, browser, login, param};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn authorize_url(base: &str, extra: &str) -> String {
    format!(
        "{base}/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

/// A fresh code for client `rp`.
async fn code(srv: &TestServer, http: &reqwest::Client) -> String {
    let back = login(
        http,
        &srv.base,
        &authorize_url(&srv.base, "&prompt=login"),
        "alice",
        PASSWORD,
    )
    .await;
    param(&back, "code").expect("code")
}

/// Exchanges a code of client `rp` with the right verifier: (status, body).
async fn exchange(
    srv: &TestServer,
    http: &reqwest::Client,
    code: &str,
) -> (u16, serde_json::Value) {
    crate::oidc_flow::raw_token(
        http,
        &srv.base,
        "rp",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

struct Case {
    name: &'static str,
    auth: Option<(&'static str, &'static str)>,
    content_type: &'static str,
    body: String,
    status: u16,
    error: &'static str,
}

#[tokio::test]
async fn token_endpoint_errors() {
    let Some(srv) = TestServer::start(Db::Sqlite, |c| c.tokens.code_ttl = 60).await else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_client("other", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let http = browser();
    let rp = Some(("rp", SECRET));
    let form = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap();
    let redirect = "https://rp.example/cb";

    let c1 = code(&srv, &http).await;
    let c2 = code(&srv, &http).await;
    let c3 = code(&srv, &http).await;
    let c4 = code(&srv, &http).await;
    let c5 = code(&srv, &http).await;
    let cases = vec![
        Case {
            name: "wrong PKCE verifier",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c1),
                ("redirect_uri", redirect),
                ("code_verifier", &"x".repeat(43)),
            ]),
            status: 400,
            error: "invalid_grant",
        },
        Case {
            name: "replayed (already consumed) code",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c1),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ]),
            status: 400,
            error: "invalid_grant",
        },
        Case {
            name: "missing verifier",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c2),
                ("redirect_uri", redirect),
            ]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "mismatched redirect_uri",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c3),
                ("redirect_uri", "https://rp.example/other"),
                ("code_verifier", VERIFIER),
            ]),
            status: 400,
            error: "invalid_grant",
        },
        Case {
            name: "code of another client",
            auth: Some(("other", SECRET)),
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c4),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ]),
            status: 400,
            error: "invalid_grant",
        },
        Case {
            name: "wrong client secret",
            auth: Some(("rp", "wrong-secret")),
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "authorization_code"),
                ("code", &c5),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "unknown client",
            auth: Some(("nobody", SECRET)),
            content_type: "application/x-www-form-urlencoded",
            body: form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "no client authentication",
            auth: None,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "unsupported grant",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", "x"),
            ]),
            status: 400,
            error: "unsupported_grant_type",
        },
        Case {
            name: "password grant without the client's opt-in",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ]),
            status: 400,
            error: "unauthorized_client",
        },
        Case {
            name: "grant not allowed for client",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[("grant_type", "client_credentials")]),
            status: 400,
            error: "unauthorized_client",
        },
        Case {
            name: "missing grant_type",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[("code", "x")]),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "unknown refresh token",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")]),
            status: 400,
            error: "invalid_grant",
        },
        Case {
            name: "repeated parameter",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: "grant_type=refresh_token&grant_type=refresh_token".into(),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "malformed form body",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: "grant_type=%ff%fe&x".into(),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "JSON instead of a form",
            auth: rp,
            content_type: "application/json",
            body: "{\"grant_type\":\"client_credentials\"}".into(),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "oversized body",
            auth: rp,
            content_type: "application/x-www-form-urlencoded",
            body: format!("grant_type=client_credentials&pad={}", "a".repeat(200_000)),
            status: 413,
            error: "invalid_request",
        },
    ];
    for c in cases {
        let mut req = http
            .post(format!("{}/token", srv.base))
            .header("content-type", c.content_type)
            .body(c.body.clone());
        if let Some((id, secret)) = c.auth {
            req = req.basic_auth(id, Some(secret));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let www = r.headers().get("www-authenticate").is_some();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!(
            (status, body["error"].as_str().unwrap_or("")),
            (c.status, c.error),
            "{}: {body}",
            c.name
        );
        if c.status == 401 {
            assert!(www, "{}: 401 needs WWW-Authenticate", c.name);
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn replayed_code_revokes_what_it_issued_and_expired_codes_fail() {
    let clock = tollgate_authz::clock::Clock::manual(1_800_000_000);
    let Some(srv) = TestServer::start_with_clock(Db::Sqlite, clock.clone(), |_| {}).await else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let http = browser();
    let c = code(&srv, &http).await;
    let ok = exchange(&srv, &http, &c).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let again = exchange(&srv, &http, &c).await;
    assert_eq!(again.1["error"], "invalid_grant");
    let at = ok.1["access_token"].as_str().unwrap();
    let rt = ok.1["refresh_token"].as_str().unwrap();
    assert_eq!(
        crate::oidc_flow::introspect(&http, &srv.base, "rp", at).await["active"],
        false
    );
    assert_eq!(
        crate::oidc_flow::introspect(&http, &srv.base, "rp", rt).await["active"],
        false
    );

    let c = code(&srv, &http).await;
    clock.advance(61);
    let late = exchange(&srv, &http, &c).await;
    assert_eq!(
        (late.0, late.1["error"].as_str()),
        (400, Some("invalid_grant")),
        "expired code"
    );
    srv.stop().await;
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused() {
    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let http = browser();
    let c = code(&srv, &http).await;
    let ok = exchange(&srv, &http, &c).await;
    let at = ok.1["access_token"].as_str().unwrap().to_string();
    let parts: Vec<&str> = at.split('.').collect();
    let mut claims = jwt_payload(&at);
    claims["sub"] = "mallory".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
        parts[1]
    );
    for (name, token) in [
        ("tampered", tampered),
        ("alg none", none),
        ("garbage", "abc".to_string()),
    ] {
        let r = http
            .get(format!("{}/userinfo", srv.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{name}"
        );
        assert_eq!(
            crate::oidc_flow::introspect(&http, &srv.base, "rp", &token).await["active"],
            false,
            "{name}"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn authorization_errors_never_redirect_to_unregistered_uris() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    let http = browser();
    let cases = [
        ("&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", 400, None),
        ("&code_challenge_method=plain", 303, Some("invalid_request")),
        (
            "&response_type=token",
            303,
            Some("unsupported_response_type"),
        ),
        ("&prompt=none", 303, Some("login_required")),
        ("&scope=openid%20admin", 303, Some("invalid_scope")),
    ];
    for (extra, status, error) in cases {
        // later duplicate keys would be "repeated"; build the URL without the default when overriding
        let url = authorize_url(&srv.base, "").replace(
            "&redirect_uri=https%3A%2F%2Frp.example%2Fcb",
            if extra.starts_with("&redirect_uri") {
                ""
            } else {
                "&redirect_uri=https%3A%2F%2Frp.example%2Fcb"
            },
        );
        let url = dedupe(&format!("{url}{extra}"));
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{extra}");
        if let Some(e) = error {
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            assert!(loc.starts_with("https://rp.example/cb?"), "{loc}");
            assert_eq!(param(&loc, "error").as_deref(), Some(e), "{extra}");
            assert_eq!(param(&loc, "state").as_deref(), Some("st"));
        }
    }
    srv.stop().await;
}

/// Keeps the last occurrence of each query parameter.
fn dedupe(url: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in u.query_pairs() {
        pairs.retain(|(pk, _)| *pk != k);
        pairs.push((k.into_owned(), v.into_owned()));
    }
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.into()
}
