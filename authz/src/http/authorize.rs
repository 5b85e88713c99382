//! `/authorize`: validate, reuse the session if it is enough, otherwise
//! start a login interaction.

use super::cookies;
use super::error::PageError;
use super::pages;
use super::respond::{redirect_error, see_other};
use super::session::current_session;
use crate::login::{Interaction, Requirement};
use crate::oauth::authorize::{AuthorizeError, error_redirect, validate};
use crate::state::App;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;

pub async fn get(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let ip = super::observe::client_ip(&app, peer, &headers);
    let params = parse(q.as_deref().unwrap_or("").as_bytes()).map_err(PageError::BadRequest)?;
    authorize(&app, &headers, &ip, params).await
}

pub async fn post(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let headers = req.headers().clone();
    let ip = super::observe::client_ip(&app, peer, &headers);
    let (_, form) = super::token::read_form(&app, req).await?;
    authorize(&app, &headers, &ip, form).await
}

/// The query of `GET /authorize`, by the same rules as a form body
/// (`tollgate_wire::form`), with the messages of a page.
fn parse(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    use tollgate_wire::form::FormError;
    tollgate_wire::form::parse(raw).map_err(|e| match e {
        FormError::Malformed => "The request parameters are malformed.".to_string(),
        FormError::NotUtf8 => "The request parameters are not valid UTF-8.".to_string(),
        FormError::Repeated(k) => format!("The parameter {k} is repeated."),
    })
}

async fn authorize(
    app: &App,
    headers: &HeaderMap,
    ip: &str,
    params: HashMap<String, String>,
) -> Result<Response, PageError> {
    let now = app.now();
    let client = match params.get("client_id") {
        Some(id) => app.clients.get(&app.store, id, now).await?,
        None => None,
    };
    let req = match validate(&params, client.as_deref()) {
        Ok(r) => r,
        Err(AuthorizeError::Page(msg)) => {
            return Ok(pages::message(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                &msg,
            ));
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            return Ok(see_other(&error_redirect(
                &redirect_uri,
                state.as_deref(),
                error,
                &description,
                &app.urls.issuer,
            )));
        }
    };
    let Some(client) = client else {
        return Ok(pages::message(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "Unknown client.",
        ));
    };
    let requirement =
        Requirement::from_request(client.settings.default_level, &req.acr_values, req.max_age);
    let carry = current_session(app, headers)
        .await?
        .filter(|_| !req.prompt_login);
    let had_session = carry.is_some();
    let browser = crate::secret::random_token(32);
    let mut ix = Interaction {
        id: crate::secret::random_id(16),
        csrf: crate::secret::random_id(24),
        browser: crate::oauth::client::hash_secret(browser.expose()),
        user_id: carry.as_ref().map(|s| s.user_id.clone()),
        login: None,
        session_id: carry.as_ref().map(|s| s.id.clone()),
        proven: carry
            .as_ref()
            .map(|s| s.factors.clone())
            .unwrap_or_default(),
        request: req,
        requirement,
        expires_at: now + app.config.login.interaction_ttl,
        risk: None,
    };
    let device = device_cookie(app, headers);
    if let Some(s) = &carry {
        // A browser session: the policy decides whether it is enough here.
        let flow = super::login_step::flow(app);
        let (user, enrolled) = flow.known(&ix).await?;
        let origin = super::login_step::origin(app, headers, ip);
        if flow
            .gate(&mut ix, user.as_ref(), &enrolled, &origin)
            .await?
            .is_some()
        {
            return Err(super::login_step::denied(app));
        }
        if ix.requirement.met_by(&s.factors, now) {
            // Only the factors within max_age speak in the ID token.
            let fresh = ix.requirement.fresh(&s.factors, now);
            return Ok(with_cookie(
                match flow
                    .codes
                    .issue(&ix.request, &s.user_id, &s.id, &fresh)
                    .await
                {
                    Ok(url) => see_other(&url),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot issue code");
                        redirect_error(app, &ix.request, "server_error", "internal error")
                    }
                },
                device,
            ));
        }
    }
    if ix.request.prompt_none {
        let error = if had_session {
            "interaction_required"
        } else {
            "login_required"
        };
        return Ok(redirect_error(
            app,
            &ix.request,
            error,
            "the user must sign in",
        ));
    }
    if let Err(e) = super::login_step::flow(app).save(&ix).await {
        tracing::error!(error = %e, "cannot store interaction");
        return Ok(redirect_error(
            app,
            &ix.request,
            "server_error",
            "internal error",
        ));
    }
    let cookie = cookies::Jar::of(app).set(
        cookies::LOGIN,
        browser.expose(),
        app.config.login.interaction_ttl,
    );
    let mut resp = see_other(&format!("/login/{}", ix.id));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(with_cookie(resp, device))
}

/// A `tg_device` cookie for a browser that has none yet: the device id
/// the risk scorer learns (400 days, the longest browsers keep a cookie).
fn device_cookie(app: &App, headers: &HeaderMap) -> Option<String> {
    if cookies::Jar::of(app)
        .get(headers, cookies::DEVICE)
        .is_some_and(|v| !v.is_empty())
    {
        return None;
    }
    Some(cookies::Jar::of(app).set(
        cookies::DEVICE,
        crate::secret::random_token(32).expose(),
        400 * 86_400,
    ))
}

fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
