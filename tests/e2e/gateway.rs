//! A real gateway in front of an API (issue 7): nginx from Debian with
//! `auth_request` calling Tollgate's ext_authz endpoint, the configuration
//! docs/federation/gateway.md gives. A weak token gets the RFC 9470
//! challenge through nginx, a stepped-up token passes with the
//! `x-tollgate-*` headers at the upstream, a deny is a 403, a revoked token
//! is refused.

use crate::policy::{ADMIN_API_NEEDS_PHR, alice_with_passkey, auth_param, browser_at, server_with};
use serde_json::{Value, json};
use tollgate::{SECRET, TempDir, have_tool, temp_dir};

const NGINX: &str = "/usr/sbin/nginx";

/// The nginx configuration of docs/federation/gateway.md, for a test
/// directory, port, upstream and Tollgate address.
fn nginx_conf(dir: &std::path::Path, port: u16, upstream: &str, tollgate: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream tollgate {{ server {tollgate}; }}
  upstream api {{ server {upstream}; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_tollgate;
      auth_request_set $tg_sub $upstream_http_x_tollgate_sub;
      auth_request_set $tg_acr $upstream_http_x_tollgate_acr;
      auth_request_set $tg_score $upstream_http_x_tollgate_score;
      auth_request_set $tg_challenge $upstream_http_www_authenticate;
      error_page 401 = @challenge;
      proxy_set_header x-tollgate-sub $tg_sub;
      proxy_set_header x-tollgate-acr $tg_acr;
      proxy_set_header x-tollgate-score $tg_score;
      proxy_pass http://api;
    }}
    location = /_tollgate {{
      internal;
      proxy_pass http://tollgate/ext_authz;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
    }}
    location @challenge {{
      add_header WWW-Authenticate $tg_challenge always;
      return 401 '{{"error":"unauthorized"}}';
    }}
  }}
}}
"#
    )
}

/// What reached the API behind nginx: the raw path of each request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The API behind nginx: echoes the headers nginx passed from Tollgate,
/// and remembers every path that reached it.
async fn upstream() -> (String, Seen) {
    use axum::extract::Request;
    let seen: Seen = Seen::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| async move {
        log.lock().unwrap().push(req.uri().to_string());
        let h = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        axum::Json(json!({
            "path": req.uri().path(),
            "sub": h("x-tollgate-sub"),
            "acr": h("x-tollgate-acr"),
            "score": h("x-tollgate-score"),
        }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr.to_string(), seen)
}

/// nginx running in the foreground; killed when dropped.
struct Nginx(std::process::Child, TempDir);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn nginx(upstream: &str, tollgate: &str) -> (Nginx, String) {
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.0.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir.0, port, upstream, tollgate)).unwrap();
    let child = std::process::Command::new(NGINX)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&dir.0)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    let base = format!("http://127.0.0.1:{port}");
    let guard = Nginx(child, dir);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (guard, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(guard.1.0.join("error.log")).unwrap_or_default();
    panic!("nginx did not start: {log}");
}

const FORBIDDEN: &str = r#"
  - name: no-exports
    description: bulk exports are not allowed through the gateway
    when:
      action: request
      path: ["/exports/*"]
    deny: true
"#;

