//! The browser session as the pages see it: the live session behind the
//! cookie, and the account pages' CSRF token bound to it.

use super::cookies;
use crate::state::App;
use crate::store::{SessionRow, StoreError};
use axum::http::HeaderMap;

/// The pseudo-client id of the account pages' own sign-in.
pub const CLIENT: &str = crate::login::flow::ACCOUNT_CLIENT;

/// The live session of this browser, if any, with its user still enabled.
/// A store error is an error, never "not signed in".
pub(super) async fn current_session(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<SessionRow>, StoreError> {
    let Some(token) = cookies::Jar::of(app).get(headers, cookies::SESSION) else {
        return Ok(None);
    };
    let hash = crate::oauth::client::hash_secret(&token);
    let Some(session) = app.store.session_by_token(&hash, app.now()).await? else {
        return Ok(None);
    };
    let enabled = app
        .store
        .user(&session.user_id)
        .await?
        .is_some_and(|u| !u.disabled);
    Ok(enabled.then_some(session))
}

/// The CSRF token of the account forms: bound to the session cookie's
/// secret, so another site can neither read nor compute it.
pub(super) fn csrf_of(app: &App, headers: &HeaderMap) -> Option<String> {
    let token = cookies::Jar::of(app).get(headers, cookies::SESSION)?;
    Some(crate::store::hex(&crate::secret::sha256(
        format!("tollgate-account-csrf:{token}").as_bytes(),
    )))
}
