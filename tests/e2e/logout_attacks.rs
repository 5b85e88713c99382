//! Attack corpus, sign-out and codes (issue 13). `/end_session` ends a
//! session at once only for an ID token naming that session; any other
//! `id_token_hint` (the attacker's own ID token, an access token) gets
//! the confirmation page or a refusal, and the victim stays signed in. A
//! code whose grant was revoked by a sign-out redeems nothing.

use crate::authenticators::{authorize_url, server};
use crate::policy::code_exchange;
use tollgate::{Db, PASSWORD, SECRET, browser, csrf_of, login, param};

/// Whether the browser's session still carries a silent authorization.
async fn signed_in(http: &reqwest::Client, base: &str) -> bool {
    let r = http
        .get(authorize_url(base, "&prompt=none"))
        .send()
        .await
        .unwrap();
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    param(to, "code").is_some()
}

/// Signs `user` in on a fresh browser; (browser, its token response).
async fn signed_in_browser(base: &str, user: &str) -> (reqwest::Client, serde_json::Value) {
    let http = browser();
    let back = login(&http, base, &authorize_url(base, ""), user, PASSWORD).await;
    let t = code_exchange(&http, base, "rp", &back).await;
    (http, t)
}

#[tokio::test]
async fn only_the_sessions_own_id_token_signs_out_without_asking() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("mallory", &[]).await;
    let (_, mallory) = signed_in_browser(&base, "mallory").await;
    let mallory_id = mallory["id_token"].as_str().unwrap().to_owned();
    // (what, hint from the victim's own tokens or the attacker's, status,
    //  confirmation page shown, victim still signed in)
    type Pick = fn(&serde_json::Value, &str) -> String;
    let cases: [(&str, Pick, u16, bool, bool); 4] = [
        (
            "the attacker's own ID token",
            |_, m| m.to_owned(),
            200,
            true,
            true,
        ),
        (
            "the victim's access token",
            |v, _| v["access_token"].as_str().unwrap().to_owned(),
            400,
            false,
            true,
        ),
        (
            "the victim's refresh token",
            |v, _| v["refresh_token"].as_str().unwrap().to_owned(),
            400,
            false,
            true,
        ),
        (
            "the victim's own ID token",
            |v, _| v["id_token"].as_str().unwrap().to_owned(),
            200,
            false,
            false,
        ),
    ];
    for (what, pick, status, confirm, survives) in cases {
        let (victim, tokens) = signed_in_browser(&base, "alice").await;
        assert!(signed_in(&victim, &base).await);
        let hint = pick(&tokens, &mallory_id);
        let r = victim
            .get(format!("{base}/end_session"))
            .query(&[("id_token_hint", hint.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{what}");
        let html = r.text().await.unwrap();
        assert_eq!(html.contains("Sign out?"), confirm, "{what}: {html}");
        if confirm {
            assert!(
                html.contains("id=\"cancel\""),
                "{what}: a Cancel is offered"
            );
        }
        assert_eq!(signed_in(&victim, &base).await, survives, "{what}");
    }
    // The confirmation, once the user agrees, carries the redirect along.
    let (victim, _) = signed_in_browser(&base, "alice").await;
    let r = victim
        .get(format!("{base}/end_session"))
        .query(&[
            ("id_token_hint", mallory_id.as_str()),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let mut form: Vec<(String, String)> = vec![("csrf".into(), csrf_of(&html))];
    for name in ["client_id", "post_logout_redirect_uri", "state"] {
        let v = html
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{name} carried: {html}"));
        form.push((name.into(), v.into()));
    }
    let r = victim
        .post(format!("{base}/end_session"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "https://rp.example/bye?state=s1"
    );
    assert!(!signed_in(&victim, &base).await);
}

#[tokio::test]
async fn a_code_issued_before_a_sign_out_redeems_nothing_after_it() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    let code = param(&back, "code").unwrap();
    // Sign out through the confirmation form before the code is redeemed.
    let html = tollgate::get_text(&http, &format!("{base}/end_session")).await;
    let r = http
        .post(format!("{base}/end_session"))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", crate::authenticators::VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body.get("id_token").is_none());
}
