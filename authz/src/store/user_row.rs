//! The `users` row as Rust: the column list and its mapping, shared by
//! `users.rs`, `scim.rs` and `directories.rs`. It sits one level below
//! them so that none of those imports another for it (`users.rs` enqueues
//! SCIM changes through `scim.rs`; `scim.rs` reads users through this).

use super::{Result, from_json};
use sqlx::Row;

/// A stored user. The password hash stays in the store layer's callers that
/// need it (the password authenticator); it is never serialised.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Stable subject identifier (`sub`).
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    pub upn: Option<String>,
    pub groups: Vec<String>,
    pub disabled: bool,
    /// Argon2id PHC string.
    pub password_hash: Option<crate::secret::Secret>,
}

/// The columns [`user_from_row`] reads, in its order.
pub(super) const COLUMNS: &str =
    "id, login, display_name, email, upn, group_names, disabled, password_hash";

/// [`COLUMNS`] of the `users` table under the alias `t` (`u.id, u.login,
/// …`), for queries that join it.
pub(super) fn columns_as(t: &str) -> String {
    qualified(COLUMNS, t)
}

/// A column list (`"a, b"`) under the table alias `t` (`"t.a, t.b"`).
pub(super) fn qualified(columns: &str, t: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{t}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserRow> {
    let groups: String = r.try_get(5)?;
    let disabled: i64 = r.try_get(6)?;
    let password_hash: Option<String> = r.try_get(7)?;
    Ok(UserRow {
        id: r.try_get(0)?,
        login: r.try_get(1)?,
        display_name: r.try_get(2)?,
        email: r.try_get(3)?,
        upn: r.try_get(4)?,
        groups: from_json(&groups, "user groups")?,
        disabled: disabled != 0,
        password_hash: password_hash.map(crate::secret::Secret::new),
    })
}
