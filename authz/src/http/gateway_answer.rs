//! How the gateway endpoints answer and refuse: the ext_authz answer of a
//! `Check`, a refused path (400, audited), the original path of a request.

use crate::decision::gateway::Check;
use crate::decision::path::{Refusal, path_of};
use crate::state::App;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the original request's path comes from, in order: nginx's
/// `X-Original-URI`, APISIX's `X-Forwarded-Uri`, the URL after
/// `/ext_authz` (Envoy). The path is normalised here, once, before any
/// rule sees it; a header that is present but not visible ASCII is a
/// refusal, not a reason to fall back to another source.
pub(super) fn original_path(req: &Request) -> Result<String, (&'static str, Refusal)> {
    for (name, source) in [
        ("x-original-uri", "x-original-uri"),
        ("x-forwarded-uri", "x-forwarded-uri"),
    ] {
        if let Some(v) = req.headers().get(name) {
            let v = v.to_str().map_err(|_| (source, Refusal::InvalidUtf8))?;
            return path_of(v).map_err(|e| (source, e));
        }
    }
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let suffix = target.strip_prefix("/ext_authz").unwrap_or(target);
    let suffix = if suffix.is_empty() || suffix.starts_with('?') {
        "/"
    } else {
        suffix
    };
    path_of(suffix).map_err(|e| ("url", e))
}

/// A path whose meaning depends on the upstream: 400, counted and audited
/// (with the reason, never the path: it is attacker-chosen bytes).
pub(super) async fn audit_refusal(
    app: &App,
    point: &'static str,
    actor: &str,
    source: &str,
    why: Refusal,
) {
    app.metrics.decision(point, "refused");
    app.audit(
        "gateway.path_refused",
        actor,
        "unknown",
        serde_json::json!({"point": point, "source": source, "reason": why.code()}),
    )
    .await;
}

/// The ext_authz answer to a refused path.
pub(super) fn refused(why: Refusal) -> Response {
    let mut resp = (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({
            "error": "invalid_request",
            "error_description": why.to_string(),
            "reason": why.code()})),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn respond(answer: &Check) -> Response {
    let (status, body) = match answer {
        Check::Allow { .. } => (StatusCode::OK, serde_json::json!({"decision": "allow"})),
        Check::Unauthenticated { error, description } => (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": error.unwrap_or("unauthorized"), "error_description": description}),
        ),
        Check::StepUp {
            acr_values,
            max_age,
        } => (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "insufficient_user_authentication", "acr_values": acr_values, "max_age": max_age}),
        ),
        Check::Deny { description } => (
            StatusCode::FORBIDDEN,
            serde_json::json!({"error": "access_denied", "error_description": description}),
        ),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    let h: &mut HeaderMap = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = answer
        .challenge()
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    if let Check::Allow { sub, acr, score } = answer {
        for (name, value) in [
            ("x-tollgate-sub", sub.clone()),
            ("x-tollgate-acr", acr.clone()),
            ("x-tollgate-score", score.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    resp
}
