//! Attack corpus, operations endpoints (issue 13): `/metrics` is not
//! public on the main listener outside the demo. It is served there only
//! to the `[metrics] token_env` bearer token, or on the separate `[metrics]
//! listen` address; discovery advertises only the `prompt` values that
//! `/authorize` acts on.

use serde_json::Value;
use tollgate::{Db, METRICS_TOKEN, METRICS_TOKEN_ENV, TestServer};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn metrics_are_not_public_outside_the_demo() {
    let ops = format!("127.0.0.1:{}", free_port());
    let listen = ops.clone();
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.metrics.public = false;
        c.metrics.token_env = Some(METRICS_TOKEN_ENV.into());
        c.metrics.listen = Some(listen);
    })
    .await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let main = format!("{}/metrics", srv.base);
    // (what, url, bearer, status)
    let cases = [
        ("main, no token", main.clone(), None, 401),
        (
            "main, wrong token",
            main.clone(),
            Some("x".repeat(METRICS_TOKEN.len())),
            401,
        ),
        (
            "main, the token",
            main.clone(),
            Some(METRICS_TOKEN.to_owned()),
            200,
        ),
        ("ops listener", format!("http://{ops}/metrics"), None, 200),
        (
            "ops listener health",
            format!("http://{ops}/healthz"),
            None,
            200,
        ),
        (
            "ops listener, nothing else",
            format!("http://{ops}/.well-known/openid-configuration"),
            None,
            404,
        ),
    ];
    for (what, url, bearer, status) in cases {
        let mut r = http.get(&url);
        if let Some(t) = &bearer {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), status, "{what}");
        if status == 200 && url.ends_with("/metrics") {
            assert!(r.text().await.unwrap().contains("# EOF"), "{what}");
        }
    }
    srv.stop().await;

    // Neither token nor public: not on the main listener at all.
    let Some(srv) = TestServer::start(Db::Sqlite, |c| c.metrics.public = false).await else {
        return;
    };
    let r = http
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let d: Value = http
        .get(format!("{}/.well-known/openid-configuration", srv.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["prompt_values_supported"],
        serde_json::json!(["none", "login"])
    );
}
