//! `/end_session`: OpenID Connect RP-Initiated Logout 1.0.
//!
//! With a valid `id_token_hint` the session ends at once; without one the
//! user confirms with a CSRF-protected form, so a cross-site link cannot
//! sign anyone out. `post_logout_redirect_uri` must be registered for the
//! client exactly, or no redirect happens.

use super::authorize::{current_session, see_other};
use super::{cookies, pages};
use crate::state::App;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;

fn csrf_for(session_cookie: &str) -> String {
    crate::store::hex(&crate::secret::sha256(
        format!("logout:{session_cookie}").as_bytes(),
    ))
}

pub async fn get(State(app): State<App>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    logout(&app, &headers, params).await
}

pub async fn post(State(app): State<App>, req: Request) -> Response {
    let headers = req.headers().clone();
    match super::token::read_form(&app, req).await {
        Ok((_, form)) => logout(&app, &headers, form).await,
        Err(e) => pages::message(e.status, "Invalid request", &e.description),
    }
}

async fn logout(app: &App, headers: &HeaderMap, params: HashMap<String, String>) -> Response {
    let hint_client = params
        .get("id_token_hint")
        .and_then(|t| app.keyring().verify(t).ok())
        .and_then(|v| {
            (v.claims["iss"].as_str() == Some(app.urls.issuer.as_str()))
                .then(|| v.claims["aud"].as_str().map(str::to_string))
                .flatten()
        });
    if params.contains_key("id_token_hint") && hint_client.is_none() {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Invalid sign-out request",
            "The id_token_hint is not a valid ID token from this issuer.",
        );
    }
    if let (Some(a), Some(b)) = (&hint_client, params.get("client_id"))
        && a != b
    {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Invalid sign-out request",
            "client_id does not match the id_token_hint.",
        );
    }
    let client_id = hint_client
        .clone()
        .or_else(|| params.get("client_id").cloned());
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(uri) => {
            let client = match &client_id {
                Some(id) => app
                    .clients
                    .get(&app.store, id, app.now())
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            match client {
                Some(c)
                    if c.settings
                        .post_logout_redirect_uris
                        .iter()
                        .any(|u| u == uri) =>
                {
                    Some(uri.clone())
                }
                _ => {
                    return pages::message(
                        StatusCode::BAD_REQUEST,
                        "Invalid sign-out request",
                        "The post_logout_redirect_uri is not registered for this client.",
                    );
                }
            }
        }
        None => None,
    };
    let cookie = cookies::get(headers, cookies::SESSION).unwrap_or_default();
    let confirmed = hint_client.is_some()
        || params.get("csrf").is_some_and(|c| {
            !cookie.is_empty() && crate::secret::ct_eq(c.as_bytes(), csrf_for(&cookie).as_bytes())
        });
    if !confirmed {
        if cookie.is_empty() {
            return pages::message(StatusCode::OK, "Signed out", "You are signed out.");
        }
        return pages::render(
            StatusCode::OK,
            &pages::LogoutPage {
                csrf: &csrf_for(&cookie),
            },
        );
    }
    if let Some(s) = current_session(app, headers).await {
        if let Err(e) = app.store.end_session(&s.id, "logout", app.now()).await {
            tracing::error!(error = %e, "cannot end session");
            return pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again.",
            );
        }
        app.revocations
            .reload(&app.store, app.now(), app.config.tokens.access_token_ttl)
            .await
            .ok();
        app.audit(
            "session.ended",
            &s.user_id,
            &s.id,
            serde_json::json!({"reason": "logout", "client": client_id}),
        )
        .await;
    }
    let mut resp = match redirect {
        Some(uri) => {
            let mut url = match url::Url::parse(&uri) {
                Ok(u) => u,
                Err(_) => {
                    return pages::message(
                        StatusCode::BAD_REQUEST,
                        "Invalid sign-out request",
                        "Bad redirect URI.",
                    );
                }
            };
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            see_other(url.as_str())
        }
        None => pages::message(StatusCode::OK, "Signed out", "You are signed out."),
    };
    if let Ok(v) = cookies::clear(cookies::SESSION, !app.config.insecure_cookies()).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
