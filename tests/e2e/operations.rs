//! Lockout, key rotation, health and metrics, CSRF and browser binding.

use tollgate::{Db, PASSWORD, TestServer, browser, csrf_of};

#[tokio::test]
async fn password_lockout_after_configured_failures() {
    let clock = tollgate_authz::clock::Clock::manual(1_800_000_000);
    let Some(srv) = TestServer::start_with_clock(Db::Sqlite, clock.clone(), |c| {
        c.login.max_failures_per_user = 3;
        c.login.interaction_ttl = 3600;
        // The failures raise the risk score too (policy.rs tests that);
        // here only the lockout is under test.
        c.policy.files = vec![tollgate::allow_all_policy()];
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let http = browser();
    let url = format!(
        "{}/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        srv.base
    );
    let r = http.get(&url).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = format!("{}{loc}", srv.base);
    let csrf = csrf_of(&http.get(&page).send().await.unwrap().text().await.unwrap());
    let attempt = |pw: &'static str| {
        let (http, page, csrf) = (http.clone(), page.clone(), csrf.clone());
        async move {
            http.post(&page)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", "alice"),
                    ("password", pw),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // (password, expected status)
    for (pw, want) in [
        ("wrong1", 401),
        ("wrong2", 401),
        ("wrong3", 401),
        (PASSWORD, 429),
    ] {
        assert_eq!(attempt(pw).await, want, "{pw}");
    }
    clock.advance(901);
    assert_eq!(attempt(PASSWORD).await, 303, "lock expires");
    // Failures and the lock are in the audit log.
    let records = srv.app.store.audit_records(0, 100).await.unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "login.failure").count(), 3);
    assert!(
        kinds.contains(&"login.locked") && kinds.contains(&"login.success"),
        "{kinds:?}"
    );
    assert_eq!(
        srv.app.store.verify_audit().await.unwrap().unwrap(),
        records.len() as u64
    );
    srv.stop().await;
}

#[tokio::test]
async fn csrf_and_browser_binding_are_enforced() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    let http = browser();
    let url = format!(
        "{}/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        srv.base
    );
    let loc = http.get(&url).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let page = format!("{}{loc}", srv.base);
    let csrf = csrf_of(&http.get(&page).send().await.unwrap().text().await.unwrap());
    let bad = http
        .post(&page)
        .form(&[
            ("csrf", "forged"),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let other_browser = browser();
    let r = other_browser
        .post(&page)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "an interaction is bound to the browser that started it"
    );
    let kinds: Vec<String> = srv
        .app
        .store
        .audit_records(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert!(
        kinds.contains(&"login.csrf_mismatch".to_string())
            && kinds.contains(&"login.browser_mismatch".to_string()),
        "{kinds:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn rotated_keys_are_published_before_they_sign() {
    let clock = tollgate_authz::clock::Clock::manual(1_800_000_000);
    let Some(srv) = TestServer::start_with_clock(Db::Sqlite, clock.clone(), |_| {}).await else {
        return;
    };
    srv.add_client("svc", |c| {
        c.grant_types = Some(vec!["client_credentials".into()]);
        c.redirect_uris = vec![];
    })
    .await;
    let http = browser();
    let kid_of = |t: &str| {
        crate::oidc_flow::jwt_header(t)["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let token = || async {
        crate::oidc_flow::raw_token(
            &http,
            &srv.base,
            "svc",
            &[("grant_type", "client_credentials")],
        )
        .await
        .1["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let old_kid = kid_of(&token().await);
    let jwks = http.get(format!("{}/jwks", srv.base)).send().await.unwrap();
    assert!(
        jwks.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=300")
    );

    let master = tollgate_authz::master_key::MasterKey::from_material(
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "t",
    )
    .unwrap();
    let now = clock.now();
    let row = tollgate_authz::keys::generate_key(
        tollgate_authz::keys::Alg::ES256,
        &master,
        now,
        now + 600,
    )
    .unwrap();
    srv.app
        .store
        .add_key_retiring_others(&row, now + 600 + 360)
        .await
        .unwrap();
    srv.app.reload_keys().await.unwrap();
    let kids = |v: serde_json::Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let published = kids(
        http.get(format!("{}/jwks", srv.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    assert!(published.contains(&row.kid) && published.contains(&old_kid));
    assert_eq!(
        kid_of(&token().await),
        old_kid,
        "the new key does not sign before activation"
    );
    clock.advance(600);
    let t = token().await;
    assert_eq!(kid_of(&t), row.kid, "after activation the new key signs");
    clock.advance(361);
    srv.app.reload_keys().await.unwrap();
    let published = kids(
        http.get(format!("{}/jwks", srv.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    assert!(
        !published.contains(&old_kid),
        "the old key leaves once its tokens expired"
    );
    srv.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_discovery() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let http = browser();
    assert_eq!(
        http.get(format!("{}/healthz", srv.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{}/readyz", srv.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let d: serde_json::Value = http
        .get(format!("{}/.well-known/openid-configuration", srv.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], srv.base);
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    for k in [
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        assert!(d[k].as_str().unwrap().starts_with(&srv.base), "{k}");
    }
    let m = http
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("tollgate_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(m.contains("tollgate_http_request_duration_seconds_bucket"));
    srv.stop().await;
}
