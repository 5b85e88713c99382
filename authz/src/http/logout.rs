//! `/end_session`: OpenID Connect RP-Initiated Logout 1.0.
//!
//! The session ends at once only with an `id_token_hint` that is an ID
//! token (not an access or logout token) from this issuer naming this
//! session's user (`sub`) and, when it has one, this session (`sid`).
//! Any other hint (the attacker's own ID token, a token of another
//! session) and no hint mean the user confirms with a CSRF-protected form
//! that has a Cancel, so a cross-site link cannot sign anyone out.
//! `post_logout_redirect_uri` must be registered for the client exactly,
//! or no redirect happens.

use super::error::PageError;
use super::respond::see_other;
use super::session::current_session;
use super::{cookies, pages};
use crate::state::App;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
        Err(e) => PageError::from(e).into_response(),
    }
}

/// What an `id_token_hint` says, when it is an ID token of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hint {
    client: String,
    sub: String,
    sid: Option<String>,
}

/// An ID token has no `typ` (or `JWT`); access tokens (`at+jwt`), logout
/// tokens and SETs name their own type and are never hints.
fn hint_of(v: &crate::keys::jws::Verified, issuer: &str) -> Option<Hint> {
    let id_token = v
        .typ
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
    let c = &v.claims;
    if !id_token || c["iss"].as_str() != Some(issuer) || c.get("client_id").is_some() {
        return None;
    }
    Some(Hint {
        client: c["aud"].as_str()?.to_owned(),
        sub: c["sub"].as_str()?.to_owned(),
        sid: c["sid"].as_str().map(str::to_owned),
    })
}

/// Whether the hint names the session being ended.
fn hint_confirms(hint: &Hint, user_id: &str, session_id: &str) -> bool {
    hint.sub == user_id && hint.sid.as_deref().is_none_or(|s| s == session_id)
}

async fn logout(app: &App, headers: &HeaderMap, params: HashMap<String, String>) -> Response {
    let hint = params
        .get("id_token_hint")
        .and_then(|t| app.keyring().verify(t).ok())
        .and_then(|v| hint_of(&v, &app.urls.issuer));
    let hint_client = hint.as_ref().map(|h| h.client.clone());
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
    let cookie = cookies::Jar::of(app)
        .get(headers, cookies::SESSION)
        .unwrap_or_default();
    let session = match current_session(app, headers).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).into_response(),
    };
    let hinted = match (&hint, &session) {
        (Some(h), Some(s)) => hint_confirms(h, &s.user_id, &s.id),
        _ => false,
    };
    let confirmed = hinted
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
                client_id: client_id.as_deref(),
                post_logout_redirect_uri: redirect.as_deref(),
                state: params.get("state").map(String::as_str),
            },
        );
    }
    if let Some(s) = session {
        if let Err(e) = app.store.end_session(&s.id, "logout", app.now()).await {
            return PageError::from(e).into_response();
        }
        app.revocations
            .reload(&app.store, app.now(), app.config.tokens.access_token_ttl)
            .await
            .ok();
        app.audit(
            "session.ended",
            &s.user_id,
            &s.id,
            serde_json::json!({"reason": "logout", "client": client_id,
                "confirmed_by": if hinted { "id_token_hint" } else { "form" }}),
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
    if let Ok(v) = cookies::Jar::of(app).clear(cookies::SESSION).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::jws::Verified;
    use serde_json::json;

    const ISS: &str = "https://id.example";

    #[test]
    fn only_an_id_token_of_this_session_confirms_a_sign_out() {
        let id = |typ: Option<&str>, claims: serde_json::Value| Verified {
            typ: typ.map(str::to_owned),
            claims,
        };
        let alice = json!({"iss": ISS, "aud": "rp", "sub": "u-alice", "sid": "s-1"});
        let cases = [
            // (token, confirms the session (u-alice, s-1), is a hint at all)
            (id(None, alice.clone()), true, true),
            (id(Some("JWT"), alice.clone()), true, true),
            (
                id(None, json!({"iss": ISS, "aud": "rp", "sub": "u-alice"})),
                true,
                true,
            ),
            (
                id(
                    None,
                    json!({"iss": ISS, "aud": "rp", "sub": "u-alice", "sid": "s-2"}),
                ),
                false,
                true,
            ),
            (
                id(
                    None,
                    json!({"iss": ISS, "aud": "rp", "sub": "u-mallory", "sid": "s-9"}),
                ),
                false,
                true,
            ),
            (id(Some("at+jwt"), alice.clone()), false, false),
            (id(Some("logout+jwt"), alice.clone()), false, false),
            (
                id(
                    None,
                    json!({"iss": ISS, "aud": "rp", "sub": "u-alice", "client_id": "rp"}),
                ),
                false,
                false,
            ),
            (
                id(
                    None,
                    json!({"iss": "https://other", "aud": "rp", "sub": "u-alice"}),
                ),
                false,
                false,
            ),
            (
                id(None, json!({"iss": ISS, "aud": ["rp"], "sub": "u-alice"})),
                false,
                false,
            ),
        ];
        for (v, confirms, is_hint) in cases {
            let h = hint_of(&v, ISS);
            assert_eq!(h.is_some(), is_hint, "{:?}", v.claims);
            assert_eq!(
                h.is_some_and(|h| hint_confirms(&h, "u-alice", "s-1")),
                confirms,
                "{:?}",
                v.claims
            );
        }
    }
}
