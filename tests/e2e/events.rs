//! Revocation that reaches relying parties (issue 7): CAEP `session-revoked`
//! Security Event Tokens pushed to a Shared Signals receiver (RFC 8935),
//! and OIDC Back-Channel Logout tokens, both verified here against the
//! issuer's JWKS with an independent JWT library (jsonwebtoken); a
//! receiver that is down gets its events after it comes back, across a
//! Tollgate restart.

use crate::authenticators::{authorize_url, loc};
use crate::policy::{CN, DE, DENY_ASN, browser_at, password, server_with};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tollgate::TestServer;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: String,
    body: String,
    at: Instant,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A receiver on `listener` answering `202` (SSF push) to everything and
/// recording what it got.
async fn receiver(listener: tokio::net::TcpListener) -> Inbox {
    use axum::extract::Request;
    let inbox: Inbox = Arc::default();
    let keep = inbox.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let keep = keep.clone();
        async move {
            let path = req.uri().path().to_owned();
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            keep.lock().unwrap().push(Received {
                path,
                content_type,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                at: Instant::now(),
            });
            axum::http::StatusCode::ACCEPTED
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    inbox
}

/// Waits (at most `secs`) until `inbox` has a request to `path`.
async fn wait_for(inbox: &Inbox, path: &str, secs: u64) -> Option<Received> {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if let Some(r) = inbox.lock().unwrap().iter().find(|r| r.path == path) {
            return Some(r.clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Verifies a JWT against the issuer's JWKS with jsonwebtoken; returns
/// (header typ, claims).
async fn verify(
    srv: &TestServer,
    jwt: &str,
    audience: &str,
    exp_required: bool,
) -> (String, Value) {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let jwks: JwkSet = reqwest::get(format!("{}/jwks", srv.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(jwt).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the signing key is in the JWKS");
    let mut v = Validation::new(header.alg);
    assert!(matches!(header.alg, Algorithm::RS256 | Algorithm::ES256));
    v.set_audience(&[audience]);
    v.set_issuer(&[srv.app.urls.issuer.as_str()]);
    if !exp_required {
        v.required_spec_claims.clear();
        v.validate_exp = false;
    }
    let data =
        decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &v).expect("signature verifies");
    (header.typ.unwrap_or_default(), data.claims)
}

async fn free_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test]
async fn a_deny_with_revocation_reaches_ssf_receivers_and_logs_out_relying_parties() {
    let listener = free_listener().await;
    let rx = format!("http://{}", listener.local_addr().unwrap());
    let inbox = receiver(listener).await;
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(tollgate::Db::Sqlite, files, DENY_ASN).await else {
        return;
    };
    // The SSF receiver and the relying party's back-channel logout URI.
    let srv = srv
        .stop_keeping_data()
        .await
        .restart_with(|c| {
            c.ssf.receivers = vec![serde_json::from_value(serde_json::json!({
                "name": "siem", "endpoint": format!("{rx}/ssf"), "audience": "https://siem.example"
            }))
            .unwrap()];
        })
        .await;
    srv.add_client("rp2", |c| {
        c.redirect_uris = vec!["https://rp.example/cb".into()];
        c.backchannel_logout_uri = Some(format!("{rx}/bcl"));
    })
    .await;
    let base = srv.base.clone();
    srv.add_user("bob", &[]).await;
    let meta: Value = reqwest::get(format!("{base}/.well-known/ssf-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["spec_version"], "1_0");
    assert_eq!(
        meta["delivery_methods_supported"],
        serde_json::json!(["urn:ietf:rfc:8935"])
    );
    assert_eq!(meta["jwks_uri"], format!("{}/jwks", srv.app.urls.issuer));

    // Bob signs in at rp2: a session with a grant.
    let home = browser_at(DE);
    let url = authorize_url(&base, "").replace("client_id=rp", "client_id=rp2");
    let r = password(&home, &base, &url, "bob").await;
    let code_url = loc(&r);
    let t = crate::policy::code_exchange(&home, &base, "rp2", &code_url).await;
    let id = crate::oidc_flow::jwt_payload(t["id_token"].as_str().unwrap());

    // From the blocked network: denied with revocation.
    let away = browser_at(CN);
    let r = password(&away, &base, &authorize_url(&base, ""), "bob").await;
    assert_eq!(r.status(), 403);
    let denied_at = Instant::now();

    let Some(set) = wait_for(&inbox, "/ssf", 5).await else {
        let m = tollgate::get_text(&home, &format!("{base}/metrics")).await;
        let kinds = crate::authenticators::audit_kinds(&srv).await;
        panic!(
            "no SET reached the receiver; pending {:?}; intents {:?}; receivers {:?}; {kinds:?}; {}",
            srv.app.store.pending_deliveries().await,
            srv.app.store.pending_intents(10).await,
            srv.app.config.ssf.receivers,
            m.lines()
                .filter(|l| l.contains("event"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    assert!(
        set.at.duration_since(denied_at) <= Duration::from_secs(2),
        "session-revoked took {:?}",
        set.at.duration_since(denied_at)
    );
    assert_eq!(set.content_type, "application/secevent+jwt");
    let (typ, claims) = verify(&srv, &set.body, "https://siem.example", false).await;
    assert_eq!(typ, "secevent+jwt");
    assert!(claims.get("exp").is_none(), "a SET has no exp: {claims}");
    let events = claims["events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "one event per SET");
    let event = &events["https://schemas.openid.net/secevent/caep/event-type/session-revoked"];
    assert_eq!(event["initiating_entity"], "policy", "{claims}");
    assert_eq!(claims["sub_id"]["user"]["sub"], id["sub"]);
    assert_eq!(claims["sub_id"]["session"]["id"], id["sid"]);
    assert_eq!(
        jsonwebtoken::decode_header(&set.body).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );

    // rp2 got a back-channel logout token for that session.
    let bcl = wait_for(&inbox, "/bcl", 5)
        .await
        .expect("a logout token reaches rp2");
    assert!(
        bcl.content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&bcl.body).unwrap();
    let token = &form.iter().find(|(k, _)| k == "logout_token").unwrap().1;
    let (typ, claims) = verify(&srv, token, "rp2", true).await;
    assert_eq!(typ, "logout+jwt");
    assert_eq!((&claims["sub"], &claims["sid"]), (&id["sub"], &id["sid"]));
    assert_eq!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"],
        serde_json::json!({})
    );
    assert!(claims.get("nonce").is_none());
    let meta: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["backchannel_logout_session_supported"], true);
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_its_events_after_a_restart() {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(srv) = TestServer::start(tollgate::Db::Sqlite, |c| {
        c.ssf.receivers = vec![serde_json::from_value(serde_json::json!({
            "name": "gw", "endpoint": format!("http://127.0.0.1:{port}/ssf"), "events": ["session-revoked"]
        }))
        .unwrap()];
    })
    .await
    else {
        return;
    };
    srv.add_user("carol", &[]).await;
    // An administrator disables carol: her access is revoked.
    srv.app
        .store
        .disable_user("carol", srv.app.now())
        .await
        .unwrap();
    let mut failed = false;
    for _ in 0..100 {
        let m = reqwest::get(format!("{}/metrics", srv.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.contains("tollgate_event_deliveries_total{channel=\"ssf\",outcome=\"failed\"}") {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed, "the first push fails: the receiver is down");
    assert_eq!(srv.app.store.pending_deliveries().await.unwrap(), 1);

    let stopped = srv.stop_keeping_data().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let inbox = receiver(listener).await;
    let srv = stopped.restart().await;
    let set = wait_for(&inbox, "/ssf", 10)
        .await
        .expect("delivered after the restart");
    let (_, claims) = verify(
        &srv,
        &set.body,
        &format!("http://127.0.0.1:{port}/ssf"),
        false,
    )
    .await;
    let event =
        &claims["events"]["https://schemas.openid.net/secevent/caep/event-type/session-revoked"];
    assert_eq!(event["initiating_entity"], "admin", "{claims}");
    let user = srv.app.store.user_by_login("carol").await.unwrap().unwrap();
    assert_eq!(claims["sub_id"]["sub"], user.id.as_str());
    for _ in 0..50 {
        if srv.app.store.pending_deliveries().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the delivery is still pending after it arrived");
}

#[tokio::test]
async fn adding_a_passkey_is_a_credential_change_event() {
    let listener = free_listener().await;
    let rx = format!("http://{}", listener.local_addr().unwrap());
    let inbox = receiver(listener).await;
    let Some(srv) = TestServer::start(tollgate::Db::Sqlite, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
        c.policy.files = vec![tollgate::allow_all_policy()];
        c.ssf.receivers = vec![
            serde_json::from_value(serde_json::json!({
                "name": "siem", "endpoint": format!("{rx}/ssf"), "events": ["credential-change"]
            }))
            .unwrap(),
        ];
    })
    .await
    else {
        return;
    };
    srv.add_user("alice", &[]).await;
    let http = tollgate::browser();
    let csrf = crate::authenticators::account_session(&http, &srv.base).await;
    crate::authenticators::register(&http, &srv.base, &csrf, true).await;
    let set = wait_for(&inbox, "/ssf", 5)
        .await
        .expect("a credential-change SET");
    let aud = format!("{rx}/ssf");
    let (_, claims) = verify(&srv, &set.body, &aud, false).await;
    let e =
        &claims["events"]["https://schemas.openid.net/secevent/caep/event-type/credential-change"];
    assert_eq!(
        (
            e["credential_type"].as_str(),
            e["change_type"].as_str(),
            e["initiating_entity"].as_str()
        ),
        (Some("fido2-platform"), Some("create"), Some("user")),
        "{claims}"
    );
}

/// Receivers on an internal CA: the same HTTPS receiver (nginx with a
/// certificate from a CA made here, in front of a plain one) configured
/// twice, with and without `ca_file`. Only the one that trusts the CA gets
/// the SET; the other's delivery stays pending, failed.
#[tokio::test]
async fn a_receiver_behind_a_private_ca_needs_its_ca_file() {
    if !crate::tls_front::TlsFront::available() {
        return;
    }
    let listener = free_listener().await;
    let upstream = listener.local_addr().unwrap().to_string();
    let inbox = receiver(listener).await;
    let front = crate::tls_front::TlsFront::start(&upstream);
    let (url, ca) = (front.url.clone(), front.ca.clone());
    let Some(srv) = TestServer::start(tollgate::Db::Sqlite, move |c| {
        c.ssf.receivers = vec![
            serde_json::from_value(serde_json::json!({
                "name": "trusting", "endpoint": format!("{url}/trusting"),
                "events": ["session-revoked"], "ca_file": ca,
            }))
            .unwrap(),
            serde_json::from_value(serde_json::json!({
                "name": "untrusting", "endpoint": format!("{url}/untrusting"),
                "events": ["session-revoked"],
            }))
            .unwrap(),
        ];
    })
    .await
    else {
        return;
    };
    srv.add_user("carol", &[]).await;
    srv.app
        .store
        .disable_user("carol", srv.app.now())
        .await
        .unwrap();
    let set = wait_for(&inbox, "/trusting", 10)
        .await
        .expect("the receiver with ca_file gets the SET over TLS");
    let aud = format!("{}/trusting", front.url);
    let (typ, _) = verify(&srv, &set.body, &aud, false).await;
    assert_eq!(typ, "secevent+jwt");
    let mut failed = false;
    for _ in 0..100 {
        let m = tollgate::get_text(&reqwest::Client::new(), &format!("{}/metrics", srv.base)).await;
        if m.contains("tollgate_event_deliveries_total{channel=\"ssf\",outcome=\"failed\"}") {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed, "the push without the CA fails");
    assert!(
        inbox
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.path != "/untrusting"),
        "nothing reached the receiver through an untrusted certificate"
    );
    assert_eq!(srv.app.store.pending_deliveries().await.unwrap(), 1);
}
