//! Attack corpus, gateway paths (issue 13): with `path: ["/admin/*"] →
//! require: phr` and a catch-all allow, every spelling of `/admin/users`
//! that an upstream routes to `/admin/users` gets the step-up challenge,
//! and every spelling whose meaning depends on the upstream is refused
//! (400, audited), through each of the three places the path comes from:
//! the URL after `/ext_authz` (Envoy), `X-Original-URI` (nginx) and
//! `X-Forwarded-Uri` (APISIX). The nginx run of the same table is in
//! `gateway.rs`.

use crate::policy::{ADMIN_API_NEEDS_PHR, alice_with_passkey, auth_param, browser_at, server_with};
use tollgate::{Db, TestServer};

/// What must come back for a spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// 401 with the RFC 9470 challenge for `phr`.
    StepUp,
    /// 400: the path is refused.
    Refused,
}

use Want::{Refused, StepUp};

/// Spellings of `/admin/users` (and its refusals), as raw request targets.
pub(crate) const SPELLINGS: &[(&str, Want)] = &[
    ("/admin/users", StepUp),
    ("/%61dmin/users", StepUp),
    ("/a%64min/users", StepUp),
    ("/%61%64%6d%69%6e/users", StepUp),
    ("/%61%64%6D%69%6E/%75%73%65%72%73", StepUp),
    ("/admin/%75sers", StepUp),
    ("/admin/%7Eusers", StepUp),
    ("//admin/users", StepUp),
    ("///admin/users", StepUp),
    ("/admin//users", StepUp),
    ("//admin//users/", StepUp),
    ("/./admin/users", StepUp),
    ("/admin/./users", StepUp),
    ("/.//admin/users", StepUp),
    ("/x/../admin/users", StepUp),
    ("/admin/x/../users", StepUp),
    ("/../admin/users", StepUp),
    ("/x/y/../../admin/users", StepUp),
    ("//%61dmin/../admin/./users", StepUp),
    ("/admin/users/", StepUp),
    ("/admin/users/.", StepUp),
    ("/admin/users?x=1", StepUp),
    ("/admin/users?/../../orders", StepUp),
    ("/admin/users%3Fx", StepUp),
    ("/%2Fadmin/users", Refused),
    ("/admin%2Fusers", Refused),
    ("/admin%2fusers", Refused),
    ("/admin%5Cusers", Refused),
    ("/admin\\users", Refused),
    ("/\\admin/users", Refused),
    ("/admin;x=1/users", Refused),
    ("/admin/users;jsessionid=1", Refused),
    ("/orders;/../admin/users", Refused),
    ("/%2e/admin/users", Refused),
    ("/%2e%2e/admin/users", Refused),
    ("/orders/%2E%2E/admin/users", Refused),
    ("/orders/.%2e/admin/users", Refused),
    ("/%2561dmin/users", Refused),
    ("/admin/users%00", Refused),
    ("/admin%00/users", Refused),
    ("/admin/%0ausers", Refused),
    ("/admin/users%ff", Refused),
    ("/admin/%C0%AFusers", Refused),
];

/// A path that is long enough to be refused.
pub(crate) fn over_long() -> String {
    format!("/admin/users/{}", "a".repeat(4200))
}