#[tokio::test]
async fn nginx_auth_request_carries_the_rfc9470_challenge() {
    if !have_tool(NGINX, "nginx gateway") {
        return;
    }
    let rules = format!("{ADMIN_API_NEEDS_PHR}{FORBIDDEN}");
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(tollgate::Db::Sqlite, files, &rules).await else {
        return;
    };
    let base = srv.base.clone();
    let (api_addr, _) = upstream().await;
    let (_nginx, gw) = nginx(&api_addr, base.trim_start_matches("http://")).await;
    let http = browser_at(crate::policy::DE);
    let mut pk = alice_with_passkey(&srv, &http).await;
    let api = reqwest::Client::new();
    let get = |path: &str, token: &str| api.get(format!("{gw}{path}")).bearer_auth(token).send();

    // A password-only token: fine for /orders, challenged at /admin.
    let weak = crate::policy::password_token(&http, &base, "alice").await;
    let r = get("/orders", &weak).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["acr"], "aal1", "{body}");
    assert!(!body["sub"].as_str().unwrap().is_empty(), "{body}");
    let r = get("/admin/users", &weak).await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("insufficient_user_authentication"),
        "{challenge}"
    );
    assert_eq!(auth_param(&challenge, "acr_values").as_deref(), Some("phr"));
    assert_eq!(auth_param(&challenge, "max_age").as_deref(), Some("300"));

    // Step up as the challenge says; the new token passes nginx.
    let strong = crate::policy::step_up_token(&http, &base, &challenge, &mut pk).await;
    let r = get("/admin/users", &strong).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["path"].as_str(), body["acr"].as_str()),
        (Some("/admin/users"), Some("phr"))
    );

    // A deny is a 403; no token and a revoked token are 401s.
    assert_eq!(get("/exports/all", &strong).await.unwrap().status(), 403);
    let r = api.get(format!("{gw}/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/revoke"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", strong.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get("/admin/users", &strong).await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

/// The gateway-paths table (`gateway_paths.rs`) through nginx as
/// docs/federation/gateway.md configures it: with a password-only token no
/// spelling of `/admin/users` reaches the API (a step-up 401, a refusal
/// that nginx turns into an error, or nginx's own 400), while `/orders`
/// does; after the step-up the plain spelling does.
#[tokio::test]
async fn no_spelling_of_a_protected_path_reaches_the_upstream_without_step_up() {
    use crate::gateway_paths::{SPELLINGS, Want, over_long, raw_get};
    if !have_tool(NGINX, "nginx gateway") {
        return;
    }
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, _dir)) = server_with(tollgate::Db::Sqlite, files, ADMIN_API_NEEDS_PHR).await
    else {
        return;
    };
    let base = srv.base.clone();
    let (api_addr, seen) = upstream().await;
    let (_nginx, gw) = nginx(&api_addr, base.trim_start_matches("http://")).await;
    let gw = gw.trim_start_matches("http://").to_owned();
    let http = browser_at(crate::policy::DE);
    let mut pk = alice_with_passkey(&srv, &http).await;
    let weak = crate::policy::password_token(&http, &base, "alice").await;
    let bearer = format!("Bearer {weak}");
    let auth: Vec<(&str, &[u8])> = vec![("authorization", bearer.as_bytes())];

    let (status, text) = raw_get(&gw, b"/orders", &auth).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    seen.lock().unwrap().clear();

    let long = over_long();
    let mut failures = Vec::new();
    let rows = SPELLINGS
        .iter()
        .map(|(s, w)| (s.as_bytes().to_vec(), *w))
        .chain([(long.into_bytes(), Want::Refused)]);
    let mut challenged = 0;
    for (spelling, want) in rows {
        let (status, text) = raw_get(&gw, &spelling, &auth).await;
        challenged += usize::from(status == 401);
        let reached = std::mem::take(&mut *seen.lock().unwrap());
        if status == 200 || !reached.is_empty() {
            failures.push(format!(
                "{:?} ({want:?}): {status}, upstream saw {reached:?}: {}",
                String::from_utf8_lossy(&spelling),
                text.lines().next().unwrap_or("")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let step_ups = SPELLINGS.iter().filter(|(_, w)| *w == Want::StepUp).count();
    assert!(
        challenged >= step_ups - 1,
        "most spellings are challenged, not errors: {challenged} of {step_ups}"
    );

    // The step-up token passes, so the refusals above were not an outage.
    let r = reqwest::Client::new()
        .get(format!("{base}/ext_authz/admin/users"))
        .bearer_auth(&weak)
        .send()
        .await
        .unwrap();
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let strong = crate::policy::step_up_token(&http, &base, &challenge, &mut pk).await;
    let bearer = format!("Bearer {strong}");
    let (status, text) = raw_get(
        &gw,
        b"/%61dmin//users",
        &[("authorization", bearer.as_bytes())],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}
