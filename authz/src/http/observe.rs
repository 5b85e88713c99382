//! Per-request bookkeeping every route shares: the request id (echoed in
//! `x-request-id`, in scope for the whole handler so an internal error's
//! page and log name it), metrics by route and status, security headers,
//! `Accept-CH` on HTML pages, and the client's IP. It imports only the
//! leaf `signals`.

use crate::state::App;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

tokio::task_local! {
    /// The id of the request this task is handling (set by [`observe`]).
    static REQUEST_ID: String;
}

/// The id of the request being handled, when called inside one.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request id, for error pages and logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Per-request bookkeeping: a request id (`x-request-id`, echoed back),
/// metrics by route and status, and security headers on every response.
pub async fn observe(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
        .unwrap_or_else(|| crate::secret::random_id(9));
    req.extensions_mut().insert(RequestId(rid.clone()));
    let span =
        tracing::debug_span!("request", request_id = %rid, method = %req.method(), route = %route);
    let run = REQUEST_ID.scope(rid.clone(), next.run(req));
    let mut resp = tracing::Instrument::instrument(run, span).await;
    let status = resp.status().as_u16();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert("x-request-id", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    ));
    let html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        // What the risk scorer may compare per device (`http::signals`).
        h.insert(
            HeaderName::from_static("accept-ch"),
            HeaderValue::from_static(super::signals::ACCEPT_CH),
        );
    }
    if status >= 500 {
        tracing::warn!(request_id = %rid, route = %route, status, "request failed");
    }
    app.metrics
        .requests
        .get_or_create(&crate::metrics::RouteStatus {
            route: route.clone(),
            status,
        })
        .inc();
    app.metrics
        .latency
        .get_or_create(&crate::metrics::Route { route })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// The client's IP: the socket peer, or the first untrusted hop of
/// `X-Forwarded-For` when the peer is a configured trusted proxy.
pub fn client_ip(app: &App, peer: SocketAddr, headers: &axum::http::HeaderMap) -> String {
    let peer_ip = peer.ip().to_string();
    if !app.config.http.trusted_proxies.contains(&peer_ip) {
        return peer_ip;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(str::trim)
                .rev()
                .find(|ip| !app.config.http.trusted_proxies.iter().any(|p| p == ip))
        })
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .unwrap_or(peer_ip)
}

/// Runs `f` as if it handled request `rid` (tests of error pages).
#[cfg(test)]
pub(super) async fn scope_for_test<F: std::future::Future>(rid: &str, f: F) -> F::Output {
    REQUEST_ID.scope(rid.to_string(), f).await
}