/// One raw HTTP/1.1 request (no client-side URL parsing, which would
/// already resolve `..` and `\`); the status and the response head.
pub(crate) async fn raw_get(addr: &str, target: &[u8], headers: &[(&str, &[u8])]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").as_bytes());
    for (n, v) in headers {
        req.extend_from_slice(n.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    s.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether a raw response is what `want` says.
pub(crate) fn matches(want: Want, status: u16, text: &str) -> bool {
    match want {
        StepUp => {
            let challenge = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
                .unwrap_or("");
            status == 401
                && challenge.contains("insufficient_user_authentication")
                && auth_param(challenge, "acr_values").as_deref() == Some("phr")
        }
        Refused => status == 400,
    }
}

async fn refusals(srv: &TestServer) -> usize {
    srv.app
        .store
        .audit_records(0, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.kind == "gateway.path_refused")
        .count()
}

/// Each source, each spelling; returns the failures as text.
async fn run_table(srv: &TestServer, token: &str) -> Vec<String> {
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let bearer = format!("Bearer {token}");
    let long = over_long();
    let mut rows: Vec<(Vec<u8>, Want)> = SPELLINGS
        .iter()
        .map(|(s, w)| (s.as_bytes().to_vec(), *w))
        .collect();
    rows.push((long.into_bytes(), Refused));
    rows.push((b"/admin/users\xff".to_vec(), Refused));
    let mut failures = Vec::new();
    for source in ["url", "x-original-uri", "x-forwarded-uri"] {
        let before = refusals(srv).await;
        let mut refused_here = 0;
        for (spelling, want) in &rows {
            let mut headers: Vec<(&str, &[u8])> = vec![("authorization", bearer.as_bytes())];
            let target = if source == "url" {
                [b"/ext_authz".as_slice(), spelling.as_slice()].concat()
            } else {
                headers.push((source, spelling.as_slice()));
                // The URL is harmless: only the header may be believed.
                b"/ext_authz/orders".to_vec()
            };
            let (status, text) = raw_get(&addr, &target, &headers).await;
            if !matches(*want, status, &text) {
                failures.push(format!(
                    "{source} {:?}: want {want:?}, got {status}",
                    String::from_utf8_lossy(spelling)
                ));
            }
            refused_here += usize::from(*want == Refused);
        }
        // Through the headers every refusal is Tollgate's own, so each
        // one is in the audit log (in the URL, hyper refuses some first).
        if source != "url" {
            let audited = refusals(srv).await - before;
            if audited != refused_here {
                failures.push(format!(
                    "{source}: {refused_here} refusals, {audited} audited"
                ));
            }
        }
    }
    failures
}

#[tokio::test]
async fn every_spelling_of_a_protected_path_is_stepped_up_or_refused() {
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(Db::Sqlite, files, ADMIN_API_NEEDS_PHR).await else {
        return;
    };
    let http = browser_at(crate::policy::DE);
    let _pk = alice_with_passkey(&srv, &http).await;
    let weak = crate::policy::password_token(&http, &srv.base, "alice").await;
    assert!(SPELLINGS.len() >= 30);

    // The catch-all allow is there: an unprotected path passes each way.
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let bearer = format!("Bearer {weak}");
    for (target, header) in [
        ("/ext_authz/orders", None),
        ("/ext_authz", Some(("x-original-uri", "/orders?x=1"))),
        ("/ext_authz", Some(("x-forwarded-uri", "//orders/./"))),
    ] {
        let mut h: Vec<(&str, &[u8])> = vec![("authorization", bearer.as_bytes())];
        if let Some((n, v)) = header {
            h.push((n, v.as_bytes()));
        }
        let (status, text) = raw_get(&addr, target.as_bytes(), &h).await;
        assert_eq!(status, 200, "{target} {header:?}: {text}");
    }

    let failures = run_table(&srv, &weak).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // /v1/decide's resource goes through the same normal form.
    let decide = |resource: String| {
        let http = reqwest::Client::new();
        let base = srv.base.clone();
        async move {
            let r = http
                .post(format!("{base}/v1/decide"))
                .basic_auth("rp", Some(tollgate::SECRET))
                .json(
                    &serde_json::json!({"subject": "alice", "resource": resource,
                    "context": {"session": {"acr": "aal1", "auth_time": 0}}}),
                )
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let mut failures = Vec::new();
    for (spelling, want) in SPELLINGS {
        let (status, body) = decide(format!("https://api.example{spelling}")).await;
        let ok = match want {
            StepUp => {
                status == 200 && body["decision"] == "step_up" && body["required_acr"] == "phr"
            }
            Refused => status == 400 && body["error"] == "invalid_request",
        };
        if !ok {
            failures.push(format!(
                "resource {spelling:?}: want {want:?}, got {status} {body}"
            ));
        }
    }
    let (status, body) = decide(format!("https://api.example{}", over_long())).await;
    assert_eq!(status, 400, "{body}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
