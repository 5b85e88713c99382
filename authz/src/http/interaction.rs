//! The login interaction as the pages see it: loaded by id (only by the
//! browser that started it), its forms' CSRF check, and the
//! per-IP/per-interaction rate of unauthenticated POSTs. Saving it and the
//! factors its user enrolled are `LoginFlow`'s (`login_step::flow`).

use super::cookies;
use super::error::PageError;
use super::respond::see_other;
use crate::login::Interaction;
use crate::state::App;
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::Response;

/// An interaction that expired, was completed, or never existed.
pub(super) const GONE: PageError = PageError::NotFound {
    title: "This sign-in has expired",
    message: "Go back to the application and start again.",
};

/// Loads the interaction and checks it belongs to this browser.
pub(super) async fn load(
    app: &App,
    id: &str,
    headers: &HeaderMap,
) -> Result<Interaction, PageError> {
    let data = app.store.interaction(id, app.now()).await?.ok_or(GONE)?;
    let ix: Interaction = serde_json::from_str(&data).map_err(|_| GONE)?;
    crate::i18n::prefer_ui_locales(ix.request.ui_locales.as_deref());
    let cookie = cookies::Jar::of(app)
        .get(headers, cookies::LOGIN)
        .unwrap_or_default();
    let presented = crate::oauth::client::hash_secret(&cookie);
    if !crate::secret::ct_eq(presented.as_bytes(), ix.browser.as_bytes()) {
        app.audit(
            "login.browser_mismatch",
            "anonymous",
            &ix.request.client_id,
            serde_json::json!({"interaction": ix.id}),
        )
        .await;
        return Err(PageError::Forbidden {
            title: "This sign-in belongs to another browser",
            message: "Go back to the application and start again.",
        });
    }
    Ok(ix)
}

/// A form posted to a step of the interaction: loads the interaction (this
/// browser's), reads the size-limited form and checks its CSRF token. A
/// mismatch is audited (`login.csrf_mismatch`, with `step`) and answered
/// with a page.
pub(super) async fn load_form(
    app: &App,
    id: &str,
    req: Request,
    step: &str,
) -> Result<(Interaction, HeaderMap, crate::oauth::client_auth::Form), PageError> {
    let headers = req.headers().clone();
    let ix = load(app, id, &headers).await?;
    let (_, form) = super::token::read_form(app, req).await?;
    let csrf = form.get("csrf").map(String::as_str).unwrap_or("");
    if !crate::secret::ct_eq(csrf.as_bytes(), ix.csrf.as_bytes()) {
        app.audit(
            "login.csrf_mismatch",
            "anonymous",
            &ix.request.client_id,
            serde_json::json!({"interaction": ix.id, "step": step}),
        )
        .await;
        return Err(PageError::Forbidden {
            title: "The form expired",
            message: "Reload the page and try again.",
        });
    }
    Ok((ix, headers, form))
}

pub(super) use crate::login::flow::client_name;

/// Whether this unauthenticated sign-in POST is over the per-IP or the
/// per-interaction rate (`[login] posts_per_*`); counts it either way.
pub(super) fn too_fast(app: &App, interaction: &str, ip: &str) -> bool {
    let (c, now) = (&app.config.login, app.now());
    let by_ip = app
        .sign_in_posts
        .allow(&format!("ip:{ip}"), c.posts_per_ip_per_minute, now);
    let by_ix = app.sign_in_posts.allow(
        &format!("ix:{interaction}"),
        c.posts_per_interaction_per_minute,
        now,
    );
    if !(by_ip && by_ix) {
        app.metrics.login("rate_limited");
        return true;
    }
    false
}

/// The 429 answer to [`too_fast`].
pub(super) const SLOW_DOWN: PageError = PageError::TooManyAttempts { retry_after: 60 };

/// Back to the interaction's page, which shows the next step.
pub(super) fn see_login(id: &str) -> Response {
    see_other(&format!("/login/{id}"))
}

pub(super) fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The browser's device id for risk scoring: SHA-256 (hex) of its
/// `tg_device` cookie (set by `/authorize`), never the cookie itself.
pub(super) fn device_hash(app: &App, headers: &HeaderMap) -> Option<String> {
    cookies::Jar::of(app)
        .get(headers, cookies::DEVICE)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(|v| crate::store::hex(&crate::secret::sha256(v.as_bytes())))
}
