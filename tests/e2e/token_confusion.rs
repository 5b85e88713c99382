//! Attack corpus, tokens where they do not belong (issue 13):
//! introspection tells only the token's own client, a resource server
//! named in its `aud`, or a client holding `introspect`; `/userinfo`
//! takes only access tokens whose `aud` names it. The measured attack: a
//! client with nothing but `client_credentials` introspected a user's
//! access token issued to another client and read `active: true` and the
//! user's `sub`.

use crate::authenticators::{authorize_url, server};
use crate::oidc_flow::introspect;
use crate::policy::code_exchange;
use serde_json::Value;
use tollgate::{Db, PASSWORD, browser, login};
use tollgate_authz::oauth::grant::AuthContext;

#[tokio::test]
async fn introspection_answers_only_those_a_token_is_for() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    crate::callers::service_client(&srv, "svc", &[]).await;
    crate::callers::service_client(&srv, "auditor", &["introspect"]).await;
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    let t = code_exchange(&http, &base, "rp", &back).await;
    let (at, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    let alice = srv.user_id("alice").await;
    // (caller, token, active?)
    let cases = [
        ("svc", at, false),
        ("svc", rt, false),
        ("rp", at, true),
        ("rp", rt, true),
        ("auditor", at, true),
        ("auditor", rt, true),
    ];
    for (caller, token, active) in cases {
        let v: Value = introspect(&http, &base, caller, token).await;
        assert_eq!(v["active"], active, "{caller}: {v}");
        if !active {
            assert_eq!(
                v.as_object().unwrap().len(),
                1,
                "{caller} learns nothing: {v}"
            );
        } else {
            assert_eq!(v["sub"], alice.as_str(), "{caller}: {v}");
        }
    }
}

#[tokio::test]
async fn userinfo_takes_only_tokens_issued_for_it() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    let t = code_exchange(&http, &base, "rp", &back).await;
    let alice = srv.user_id("alice").await;
    let now = srv.app.now();
    let auth = AuthContext {
        acr: "aal1".into(),
        amr: vec!["pwd".into()],
        auth_time: now,
        sid: None,
    };
    let openid = vec!["openid".to_owned(), "profile".to_owned()];
    // A real access token of ours, signed with our key, with the openid
    // scope, but minted for an API (what a client_credentials-style or
    // resource-server token looks like): not a key to the user's claims.
    let for_api = |aud: &str| {
        tollgate_authz::oauth::tokens::access_token(
            &srv.app, "rp", aud, &alice, &openid, None, None, None, now,
        )
        .unwrap()
        .token
    };
    let with_user_for_api = tollgate_authz::oauth::tokens::access_token(
        &srv.app,
        "rp",
        "https://api.example",
        &alice,
        &["profile".to_owned()],
        Some(&auth),
        None,
        None,
        now,
    )
    .unwrap()
    .token;
    // (what, token, status)
    let cases = [
        (
            "the client's own token",
            t["access_token"].as_str().unwrap().to_owned(),
            200,
        ),
        ("a token for an API", for_api("https://api.example"), 401),
        ("a token for another client", for_api("other-client"), 401),
        (
            "a user token without openid for an API",
            with_user_for_api,
            401,
        ),
        (
            "a token for the userinfo endpoint",
            for_api(&srv.app.urls.userinfo),
            200,
        ),
    ];
    for (what, token, status) in cases {
        let r = http
            .get(format!("{base}/userinfo"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{what}");
        if status == 200 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["sub"], alice.as_str(), "{what}");
        } else {
            let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
        }
    }
}
