//! Users.

pub use super::user_row::UserRow;
use super::user_row::{COLUMNS, user_from_row};
use super::{Result, Store, StoreError, to_json};

/// What is needed to create a user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    pub upn: Option<String>,
    pub groups: Vec<String>,
    /// Argon2id PHC string, already hashed.
    pub password_hash: Option<String>,
}

/// A change to a user; `None` leaves a field as it is. An empty email or
/// upn removes it.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub upn: Option<String>,
    pub groups: Option<Vec<String>>,
    /// `Some(true)` enables, `Some(false)` disables (without ending
    /// sessions: use `disable_user` for that).
    pub enabled: Option<bool>,
}

impl Store {
    /// Creates users, all or none: one transaction, so an import with a
    /// duplicate login changes nothing.
    pub async fn insert_users(&self, users: &[NewUser], now: i64) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(users.len());
        for u in users {
            ids.push(insert_user_in(&mut tx, &self.scim_targets, u, false, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// A user by login name.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE login = $1"))
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// A user by subject id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// All users, by login.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY login"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Disables a user and, in the same transaction, ends their sessions and
    /// revokes their grants, so nothing issued before keeps working.
    pub async fn disable_user(&self, login: &str, now: i64) -> Result<UserRow> {
        let mut tx = self.begin().await?;
        let user = existing_user(&mut tx, login).await?;
        sqlx::query("UPDATE users SET disabled = 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        super::scim::enqueue_user(&mut tx, &self.scim_targets, &user.id, &[], now).await?;
        revoke_access_in(&mut tx, &user.id, "user disabled", "admin", now).await?;
        tx.commit().await?;
        Ok(UserRow {
            disabled: true,
            ..user
        })
    }

    /// Changes a user's profile or groups (`None`: unchanged) and enqueues
    /// the SCIM push of the user and of every group it joined or left, in
    /// one transaction.
    pub async fn update_user(&self, login: &str, change: &UserUpdate, now: i64) -> Result<UserRow> {
        let mut tx = self.begin().await?;
        let old = existing_user(&mut tx, login).await?;
        let mut new = old.clone();
        if let Some(v) = &change.display_name {
            new.display_name = v.clone();
        }
        if let Some(v) = &change.email {
            new.email = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &change.upn {
            new.upn = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &change.groups {
            new.groups = v.clone();
        }
        if let Some(v) = change.enabled {
            new.disabled = !v;
        }
        write_user_in(&mut tx, &new, now).await?;
        let touched = touched_groups(&old, &new);
        super::scim::enqueue_user(&mut tx, &self.scim_targets, &new.id, &touched, now).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Inserts one user inside the caller's transaction and enqueues its SCIM
/// push; `disabled` for a directory user the directory says is disabled.
pub(super) async fn insert_user_in(
    conn: &mut sqlx::AnyConnection,
    scim_targets: &[String],
    u: &NewUser,
    disabled: bool,
    now: i64,
) -> Result<String> {
    let id = crate::secret::random_id(16);
    sqlx::query(
        "INSERT INTO users (id, login, display_name, email, upn, group_names, disabled, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(&u.login)
    .bind(&u.display_name)
    .bind(&u.email)
    .bind(&u.upn)
    .bind(to_json(&u.groups))
    .bind(i64::from(disabled))
    .bind(&u.password_hash)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::on_unique(e, format!("user {:?} already exists", u.login)))?;
    super::scim::enqueue_user(conn, scim_targets, &id, &u.groups, now).await?;
    Ok(id)
}

/// Writes a user's login, profile, groups and flag inside the caller's
/// transaction (the SCIM enqueue is the caller's: it knows what changed).
pub(super) async fn write_user_in(
    conn: &mut sqlx::AnyConnection,
    new: &UserRow,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET login = $1, display_name = $2, email = $3, upn = $4, group_names = $5, disabled = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&new.login)
    .bind(&new.display_name)
    .bind(&new.email)
    .bind(&new.upn)
    .bind(to_json(&new.groups))
    .bind(i64::from(new.disabled))
    .bind(now)
    .bind(&new.id)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::on_unique(e, format!("user {:?} already exists", new.login)))?;
    Ok(())
}

/// Groups joined or left: their member lists change.
pub(super) fn touched_groups(old: &UserRow, new: &UserRow) -> Vec<String> {
    old.groups
        .iter()
        .filter(|g| !new.groups.contains(g))
        .chain(new.groups.iter().filter(|g| !old.groups.contains(g)))
        .cloned()
        .collect()
}

/// Ends a user's sessions and revokes its grants inside the caller's
/// transaction (a disabled user, a password reset), so nothing issued
/// before keeps working.
pub(super) async fn revoke_access_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    reason: &str,
    initiator: &str,
    now: i64,
) -> Result<()> {
    super::events::end_user_sessions_in(conn, user_id, reason, initiator, now).await?;
    sqlx::query("UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A user by login inside a transaction, or `NotFound`.
async fn existing_user(conn: &mut sqlx::AnyConnection, login: &str) -> Result<UserRow> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE login = $1"))
        .bind(login)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {login:?}")))?;
    user_from_row(&row)
}
