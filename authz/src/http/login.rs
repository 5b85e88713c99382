//! `/login/{id}`: the pages of the login interaction.

use super::authorize::{current_session, redirect_error, see_other};
use super::{PageError, cookies, pages};
use crate::login::interaction::FactorKind;
use crate::login::lockout::{Guard, Refused};
use crate::login::password_check::{self, Outcome};
use crate::login::{Interaction, Method, Next, password};
use crate::oauth::authorize::issue_code;
use crate::state::App;
use crate::store::{SessionRow, StoreError};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

pub(super) async fn save(app: &App, ix: &Interaction) -> Result<(), StoreError> {
    let data = serde_json::to_string(ix).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    app.store
        .put_interaction(&ix.id, &data, ix.expires_at)
        .await
}

/// An interaction that expired, was completed, or never existed.
const GONE: PageError = PageError::NotFound {
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

pub(super) async fn enrolled(app: &App, ix: &Interaction) -> Vec<FactorKind> {
    let Some(uid) = &ix.user_id else {
        return vec![FactorKind::Password];
    };
    let mut kinds = match app.store.user(uid).await {
        Ok(Some(u)) if u.password_hash.is_some() => vec![FactorKind::Password],
        // A directory user's password is the directory's.
        Ok(Some(_)) if matches!(app.store.directory_account(uid).await, Ok(Some(_))) => {
            vec![FactorKind::Password]
        }
        _ => vec![],
    };
    kinds.extend(super::account::enrolled_factors(app, uid).await);
    // An active agent device offers "approve on your device", and its OTP
    // (`tollgate-agent otp`) is accepted where a TOTP code is.
    if let Ok(devices) = app.store.devices(Some(uid)).await
        && devices.iter().any(|d| d.revoked_at.is_none())
    {
        kinds.push(FactorKind::Device);
    }
    if !kinds.contains(&FactorKind::Totp)
        && matches!(app.store.otp_devices(uid).await, Ok(d) if !d.is_empty())
    {
        kinds.push(FactorKind::Totp);
    }
    kinds
}

pub(super) fn client_name(ix: &Interaction) -> &str {
    &ix.request.client_id
}

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let ix = load(&app, &id, &headers).await?;
    if ix.user_id.is_some() {
        let enrolled = enrolled(&app, &ix).await;
        if ix.next(&enrolled, app.now()) == Next::Unmet {
            return Ok(unmet_page(&app, &ix, &enrolled));
        }
    }
    if let Some(page) = super::login_device::offer(&app, &ix, peer, &headers).await? {
        return Ok(page);
    }
    if let Some(page) = super::account::factor_step(&app, &ix).await? {
        return Ok(page);
    }
    let username = ix.request.login_hint.clone().unwrap_or_default();
    Ok(super::factors::with_script(pages::render(
        StatusCode::OK,
        &pages::LoginPage {
            id: &ix.id,
            csrf: &ix.csrf,
            client_name: client_name(&ix),
            username: &username,
            error: None,
        },
    )))
}

pub async fn submit(
    State(app): State<App>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (mut ix, headers, form) = load_form(&app, &id, req, "password").await?;
    let username = form
        .get("username")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() || ix.login.is_none())
        .or_else(|| ix.login.clone())
        .unwrap_or_default();
    let pw = crate::secret::Secret::new(form.get("password").cloned().unwrap_or_default());
    let ip = super::observe::client_ip(&app, peer, &headers);
    if too_fast(&app, &ix.id, &ip) {
        return Err(SLOW_DOWN);
    }
    let now = app.now();
    // The same page as `show`, so it keeps the passkey script (CSP).
    let again = |status: StatusCode, msg: &str| {
        super::factors::with_script(pages::render(
            status,
            &pages::LoginPage {
                id: &ix.id,
                csrf: &ix.csrf,
                client_name: client_name(&ix),
                username: &username,
                error: Some(msg),
            },
        ))
    };
    if username.is_empty() || username.len() > 256 {
        return Ok(again(StatusCode::BAD_REQUEST, "Enter your username."));
    }
    let guard = Guard::new("user", &username, &ip, app.lockout_policies());
    let reserved = match guard.reserve(&app.store, now).await {
        Ok(r) => r,
        Err(Refused::Locked) => {
            app.metrics.login("locked");
            app.audit(
                "login.locked",
                &username,
                &ip,
                serde_json::json!({"client": ix.request.client_id}),
            )
            .await;
            return Ok(again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts. Try again later.",
            ));
        }
        Err(Refused::Store(e)) => return Err(e.into()),
    };
    let user = match password_check::check(&app.store, &app.directories, &username, pw, now).await {
        Outcome::Verified(u) => Some(u),
        Outcome::Rejected => None,
        Outcome::Busy => {
            let _ = reserved.unchecked().await;
            return Ok(busy(again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins at once. Try again in a moment.",
            )));
        }
        Outcome::Unavailable => {
            // Not the user's fault: the attempt is given back.
            let _ = reserved.unchecked().await;
            app.metrics.login("unavailable");
            return Ok(busy(again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Try again later.",
            )));
        }
    };
    let same_user = ix.user_id.is_none() || user.as_ref().map(|u| &u.id) == ix.user_id.as_ref();
    let Some(user) = user.filter(|_| same_user) else {
        reserved.failed();
        app.metrics.login("failure");
        if let Ok(addr) = ip.parse() {
            app.decisions
                .record_failure(&username, addr, user_agent(&headers), now)
                .await;
        }
        app.audit(
            "login.failure",
            &username,
            &ip,
            serde_json::json!({
                "client": ix.request.client_id,
                "factor": "password",
                "user_agent": user_agent(&headers),
            }),
        )
        .await;
        return Ok(again(
            StatusCode::UNAUTHORIZED,
            "The username or password is incorrect.",
        ));
    };
    if let Err(e) = reserved.succeeded().await {
        tracing::error!(error = %e, "cannot clear the attempts counter");
    }
    ix.user_id = Some(user.id.clone());
    ix.login = Some(user.login.clone());
    ix.prove(Method::Password, now);
    advance(&app, ix, &headers, &ip).await
}

