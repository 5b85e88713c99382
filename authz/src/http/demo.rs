//! The embedded demo's relying party (demo mode only): `/demo` starts an
//! authorization request with PKCE for the `demo` client, `/demo/callback`
//! exchanges the code at our own token endpoint over HTTP, like any client,
//! and shows the ID token's claims.

use super::respond::see_other;
use super::{cookies, pages};
use crate::state::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;

pub const CLIENT_ID: &str = "demo";
const COOKIE: &str = "tg_demo";

pub fn redirect_uri(app: &App) -> String {
    format!("{}/demo/callback", app.urls.issuer.trim_end_matches('/'))
}

pub async fn start(State(app): State<App>, headers: HeaderMap) -> Response {
    // The state cookie must be set on the issuer's own origin, where the
    // callback will come back to: opened as http://127.0.0.1:PORT/demo while
    // the issuer is http://localhost:PORT, go there first.
    if let Some(issuer_origin) = wrong_origin(&app.urls.issuer, &headers) {
        return see_other(&format!("{issuer_origin}/demo"));
    }
    let verifier = crate::secret::random_token(32);
    let state = crate::secret::random_id(16);
    let challenge = URL_SAFE_NO_PAD.encode(crate::secret::sha256(verifier.expose().as_bytes()));
    let mut url = match url::Url::parse(&app.urls.authorize) {
        Ok(u) => u,
        Err(_) => {
            return pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Demo unavailable",
                "Bad issuer URL.",
            );
        }
    };
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri(&app))
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email groups")
        .append_pair("state", &state)
        .append_pair("nonce", &crate::secret::random_id(16))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut resp = see_other(url.as_str());
    let cookie = cookies::Jar::of(&app).set(COOKIE, &format!("{state}.{}", verifier.expose()), 600);
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The issuer's origin when the request came to another host name, `None`
/// when it came to the issuer's own (or the browser sent no `Host`).
fn wrong_origin(issuer: &str, headers: &HeaderMap) -> Option<String> {
    let issuer = url::Url::parse(issuer).ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let origin = issuer.origin().ascii_serialization();
    let own = origin.split_once("://").map(|(_, h)| h)?;
    (!host.eq_ignore_ascii_case(own)).then_some(origin)
}

pub async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(e) = q.get("error") {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            &format!(
                "{e}: {}",
                q.get("error_description").map(String::as_str).unwrap_or("")
            ),
        );
    }
    let saved = cookies::Jar::of(&app)
        .get(&headers, COOKIE)
        .unwrap_or_default();
    let (state, verifier) = saved.split_once('.').unwrap_or(("", ""));
    if state.is_empty() || q.get("state").map(String::as_str) != Some(state) {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "State mismatch: start again at /demo.",
        );
    }
    let Some(code) = q.get("code") else {
        return pages::message(StatusCode::BAD_REQUEST, "Sign-in failed", "No code.");
    };
    let Ok(secret) = std::fs::read_to_string("data/demo-client-secret") else {
        return pages::message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Demo unavailable",
            "data/demo-client-secret is missing.",
        );
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &redirect_uri(&app)),
        ("code_verifier", verifier),
        ("client_id", CLIENT_ID),
        ("client_secret", secret.trim()),
    ];
    let body = serde_urlencoded::to_string(form).unwrap_or_default();
    let result = exchange(&app, body).await;
    match result {
        Ok(id_token) => {
            let pretty = tollgate_wire::jws::parse(&id_token)
                .ok()
                .and_then(|j| j.claims().ok())
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_default();
            let logout = format!("/end_session?id_token_hint={id_token}");
            pages::render(
                StatusCode::OK,
                &pages::DemoPage {
                    claims: &pretty,
                    logout: &logout,
                },
            )
        }
        Err(msg) => pages::message(StatusCode::BAD_GATEWAY, "Code exchange failed", &msg),
    }
}

/// POSTs the form to our own token endpoint with a minimal HTTP/1.1 client,
/// so the demo exercises the real endpoint without an HTTP client dependency.
async fn exchange(app: &App, body: String) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.config.listen.clone();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp);
    let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|_| format!("unexpected token response: {text}"))?;
    v["id_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("token endpoint said: {v}"))
}
