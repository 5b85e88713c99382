//! The request's language: negotiated once per request, before the
//! handler runs, from the language switch (`?lang=` on any page, then its
//! cookie), `/authorize`'s OIDC `ui_locales`, and `Accept-Language`
//! (`i18n::negotiate`); the handler runs inside `i18n::scope`, so pages
//! and messages read it without a parameter. An interaction's page raises
//! it to the interaction's `ui_locales` (`login::load`).

use super::cookies;
use crate::i18n::{self, Preferences};
use crate::state::App;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The language switch's cookie: the user's own choice, which wins.
pub const LANG: &str = "tg_lang";
/// How long the choice is kept: a year.
const KEEP: i64 = 365 * 24 * 3600;

fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| v.len() <= 256)
}

pub async fn locale(State(app): State<App>, req: Request, next: Next) -> Response {
    let jar = cookies::Jar::of(&app);
    let query = req.uri().query().unwrap_or("");
    // The switch: `?lang=zh-CN`. An unsupported value is ignored.
    let switched = param(query, "lang").and_then(|l| i18n::supported(&l));
    let cookie = jar.get(req.headers(), LANG);
    let chosen = switched.or_else(|| cookie.as_deref().and_then(i18n::supported));
    let ui_locales = (req.uri().path() == "/authorize")
        .then(|| param(query, "ui_locales"))
        .flatten();
    let accept_language = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let locale = i18n::negotiate(
        Preferences {
            chosen,
            ui_locales: ui_locales.as_deref(),
            accept_language: accept_language.as_deref(),
        },
        app.branding.default_language,
    );
    let mut resp = i18n::scope(
        locale,
        chosen.is_some(),
        app.branding.clone(),
        next.run(req),
    )
    .await;
    let h = resp.headers_mut();
    if let Some(l) = switched
        && let Ok(v) = HeaderValue::from_str(&jar.set(LANG, l, KEEP))
    {
        h.append(header::SET_COOKIE, v);
    }
    h.append(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    resp
}
