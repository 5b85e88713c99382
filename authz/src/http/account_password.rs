//! `POST /account/password`: a signed-in user changes a local password.
//! Like binding any factor it needs the account CSRF token and a fresh
//! sign-in at the strongest level the user holds (`super::account_guard::guard`), so a
//! stolen password-only session cannot replace the password of a passkey
//! user. The new password meets `[passwords]`. The user's sessions stay
//! (they were just re-authenticated); an administrator's `users
//! set-password` or a reset link ends them.

use super::account::render;
use super::account_guard::{field, form, guard};
use super::error::PageError;
use crate::secret::Secret;
use crate::state::App;
use axum::extract::{Request, State};
use axum::response::Response;

pub async fn change(State(app): State<App>, req: Request) -> Result<Response, PageError> {
    let (headers, f) = form(&app, req).await?;
    let (s, user) = guard(&app, &headers, field(&f, "csrf"), "password.change").await?;
    let refuse = |msg: &str| {
        let (app, headers, s, msg) = (app.clone(), headers.clone(), s.clone(), msg.to_string());
        async move { render(&app, &headers, &s, None, Some(&msg)).await }
    };
    if app.store.directory_account(&user.id).await?.is_some() {
        return refuse(
            "Your password is managed by your organisation's directory; change it there.",
        )
        .await;
    }
    let pw = Secret::new(field(&f, "password"));
    if !crate::secret::ct_eq(pw.expose().as_bytes(), field(&f, "confirm").as_bytes()) {
        return refuse("The two passwords differ.").await;
    }
    if let Err(e) = app.passwords.check(pw.expose(), &user.login) {
        return refuse(&e.to_string()).await;
    }
    let hash = match crate::login::password::hash_bounded(pw).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(PageError::internal(e)),
        Err(crate::login::password::Busy) => {
            return Err(PageError::Busy {
                retry_after: crate::login::password::RETRY_AFTER as u32,
            });
        }
    };
    app.store
        .set_password(&user.id, &hash, false, "user", app.now())
        .await?;
    app.audit(
        "account.password_changed",
        &user.id,
        &user.id,
        serde_json::json!({"sid": s.id}),
    )
    .await;
    render(&app, &headers, &s, Some("Your password was changed."), None).await
}