/// After a factor was proven: finish, or go back to the interaction's page
/// for the next step (or for what is missing, when the level is unmet).
pub(super) async fn advance(
    app: &App,
    mut ix: Interaction,
    headers: &HeaderMap,
    ip: &str,
) -> Result<Response, PageError> {
    if ix.risk.is_none() && ix.user_id.is_some() {
        gate(app, &mut ix, headers, ip).await?;
    }
    let now = app.now();
    let enrolled = enrolled(app, &ix).await;
    match ix.next(&enrolled, now) {
        Next::Complete => finish(app, ix, headers, ip).await,
        Next::Unmet => {
            app.audit(
                "login.unmet",
                ix.user_id.as_deref().unwrap_or("anonymous"),
                &ix.request.client_id,
                serde_json::json!({"required": ix.requirement.level.acr()}),
            )
            .await;
            // Kept until it expires: its page says what is missing, and a
            // factor added meanwhile on /account lets the same sign-in go on.
            save(app, &ix).await?;
            Ok(see_login(&ix.id))
        }
        Next::Identify | Next::Factor(_) => {
            save(app, &ix).await?;
            Ok(see_login(&ix.id))
        }
    }
}

/// The page of an interaction whose user cannot reach its level: what is
/// missing, a link to `/account` when adding a factor there would help,
/// and the way back to the client with `unmet_authentication_requirements`.
fn unmet_page(app: &App, ix: &Interaction, enrolled: &[FactorKind]) -> Response {
    let fix = crate::login::unmet::how_to_fix(
        ix.requirement.level,
        enrolled,
        client_name(ix),
        app.attestation.enabled(),
        ix.request.client_id == super::account::CLIENT,
    );
    let back = crate::oauth::authorize::error_redirect(
        &ix.request.redirect_uri,
        ix.request.state.as_deref(),
        "unmet_authentication_requirements",
        "the user cannot reach the requested authentication level",
        &app.urls.issuer,
    );
    pages::render(
        StatusCode::FORBIDDEN,
        &pages::UnmetPage {
            client_name: client_name(ix),
            missing: &fix.missing,
            add_on_account: fix.add_on_account,
            back: &back,
        },
    )
}

