//! The sign-in service as the pages see it: `flow` builds a `LoginFlow`
//! from the app (only the pieces it needs), `origin` reads where the
//! request comes from, and `render` turns a `Step` into a response — a
//! redirect to the interaction's page, the client with the session and
//! login cookies set, the deny page. Also the page of an unmet level.

use super::error::PageError;
use super::interaction::{client_name, device_hash, see_login, user_agent};
use super::respond::see_other;
use super::{cookies, pages};
use crate::login::Interaction;
use crate::login::flow::{FlowError, LoginFlow, Origin, Step};
use crate::login::interaction::FactorKind;
use crate::state::App;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The sign-in service of this app, at this request's time.
pub(super) fn flow(app: &App) -> LoginFlow<'_> {
    app.login_flow()
}

/// The factor kinds the interaction's user can sign in with now
/// (`LoginFlow::enrolled`). Read once per request and passed on.
pub(super) async fn enrolled(app: &App, ix: &Interaction) -> Result<Vec<FactorKind>, PageError> {
    Ok(flow(app).enrolled(ix).await?)
}

/// Where this request comes from: client IP, user agent, the device
/// cookie's hash, the session cookie's hash and the browser's signals
/// (the page's time zone is added by the handler that has the form).
pub(super) fn origin(app: &App, headers: &HeaderMap, ip: &str) -> Origin {
    Origin {
        ip: ip.to_string(),
        user_agent: user_agent(headers).to_string(),
        device_hash: device_hash(app, headers),
        session_hash: cookies::Jar::of(app)
            .get(headers, cookies::SESSION)
            .map(|t| crate::oauth::client::hash_secret(&t)),
        signals: super::signals::read(headers, None),
    }
}

/// A step as a response. A refusal reaching here (a handler that does not
/// render its own form again) is a plain 401 page.
pub(super) fn render(app: &App, step: Result<Step, FlowError>) -> Result<Response, PageError> {
    match step? {
        Step::Show { id, .. } | Step::Unmet { id, .. } => Ok(see_login(&id)),
        Step::Complete {
            redirect,
            session_token,
        } => {
            let jar = cookies::Jar::of(app);
            let mut resp = see_other(&redirect);
            let h = resp.headers_mut();
            let session = jar.set(
                cookies::SESSION,
                session_token.expose(),
                app.config.login.session_ttl,
            );
            for c in [session, jar.clear(cookies::LOGIN)] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            Ok(resp.into_response())
        }
        Step::Denied { .. } => Err(denied(app)),
        Step::Refused { .. } => Ok(pages::message(
            StatusCode::UNAUTHORIZED,
            "Sign-in refused",
            "That did not work. Try again.",
        )),
    }
}

/// The deny page, which also ends the browser's session.
pub(super) fn denied(app: &App) -> PageError {
    PageError::PolicyDenied {
        set_cookie: cookies::Jar::of(app).clear(cookies::SESSION),
    }
}

impl From<FlowError> for PageError {
    fn from(e: FlowError) -> PageError {
        match e {
            FlowError::Store(e) => e.into(),
            FlowError::Internal(e) => PageError::internal(e),
            FlowError::NoUser => PageError::BadRequest("No user.".into()),
            FlowError::UserGone => PageError::Forbidden {
                title: "Sign-in refused",
                message: "This account does not exist any more.",
            },
            FlowError::AlreadyCompleted => PageError::Conflict {
                title: "This sign-in was already completed",
                message: "Go back to the application.",
            },
            FlowError::Finish { redirect, why } => {
                tracing::error!(error = %why, "cannot finish the sign-in");
                PageError::BackToClient(redirect)
            }
        }
    }
}

/// The page of an interaction whose user cannot reach its level: what is
/// missing, a link to `/account` when adding a factor there would help,
/// and the way back to the client with `unmet_authentication_requirements`.
pub(super) fn unmet_page(app: &App, ix: &Interaction, enrolled: &[FactorKind]) -> Response {
    let fix = flow(app).how_to_fix(ix, enrolled);
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
