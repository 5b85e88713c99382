//! The whole relying-party journey with the `openidconnect` crate, on
//! SQLite and on PostgreSQL, for ES256 and RS256 clients.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use tollgate::{Db, PASSWORD, SECRET, TestServer, browser, login, param};

async fn journey(db: Db, alg: &str) {
    let Some(srv) = TestServer::start(db, |_| {}).await else {
        return;
    };
    let client_id = format!("rp-{}", alg.to_lowercase());
    srv.add_client(&client_id, |c| {
        c.id_token_signed_response_alg = Some(alg.into())
    })
    .await;
    let sub = srv.add_user("alice", &["vc-admins", "ops"]).await;

    let http = browser();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(srv.base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("https://{client_id}.example/cb")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();

    let back = login(&http, &srv.base, url.as_str(), "alice", PASSWORD).await;
    assert!(
        back.starts_with(&format!("https://{client_id}.example/cb?")),
        "{back}"
    );
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(srv.base.as_str()));
    let code = param(&back, "code").expect("code");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let verifier = rp.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    ]);
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies against the JWKS");
    assert_eq!(jwt_header(&id_token.to_string())["alg"], alg);
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("aal1"));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, vec!["pwd"]);
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let raw: serde_json::Value = jwt_payload(&id_token.to_string());
    assert_eq!(raw["upn"], "alice@corp.example");
    assert_eq!(raw["groups"], serde_json::json!(["vc-admins", "ops"]));
    assert!(raw["sid"].is_string());

    // The access token is an RFC 9068 JWT.
    let at = tokens.access_token().secret().clone();
    let header = jwt_header(&at);
    assert_eq!(header["typ"], "at+jwt");
    let at_claims = jwt_payload(&at);
    assert_eq!(at_claims["client_id"], client_id);
    assert_eq!(at_claims["acr"], "aal1");

    // userinfo
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);

    // introspection: active
    let intro = introspect(&http, &srv.base, &client_id, &at).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], sub);

    // refresh: rotation
    let r1 = tokens.refresh_token().expect("refresh token").clone();
    let t2 = rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let r2 = t2.refresh_token().expect("rotated refresh token").clone();
    assert_ne!(r1.secret(), r2.secret());
    // reuse of the old one revokes the family: r2 and the access tokens die too
    let reuse = raw_token(
        &http,
        &srv.base,
        &client_id,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1.secret()),
        ],
    )
    .await;
    assert_eq!(reuse.0, 400);
    assert_eq!(reuse.1["error"], "invalid_grant");
    let after = rp
        .exchange_refresh_token(&RefreshToken::new(r2.secret().clone()))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(after.is_err(), "family must be revoked after reuse");
    let intro = introspect(&http, &srv.base, &client_id, t2.access_token().secret()).await;
    assert_eq!(
        intro["active"], false,
        "access tokens of a revoked family are inactive"
    );

    // A new login (session reused: no password prompt), then revocation and logout.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let r = http.get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.contains("code="),
        "SSO session should answer at once: {back}"
    );
    let tokens = rp
        .exchange_code(AuthorizationCode::new(param(&back, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("second exchange");
    tokens
        .id_token()
        .unwrap()
        .claims(
            &rp.id_token_verifier().set_allowed_algs(vec![
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            ]),
            &nonce,
        )
        .expect("second id token");
    let at = tokens.access_token().secret().clone();
    let status = http
        .post(format!("{}/revoke", srv.base))
        .basic_auth(&client_id, Some(SECRET))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(
        introspect(&http, &srv.base, &client_id, &at).await["active"],
        false
    );
    let rt = tokens.refresh_token().unwrap().secret().clone();
    assert_eq!(
        introspect(&http, &srv.base, &client_id, &rt).await["active"],
        true
    );

    // RP-initiated logout with id_token_hint and a registered post-logout URI.
    let hint = tokens.id_token().unwrap().to_string();
    let r = http
        .get(format!("{}/end_session", srv.base))
        .query(&[
            ("id_token_hint", hint.as_str()),
            (
                "post_logout_redirect_uri",
                &format!("https://{client_id}.example/bye"),
            ),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("https://{client_id}.example/bye?state=s1").as_str()
    );
    assert_eq!(
        introspect(&http, &srv.base, &client_id, &rt).await["active"],
        false,
        "logout revokes the session's grants"
    );
    // The session is gone: prompt=none now says login_required.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .add_prompt(openidconnect::core::CoreAuthPrompt::None)
        .url();
    let r = http.get(url.as_str()).send().await.unwrap();
    assert_eq!(
        param(r.headers()["location"].to_str().unwrap(), "error").as_deref(),
        Some("login_required")
    );
    srv.stop().await;
}

pub fn jwt_payload(t: &str) -> serde_json::Value {
    use base64::Engine;
    let p = t.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

pub fn jwt_header(t: &str) -> serde_json::Value {
    use base64::Engine;
    let p = t.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

pub async fn introspect(
    http: &reqwest::Client,
    base: &str,
    client: &str,
    token: &str,
) -> serde_json::Value {
    http.post(format!("{base}/introspect"))
        .basic_auth(client, Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn raw_token(
    http: &reqwest::Client,
    base: &str,
    client: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(client, Some(SECRET))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn journey_sqlite_es256() {
    journey(Db::Sqlite, "ES256").await;
}

#[tokio::test]
async fn journey_sqlite_rs256() {
    journey(Db::Sqlite, "RS256").await;
}

#[tokio::test]
async fn journey_postgres_es256() {
    journey(Db::Postgres, "ES256").await;
}

#[tokio::test]
async fn journey_postgres_rs256() {
    journey(Db::Postgres, "RS256").await;
}

async fn client_credentials(db: Db) {
    let Some(srv) = TestServer::start(db, |_| {}).await else {
        return;
    };
    srv.add_client("svc", |c| {
        c.grant_types = Some(vec!["client_credentials".into()]);
        c.redirect_uris = vec![];
        c.scopes = Some(vec!["inventory.read".into()]);
    })
    .await;
    let http = browser();
    let (status, body) = raw_token(
        &http,
        &srv.base,
        "svc",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "inventory.read"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].as_str(), claims["scope"].as_str()),
        (Some("svc"), Some("inventory.read"))
    );
    let intro = introspect(
        &http,
        &srv.base,
        "svc",
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "svc");
    srv.stop().await;
}

#[tokio::test]
async fn client_credentials_sqlite() {
    client_credentials(Db::Sqlite).await;
}

#[tokio::test]
async fn client_credentials_postgres() {
    client_credentials(Db::Postgres).await;
}
