//! The factor page of a sign-in ("Confirm it's you" / "This action needs
//! a stronger sign-in"): only the factors that can still reach the level.

use super::error::PageError;
use super::pages;
use super::respond::with_script;
use crate::login::interaction::FactorKind;
use crate::login::{Interaction, Next};
use crate::state::App;
use axum::http::StatusCode;
use axum::response::Response;

/// "Confirm it's you" / "This action needs a stronger sign-in": only the
/// factors that can still reach the required level.
#[derive(serde::Serialize)]
pub struct FactorPage<'a> {
    pub id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub login: &'a str,
    pub step_up: bool,
    pub required: &'a str,
    pub password: bool,
    pub totp: bool,
    pub passkey: bool,
    pub error: Option<&'a str>,
    /// Why the risk decision asks for more, in plain words (empty when it
    /// did not).
    pub reasons: Vec<String>,
}

impl pages::Page for FactorPage<'_> {
    const TEMPLATE: &'static str = "factor.html";
    /// Step-up with every factor, an error and reasons; a first sign-in
    /// with a passkey only (the error outside the code form); and none.
    fn samples() -> Vec<Self> {
        let page = |step_up, all: bool, passkey, error| FactorPage {
            id: "ix-sample",
            csrf: "csrf-sample",
            client_name: "Sample app",
            login: "alice",
            step_up,
            required: "aal2",
            password: all,
            totp: all,
            passkey,
            error,
            reasons: if all {
                vec!["a new device".into()]
            } else {
                vec![]
            },
        };
        vec![
            page(true, true, true, Some("That code is not correct.")),
            page(false, false, true, Some("That code is not correct.")),
            page(false, false, false, None),
        ]
    }
}

/// Renders the factor page for `kinds`.
pub(super) fn factor_page(
    ix: &Interaction,
    login_name: &str,
    kinds: &[FactorKind],
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let page = FactorPage {
        id: &ix.id,
        csrf: &ix.csrf,
        client_name: super::interaction::client_name(ix),
        login: login_name,
        step_up: ix.session_id.is_some(),
        required: ix.requirement.level.acr(),
        password: kinds.contains(&FactorKind::Password),
        totp: kinds.contains(&FactorKind::Totp),
        passkey: kinds.contains(&FactorKind::Passkey),
        error,
        reasons: step_up_reasons(ix),
    };
    let resp = pages::render(status, &page);
    if page.passkey {
        with_script(resp)
    } else {
        resp
    }
}

/// The risk reasons of a login the policy stepped up, in plain words.
fn step_up_reasons(ix: &Interaction) -> Vec<String> {
    match &ix.risk {
        Some(r) if r.outcome.starts_with("step_up") => crate::i18n::words::risk_reasons(
            r.reasons.iter().map(|(c, d)| (c.as_str(), d.as_str())),
        ),
        _ => vec![],
    }
}

/// The factor page when the interaction knows the user and needs a factor.
pub(super) async fn factor_step(
    app: &App,
    ix: &Interaction,
    enrolled: &[FactorKind],
) -> Result<Option<Response>, PageError> {
    let Some(uid) = ix.user_id.as_deref() else {
        return Ok(None);
    };
    let Next::Factor(kinds) = ix.next(enrolled, app.now()) else {
        return Ok(None);
    };
    let Some(user) = app.store.user(uid).await? else {
        return Ok(None);
    };
    Ok(Some(factor_page(
        ix,
        &user.login,
        &kinds,
        StatusCode::OK,
        None,
    )))
}
