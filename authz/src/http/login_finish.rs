//! After a factor was proven: the next step of the sign-in, or its end
//! (session recorded or stepped up with a new cookie secret, code issued,
//! back to the client). Also the page of a level the user cannot reach.

use super::error::PageError;
use super::interaction::{client_name, enrolled, save, see_login};
use super::login_gate::gate;
use super::respond::{redirect_error, see_other};
use super::session::current_session;
use super::{cookies, pages};
use crate::login::interaction::FactorKind;
use crate::login::{Interaction, Next};
use crate::oauth::authorize::issue_code;
use crate::state::App;
use crate::store::SessionRow;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// After a factor was proven: finish, or go back to the interaction's page
/// for the next step (or for what is missing, when the level is unmet).
pub(super) async fn advance(
    app: &App,
    mut ix: Interaction,
    headers: &HeaderMap,
    ip: &str,
) -> Result<Response, PageError> {
    // Once for this request: the gate and the next step read the same list.
    let enrolled = enrolled(app, &ix).await?;
    if ix.risk.is_none() && ix.user_id.is_some() {
        gate(app, &mut ix, &enrolled, headers, ip).await?;
    }
    let now = app.now();
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
pub(super) fn unmet_page(app: &App, ix: &Interaction, enrolled: &[FactorKind]) -> Response {
    let fix = crate::login::unmet::how_to_fix(
        ix.requirement.level,
        enrolled,
        client_name(ix),
        app.attestation.enabled(),
        ix.request.client_id == super::session::CLIENT,
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
            "policy_version": ix.risk.as_ref().map(|r| r.policy_version.as_str())}),
    )
    .await;
    let issued = if ix.request.client_id == super::session::CLIENT {
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
pub(super) fn merge(proven: &[crate::login::ProvenFactor]) -> Vec<crate::login::ProvenFactor> {
    let mut out: Vec<crate::login::ProvenFactor> = Vec::new();
    for f in proven {
        match out.iter_mut().find(|o| o.method == f.method) {
            Some(o) => o.at = o.at.max(f.at),
            None => out.push(*f),
        }
    }
    out
}
