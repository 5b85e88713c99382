//! The password: something you know. Verified by its [`Backend`] — argon2
//! against the local hash, or a bind to the directory that owns the user
//! (`password_check.rs` runs either after the attempts guard reserved the
//! attempt). Enrolled by an administrator (`users set-password`), a reset
//! link, `/account`, or by the directory.

use super::Spec;
use crate::login::interaction::FactorKind;
use crate::login::{Level, Method};
use crate::store::{AccountRow, Store, StoreError, UserRow};

pub const SPEC: Spec = Spec {
    kind: FactorKind::Password,
    amr: &["pwd"],
    best_case: Method::Password,
    proves: Level::Aal1,
    verified: "argon2id against the local hash, or an LDAP bind to the user's directory",
    enrolled: "users set-password, a reset link, /account, or the user's directory",
};

/// Where a user's password is checked: the seam a new password source
/// (another directory protocol, a remote verifier) is added at.
#[derive(Debug)]
pub enum Backend {
    /// A local user: argon2id against `password_hash`.
    Local(UserRow),
    /// A user a directory owns: a bind as the user to that directory.
    Directory { user: UserRow, account: AccountRow },
    /// No user here by that login: each directory may know it (just in
    /// time creation), else the password is wrong.
    Unknown,
}

/// The backend that checks `login`'s password.
pub async fn backend(store: &Store, login: &str) -> Result<Backend, StoreError> {
    let Some(user) = store.user_by_login(login).await? else {
        return Ok(Backend::Unknown);
    };
    Ok(match store.directory_account(&user.id).await? {
        Some(account) => Backend::Directory { user, account },
        None => Backend::Local(user),
    })
}

/// Whether `user_id` signs in with a password: a local hash, or a
/// directory that owns the user.
pub async fn enrolled(store: &Store, user_id: &str) -> Result<bool, StoreError> {
    if store
        .user(user_id)
        .await?
        .is_some_and(|u| u.password_hash.is_some())
    {
        return Ok(true);
    }
    Ok(store.directory_account(user_id).await?.is_some())
}
