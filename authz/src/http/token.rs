//! `/token`, `/introspect`, `/revoke`: form in, JSON out.

use crate::oauth::client_auth::{Form, authenticate, parse_form};
use crate::oauth::{OAuthError, introspect as intro, revocation, token as grants};
use crate::state::App;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// Reads a size-limited `application/x-www-form-urlencoded` body.
pub(super) async fn read_form(app: &App, req: Request) -> Result<(HeaderMap, Form), OAuthError> {
    let (parts, body): (_, Body) = req.into_parts();
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = to_bytes(body, app.config.http.max_body_bytes)
        .await
        .map_err(|_| OAuthError::too_large())?;
    Ok((parts.headers, parse_form(&bytes)?))
}

fn authorization(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

fn no_store(json: impl serde::Serialize) -> Response {
    let mut r = (StatusCode::OK, axum::Json(json)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn token(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Result<Response, OAuthError> {
    let (headers, form) = read_form(&app, req).await?;
    let client = authenticate(&app, authorization(&headers), &form).await?;
    let caller = grants::Caller {
        ip: super::observe::client_ip(&app, peer, &headers),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    };
    Ok(no_store(
        grants::exchange(&app, &client, &form, &caller).await?,
    ))
}

pub async fn introspect(State(app): State<App>, req: Request) -> Result<Response, OAuthError> {
    let (headers, form) = read_form(&app, req).await?;
    let client = authenticate(&app, authorization(&headers), &form).await?;
    if client.settings.is_public() {
        return Err(OAuthError::invalid_client(
            "public clients may not introspect",
        ));
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    Ok(no_store(
        intro::introspect(
            &app,
            &client,
            token,
            form.get("token_type_hint").map(String::as_str),
        )
        .await?,
    ))
}

pub async fn revoke(State(app): State<App>, req: Request) -> Result<Response, OAuthError> {
    let (headers, form) = read_form(&app, req).await?;
    let client = authenticate(&app, authorization(&headers), &form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    revocation::revoke(&app, &client, token).await?;
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}
