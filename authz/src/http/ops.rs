//! Health, readiness, metrics, and the stylesheet.

use crate::state::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Ready when the database answers.
pub async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}

/// `/metrics` on the main listener: open in the demo or with `[metrics]
/// public`, else only to the `[metrics] token_env` bearer token (compared
/// in constant time), else not there at all.
pub async fn metrics_main(State(app): State<App>, headers: HeaderMap) -> Response {
    if app.config.demo || app.config.metrics.public {
        return metrics(State(app)).await.into_response();
    }
    let Some(want) = &app.metrics_token else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::secret::ct_eq(given.as_bytes(), want.expose().as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"tollgate-metrics\"",
            )],
            "a bearer token is required\n",
        )
            .into_response();
    }
    metrics(State(app)).await.into_response()
}

/// `/metrics` as such (the separate `[metrics] listen` serves it openly).
pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    if let crate::decision::velocity::Velocity::Redis(r) = app.decisions.velocity() {
        let failed = r.failures.load(std::sync::atomic::Ordering::Relaxed);
        app.metrics
            .state_unavailable
            .set(i64::try_from(failed).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}
