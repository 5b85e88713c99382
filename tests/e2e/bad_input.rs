//! The bad-input corpus (issue 13): a seeded, reproducible stream of
//! malformed requests at every endpoint — truncated, duplicated and
//! oversized parameters, wrong content types, invalid UTF-8, huge headers,
//! malformed JWS/JSON/forms — asserting zero 5xx, no dropped connection
//! (a panic in a handler shows as one) and that nothing stored changes.
//! `TOLLGATE_CORPUS_SEED` replays another stream; the count and the seed
//! are printed.

use tollgate::{Db, SECRET, TestServer};

/// xorshift64*: small, seeded, the same stream on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/token"),
    ("POST", "/introspect"),
    ("POST", "/revoke"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
    ("GET", "/authorize"),
    ("POST", "/authorize"),
    ("GET", "/end_session"),
    ("POST", "/end_session"),
    ("POST", "/v1/decide"),
    ("GET", "/ext_authz/admin/users"),
    ("POST", "/ext_authz"),
    ("GET", "/login/x"),
    ("POST", "/login/x"),
    ("POST", "/login/x/totp"),
    ("POST", "/login/x/passkey/options"),
    ("POST", "/login/x/passkey"),
    ("POST", "/login/x/device"),
    ("GET", "/account"),
    ("POST", "/account/passkeys"),
    ("POST", "/v1/agent/enroll/begin"),
    ("POST", "/v1/agent/enroll/finish"),
    ("POST", "/v1/agent/challenges/pending"),
    ("POST", "/v1/agent/challenges/x/answer"),
    ("POST", "/v1/agent/grant"),
    ("POST", "/v1/agent/receipts"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/jwks"),
];

const NAMES: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "refresh_token",
    "token",
    "token_type_hint",
    "scope",
    "code_verifier",
    "client_assertion",
    "client_assertion_type",
    "response_type",
    "state",
    "nonce",
    "acr_values",
    "max_age",
    "prompt",
    "code_challenge",
    "code_challenge_method",
    "id_token_hint",
    "post_logout_redirect_uri",
    "csrf",
    "username",
    "password",
    "access_token",
];

const VALUES: &[&str] = &[
    "",
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "rp",
    "https://rp.example/cb",
    "openid",
    "S256",
    "none login",
    "-1",
    "99999999999999999999",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.e30.",
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.AAAA",
    "..",
    "%00",
    "%ff%fe",
    "\u{0}",
    "\u{202e}",
    "null",
    "[]",
    "{}",
];

