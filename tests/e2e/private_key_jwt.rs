//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9) with a
//! real signed assertion: the key pair comes from the `openssl` CLI, the
//! assertion is signed by an independent JWT library (jsonwebtoken), and
//! the client registers only its public JWK.

use serde_json::{Value, json};
use tollgate::{Db, TestServer, temp_dir};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A P-256 key made by OpenSSL: (PKCS#8 PEM private key, public JWK).
fn openssl_p256(dir: &std::path::Path, name: &str) -> (Vec<u8>, Value) {
    use base64::Engine as _;
    let sec1 = dir.join(format!("{name}.pem"));
    let pkcs8 = dir.join(format!("{name}.p8"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &s(&sec1),
    ]);
    run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &s(&sec1),
        "-out",
        &s(&pkcs8),
    ]);
    let der = run(&["ec", "-in", &s(&sec1), "-pubout", "-outform", "DER"]);
    // SubjectPublicKeyInfo ends with the uncompressed point 04 ‖ x ‖ y.
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 4);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": name, "use": "sig", "alg": "ES256",
        "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..]),
    });
    (std::fs::read(&pkcs8).unwrap(), jwk)
}

fn assertion(pem: &[u8], kid: &str, claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, claims, &EncodingKey::from_ec_pem(pem).unwrap()).unwrap()
}

#[tokio::test]
async fn private_key_jwt_with_an_assertion_signed_elsewhere() {
    let dir = temp_dir();
    let (pem, jwk) = openssl_p256(&dir.0, "k1");
    let (other_pem, _) = openssl_p256(&dir.0, "k2");
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_client("svc", |c| {
        c.jwks = Some(json!({"keys": [jwk]}).to_string());
        c.grant_types = Some(vec!["client_credentials".into()]);
        c.redirect_uris = vec![];
    })
    .await;
    let now = srv.app.now();
    let token_url = srv.app.urls.token.clone();
    let claims = |jti: &str, aud: &str, exp: i64| json!({"iss": "svc", "sub": "svc", "aud": aud, "jti": jti, "iat": now, "exp": exp});
    let http = reqwest::Client::new();
    let call = |jwt: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "svc"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", jwt.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let good = assertion(&pem, "k1", &claims("a-1", &token_url, now + 60));
    let (s, t) = call(good.clone()).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        crate::oidc_flow::jwt_payload(t["access_token"].as_str().unwrap())["client_id"],
        "svc"
    );

    // Each of these is refused as invalid_client.
    let cases = [
        ("the same assertion again (jti replay)", good),
        (
            "signed by another key",
            assertion(&other_pem, "k1", &claims("a-2", &token_url, now + 60)),
        ),
        (
            "for another audience",
            assertion(
                &pem,
                "k1",
                &claims("a-3", "https://elsewhere.example/token", now + 60),
            ),
        ),
        (
            "expired",
            assertion(&pem, "k1", &claims("a-4", &token_url, now - 120)),
        ),
        (
            "valid far too long",
            assertion(&pem, "k1", &claims("a-5", &token_url, now + 86_400)),
        ),
        (
            "unknown kid",
            assertion(&pem, "k9", &claims("a-6", &token_url, now + 60)),
        ),
    ];
    for (name, jwt) in cases {
        let (s, e) = call(jwt).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("invalid_client")),
            "{name}: {e}"
        );
    }
    // The issuer identifier is an accepted audience too (RFC 7523 §3).
    let (s, t) = call(assertion(
        &pem,
        "k1",
        &claims("a-7", &srv.app.urls.issuer, now + 60),
    ))
    .await;
    assert_eq!(s, 200, "{t}");
}
