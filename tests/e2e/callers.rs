//! Attack corpus, who may ask (issue 13): `/v1/decide` answers only
//! clients holding the `decide` permission, and a decision a caller asks
//! for ends the subject's sessions only when that client also holds
//! `decide_revokes`. The measured attack: a client with nothing but
//! `client_credentials` asked about a user from a blocked network, got a
//! revoking `deny`, and that user's refresh token stopped working.

use crate::authenticators::{authorize_url, loc};
use crate::policy::{CN, DE, DENY_ASN, browser_at, password, refresh, server_with, tokens};
use serde_json::{Value, json};
use tollgate::{Db, SECRET};

/// A confidential client with only `client_credentials` and `permissions`.
pub(crate) async fn service_client(srv: &tollgate::TestServer, id: &str, permissions: &[&str]) {
    srv.add_client(id, |c| {
        c.grant_types = Some(vec!["client_credentials".into()]);
        c.redirect_uris = vec![];
        c.post_logout_redirect_uris = vec![];
        c.permissions = permissions.iter().map(|p| p.to_string()).collect();
    })
    .await;
}

#[tokio::test]
async fn only_a_trusted_caller_can_make_a_decision_revoke_another_user() {
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(Db::Sqlite, files, DENY_ASN).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("bob", &[]).await;
    service_client(&srv, "svc", &[]).await;
    service_client(&srv, "partner", &["decide"]).await;
    service_client(&srv, "trusted", &["decide", "decide_revokes"]).await;
    let home = browser_at(DE);
    let r = password(&home, &base, &authorize_url(&base, ""), "bob").await;
    let (_, mut live) = tokens(&home, &base, &loc(&r)).await;
    let http = reqwest::Client::new();
    let hostile = json!({"subject": "bob", "context": {"ip": CN, "user_agent": "x"}});
    // (caller, status, decision, bob's refresh token still works afterwards)
    let cases = [
        ("svc", 403, None, true),
        ("partner", 200, Some("deny"), true),
        ("trusted", 200, Some("deny"), false),
    ];
    for (caller, status, decision, survives) in cases {
        let r = http
            .post(format!("{base}/v1/decide"))
            .basic_auth(caller, Some(SECRET))
            .json(&hostile)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{caller}");
        let body: Value = r.json().await.unwrap();
        match decision {
            Some(d) => assert_eq!(body["decision"], d, "{caller}: {body}"),
            None => assert_eq!(body["error"], "access_denied", "{caller}: {body}"),
        }
        let (s, t) = refresh(&home, &base, &live).await;
        assert_eq!(
            s == 200,
            survives,
            "{caller}: refresh after the decision: {t}"
        );
        if s == 200 {
            live = t["refresh_token"].as_str().unwrap().to_owned();
        }
    }
    // Everything refused or denied is in the audit log, with what the
    // revocation did.
    let records = srv.app.store.audit_records(0, 10_000).await.unwrap();
    let refused = records
        .iter()
        .filter(|r| r.kind == "gateway.caller_refused" && r.actor == "svc")
        .count();
    assert_eq!(refused, 1);
    let revocations: Vec<(String, String)> = records
        .iter()
        .filter(|r| r.kind == "policy.decision" && r.data["point"] == "decide")
        .map(|r| {
            (
                r.actor.clone(),
                r.data["revocation"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        revocations,
        vec![
            ("partner".to_owned(), "not_permitted".to_owned()),
            ("trusted".to_owned(), "carried_out".to_owned()),
        ]
    );
}

#[tokio::test]
async fn decisions_for_one_subject_are_rate_limited() {
    let files = vec![tollgate::allow_all_policy()];
    let Some(srv) = tollgate::TestServer::start(Db::Sqlite, |c| {
        c.policy.files = files;
        c.gateway.decide_per_subject_per_minute = 5;
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |c| c.permissions = vec!["decide".into()])
        .await;
    let http = reqwest::Client::new();
    let ask = |subject: &'static str| {
        http.post(format!("{}/v1/decide", srv.base))
            .basic_auth("rp", Some(SECRET))
            .json(&json!({"subject": subject}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(ask("carol").await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    let r = ask("dave").await.unwrap();
    assert_eq!(r.status(), 200, "another subject has its own budget");
}