/// Completes the interaction: records the session, issues the code, and
/// sends the browser back to the client.
pub(super) async fn finish(
    app: &App,
    ix: Interaction,
    headers: &HeaderMap,
    ip: &str,
) -> Result<Response, PageError> {
    let now = app.now();
    let Some(user_id) = ix.user_id.clone() else {
        return Err(PageError::BadRequest("No user.".into()));
    };
    // Past this point the client waits: a fault is its `server_error`.
    let server_error = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "cannot finish the sign-in");
        Ok(redirect_error(
            app,
            &ix.request,
            "server_error",
            "internal error",
        ))
    };
    match app.store.take_interaction(&ix.id).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(PageError::Conflict {
                title: "This sign-in was already completed",
                message: "Go back to the application.",
            });
        }
        Err(e) => return server_error(&e),
    }
    let factors = merge(&ix.proven);
    // When the level the factors reach was proven, not the latest proof.
    let auth_time = crate::login::Level::reached_at(&factors).map_or(now, |(_, at)| at);
    let existing = current_session(app, headers)
        .await?
        .filter(|s| Some(&s.id) == ix.session_id.as_ref() && s.user_id == user_id);
    // Whether the session is new or stepped up, its cookie secret is new.
    let token = crate::secret::random_token(32);
    let token_hash = crate::oauth::client::hash_secret(token.expose());
    let jar = cookies::Jar::of(app);
    let set_cookie = jar.set(
        cookies::SESSION,
        token.expose(),
        app.config.login.session_ttl,
    );
    let session = match existing {
        Some(mut s) => {
            s.factors = factors.clone();
            s.auth_time = auth_time;
            if let Err(e) = app.store.step_up_session(&s, &token_hash).await {
                return server_error(&e);
            }
            s
        }
        None => {
            let s = SessionRow {
                id: crate::secret::random_id(16),
                user_id: user_id.clone(),
                factors: factors.clone(),
                auth_time,
                expires_at: now + app.config.login.session_ttl,
            };
            if let Err(e) = app.store.insert_session(&s, &token_hash, now).await {
                return server_error(&e);
            }
            s
        }
    };
    app.metrics.login("success");
    let amr = crate::login::amr_of(&factors);
    if let Some(risk) = &ix.risk {
        // Passed its decision (and any step-up): the login joins the history.
        if let Err(e) = app.decisions.learn(&app.store, &risk.event, now).await {
            tracing::error!(error = %e, "cannot update the risk history");
        }
        if let Err(e) = app
            .decisions
            .bind_session(&app.store, &session.id, &risk.event)
            .await
        {
            tracing::error!(error = %e, "cannot bind the login to its session");
        }
    }
    app.audit(
        "login.success",
        &user_id,
        &ix.request.client_id,
        serde_json::json!({
            "ip": ip,
            "amr": amr,
            "acr": crate::login::Level::reached(&factors).map(|l| l.acr()),
            "sid": session.id,
            "score": ix.risk.as_ref().map(|r| r.score),
            "policy_version": ix.risk.as_ref().map(|r| r.policy_version.as_str()),
        }),
    )
    .await;
    let issued = if ix.request.client_id == super::account::CLIENT {
        // The account pages' own sign-in: no code, back to the page.
        Ok(ix.request.redirect_uri.clone())
    } else {
        let fresh = ix.requirement.fresh(&factors, now);
        issue_code(app, &ix.request, &user_id, &session.id, &fresh).await
    };
    let mut resp = match issued {
        Ok(url) => see_other(&url),
        Err(e) => return server_error(&e),
    };
    let h = resp.headers_mut();
    for c in [set_cookie, jar.clear(cookies::LOGIN)] {
        if let Ok(v) = c.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(resp.into_response())
}

/// Keeps the latest proof of each method, so a session's factor list stays small.
fn merge(proven: &[crate::login::ProvenFactor]) -> Vec<crate::login::ProvenFactor> {
    let mut out: Vec<crate::login::ProvenFactor> = Vec::new();
    for f in proven {
        match out.iter_mut().find(|o| o.method == f.method) {
            Some(o) => o.at = o.at.max(f.at),
            None => out.push(*f),
        }
    }
    out
}

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

/// Adds `Retry-After` to a 503 answered because the verifier is saturated.
pub(super) fn busy(resp: Response) -> Response {
    super::error::retry_after(resp, password::RETRY_AFTER as u32)
}

/// Back to the interaction's page, which shows the next step.
pub(super) fn see_login(id: &str) -> Response {
    see_other(&format!("/login/{id}"))
}

fn user_agent(headers: &HeaderMap) -> &str {
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

/// The policy decision for a login whose user is now known: recorded in
/// the interaction and the audit log, then applied to its requirement.
/// `Err` ends the login (a deny, or a store error).
pub(super) async fn gate(
    app: &App,
    ix: &mut Interaction,
    headers: &HeaderMap,
    ip: &str,
) -> Result<(), PageError> {
    use crate::decision::login::{LoginRequest, LoginRisk, assess, audit_data, requirement_after};
    let now = app.now();
    let Some(uid) = ix.user_id.clone() else {
        return Ok(());
    };
    let user = app.store.user(&uid).await?.ok_or(PageError::Forbidden {
        title: "Sign-in refused",
        message: "This account does not exist any more.",
    })?;
    let device = device_hash(app, headers);
    let addr = ip
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let req = LoginRequest {
        client: &ix.request.client_id,
        ip: addr,
        user_agent: user_agent(headers),
        device_hash: device.as_deref(),
        acr_values: &ix.request.acr_values,
        max_age: ix.request.max_age,
        proven: &ix.proven,
        second_factor: Some(
            enrolled(app, ix)
                .await
                .iter()
                .any(|k| *k != FactorKind::Password),
        ),
    };
    let made = assess(&app.decisions, &app.store, &user, &req, now).await;
    app.metrics.decision("login", made.decision.outcome.kind());
    app.audit(
        "policy.decision",
        &user.login,
        &ix.request.client_id,
        audit_data(&made, &ix.id),
    )
    .await;
    crate::decision::effects::announce(app, "login", &user.login, &made.decision).await;
    ix.risk = Some(LoginRisk::of(&made));
    let policy = app.decisions.current();
    match requirement_after(ix.requirement, &made.decision, &policy.policy) {
        Some(r) => {
            ix.requirement = r;
            Ok(())
        }
        None => {
            let _ = app.store.take_interaction(&ix.id).await;
            app.metrics.login("denied");
            if let tollgate_risk::policy::Outcome::Deny { revoke: true, .. } = made.decision.outcome
            {
                crate::decision::effects::revoke_everything(
                    app,
                    &user,
                    device.as_deref(),
                    &made.decision.policy_version,
                    now,
                )
                .await;
            }
            Err(PageError::PolicyDenied {
                set_cookie: cookies::Jar::of(app).clear(cookies::SESSION),
            })
        }
    }
}