/// A malformed JWS-looking string.
fn jws(r: &mut Rng) -> String {
    let parts = 1 + r.below(5);
    (0..parts)
        .map(|_| {
            let n = r.below(40);
            base64_url(&r.bytes(n))
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn base64_url(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    b.iter().map(|x| A[(*x & 63) as usize] as char).collect()
}

fn value(r: &mut Rng) -> Vec<u8> {
    match r.below(6) {
        0 => r.pick(VALUES).as_bytes().to_vec(),
        1 => jws(r).into_bytes(),
        2 => {
            let n = r.below(64);
            r.bytes(n)
        }
        3 => "x".repeat(r.below(5000)).into_bytes(),
        4 => format!("{}{}", r.pick(VALUES), r.pick(VALUES)).into_bytes(),
        _ => {
            let v = r.pick(VALUES).as_bytes();
            v[..r.below(v.len() + 1)].to_vec()
        }
    }
}

fn percent(b: &[u8]) -> String {
    b.iter()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                (*c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

/// A form or query string: random names (some repeated), random values.
fn form(r: &mut Rng) -> String {
    let n = r.below(8);
    let mut out = Vec::new();
    for _ in 0..n {
        let name = r.pick(NAMES).to_string();
        let v = value(r);
        let times = if r.below(5) == 0 { 2 } else { 1 };
        for _ in 0..times {
            out.push(format!("{name}={}", percent(&v)));
        }
    }
    if r.below(10) == 0 {
        out.push("=&&==%".into());
    }
    out.join("&")
}

/// A JSON-ish body: valid JSON of the wrong shape, or broken JSON.
fn json_body(r: &mut Rng) -> Vec<u8> {
    let doc = match r.below(5) {
        0 => serde_json::json!({"subject": String::from_utf8_lossy(&value(r)), "context": {"ip": String::from_utf8_lossy(&value(r))}}).to_string(),
        1 => serde_json::json!({"subject": "alice", "resource": String::from_utf8_lossy(&value(r))}).to_string(),
        2 => serde_json::json!([1, {"a": null}, "x"]).to_string(),
        3 => "{\"subject\":".repeat(1 + r.below(50)),
        _ => {
            let n = r.below(300);
            return r.bytes(n);
        }
    };
    let mut d = doc.into_bytes();
    if r.below(4) == 0 {
        d.truncate(r.below(d.len() + 1));
    }
    d
}

/// Row counts of everything a request could create or destroy (not the
/// audit log, where refusals belong, nor short-lived login interactions).
async fn counts(url: &str) -> Vec<(&'static str, i64)> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut out = Vec::new();
    for table in [
        "clients",
        "users",
        "sessions",
        "grants",
        "auth_codes",
        "refresh_tokens",
        "revoked_tokens",
        "signing_keys",
        "passkeys",
        "totp_factors",
        "devices",
        "device_enrollments",
        "offline_grants",
        "event_intents",
        "scim_outbox",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        out.push((table, n));
    }
    pool.close().await;
    out
}

#[tokio::test]
async fn ten_thousand_malformed_requests_cause_no_server_error() {
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.gateway.audiences = vec!["https://api.example".into()];
    })
    .await
    else {
        return;
    };
    srv.add_client("rp", |c| c.permissions = vec!["decide".into()])
        .await;
    srv.add_user("alice", &[]).await;
    let seed: u64 = std::env::var("TOLLGATE_CORPUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7011_6a7e_2026_0013);
    let mut r = Rng(seed | 1);
    let url = srv.config_database_url();
    let before = counts(&url).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    const CASES: usize = 10_000;
    let mut failures = Vec::new();
    let (mut sent, mut unsendable) = (0usize, 0usize);
    for i in 0..CASES + CASES / 5 {
        if sent == CASES {
            break;
        }
        let (method, path) = *r.pick(ENDPOINTS);
        let query = if r.below(3) == 0 {
            format!("?{}", form(&mut r))
        } else {
            String::new()
        };
        let url = format!("{}{path}{query}", srv.base);
        let mut req = http.request(method.parse().unwrap(), &url);
        let body: Vec<u8> = match r.below(5) {
            0 => form(&mut r).into_bytes(),
            1 => json_body(&mut r),
            2 => {
                let n = r.below(2000);
                r.bytes(n)
            }
            3 => vec![b'a'; 70_000 + r.below(10_000)],
            _ => Vec::new(),
        };
        let ct = *r.pick(&[
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded; charset=utf-16",
            "",
        ]);
        if !ct.is_empty() {
            req = req.header("content-type", ct);
        }
        match r.below(6) {
            0 => req = req.header("authorization", format!("Bearer {}", jws(&mut r))),
            1 => req = req.basic_auth(r.pick(&["rp", "nobody", "", "rp:x"]), Some(SECRET)),
            2 => {
                req = req.header(
                    "authorization",
                    String::from_utf8_lossy(&value(&mut r)).replace(['\r', '\n', '\0'], ""),
                )
            }
            3 => req = req.header("x-original-uri", format!("/{}", percent(&value(&mut r)))),
            4 => req = req.header("x-forwarded-for", "x".repeat(r.below(20_000))),
            _ => {}
        }
        if r.below(8) == 0 {
            req = req.header(
                "cookie",
                format!("tg_session={}; tg_device={}", jws(&mut r), jws(&mut r)),
            );
        }
        // A request the client library itself will not form (a header
        // with a control character) never reaches the server: not a case.
        let Ok(built) = req.body(body).build() else {
            unsendable += 1;
            continue;
        };
        sent += 1;
        let what = format!("#{i} {method} {}", &url[..url.len().min(160)]);
        match http.execute(built).await {
            Ok(resp) if resp.status().is_server_error() => {
                failures.push(format!("{what}: {}", resp.status()));
            }
            Ok(_) => {}
            Err(e) => failures.push(format!("{what}: no answer ({e})")),
        }
    }
    let after = counts(&url).await;
    println!(
        "bad-input corpus: {sent} requests ({unsendable} not formable by the client, skipped), {} server errors (seed {seed:#x})",
        failures.len()
    );
    assert_eq!(sent, CASES, "the corpus sends {CASES} requests");
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(20)].join("\n")
    );
    assert_eq!(before, after, "nothing stored changes");
}
