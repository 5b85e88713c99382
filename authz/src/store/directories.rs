//! The users a directory owns (`directory_accounts`) and each directory's
//! sync state (`directory_state`).
//!
//! [`Store::directory_write`] is the only way a directory changes a user:
//! one transaction for the user row, the account row, the SCIM outbox,
//! and — when the user becomes disabled — the end of its sessions and
//! grants. A user without an account row is local and never touched.

use super::user_row::{COLUMNS, UserRow, columns_as, qualified, user_from_row};
use super::{Result, Store, StoreError};
use sqlx::Row;

/// The link of a user to the directory that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub user_id: String,
    pub directory: String,
    pub external_id: String,
    pub dn: String,
    /// Disabled here because the directory disabled or removed it (so a
    /// later "enabled" in the directory may enable it again; a local
    /// `users disable` stays).
    pub disabled_by_directory: bool,
    pub synced_at: i64,
}

/// What a directory says about one user: the fields Tollgate keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRecord {
    pub external_id: String,
    pub dn: String,
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    pub upn: Option<String>,
    /// Group names, sorted, without duplicates.
    pub groups: Vec<String>,
    pub disabled: bool,
}

/// What a directory makes of one user: everything the user row and the
/// account row will say afterwards (`record.disabled` is the flag to
/// store, which a local `users disable` may hold against the directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWrite {
    /// `None`: a user the directory has and Tollgate does not yet.
    pub user_id: Option<String>,
    pub record: DirectoryRecord,
    pub disabled_by_directory: bool,
}

/// A directory's sync state, for `tollgate directories status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryStatus {
    pub accounts: i64,
    pub disabled: i64,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub failures: i64,
    pub next_attempt_at: i64,
}

const ACCOUNT_COLUMNS: &str =
    "user_id, directory, external_id, dn, disabled_by_directory, synced_at";

fn account_from_row(r: &sqlx::any::AnyRow, at: usize) -> Result<AccountRow> {
    let flag: i64 = r.try_get(at + 4)?;
    Ok(AccountRow {
        user_id: r.try_get(at)?,
        directory: r.try_get(at + 1)?,
        external_id: r.try_get(at + 2)?,
        dn: r.try_get(at + 3)?,
        disabled_by_directory: flag != 0,
        synced_at: r.try_get(at + 5)?,
    })
}

async fn ensure_state(conn: &mut sqlx::AnyConnection, directory: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_state (directory) VALUES ($1) ON CONFLICT (directory) DO NOTHING",
    )
    .bind(directory)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// The directory account of a user; `None` for a local user.
    pub async fn directory_account(&self, user_id: &str) -> Result<Option<AccountRow>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM directory_accounts WHERE user_id = $1"
        ))
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| account_from_row(&r, 0)).transpose()
    }

    /// The user named `login` and, when a directory owns them, their
    /// account: where the password is checked, in one statement.
    pub async fn user_by_login_with_account(
        &self,
        login: &str,
    ) -> Result<Option<(UserRow, Option<AccountRow>)>> {
        let row = sqlx::query(&format!(
            "SELECT {}, {} FROM users u LEFT JOIN directory_accounts a ON a.user_id = u.id \
             WHERE u.login = $1",
            columns_as("u"),
            qualified(ACCOUNT_COLUMNS, "a")
        ))
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let n = COLUMNS.split(", ").count();
        let owned: Option<String> = r.try_get(n)?;
        let account = match owned {
            Some(_) => Some(account_from_row(&r, n)?),
            None => None,
        };
        Ok(Some((user_from_row(&r)?, account)))
    }

    /// Every user `directory` owns, with its account.
    pub async fn directory_accounts(&self, directory: &str) -> Result<Vec<(UserRow, AccountRow)>> {
        let cols = columns_as("u");
        let acols = qualified(ACCOUNT_COLUMNS, "a");
        let rows = sqlx::query(&format!(
            "SELECT {cols}, {acols} FROM directory_accounts a JOIN users u ON u.id = a.user_id \
             WHERE a.directory = $1 ORDER BY u.login"
        ))
        .bind(directory)
        .fetch_all(&self.pool)
        .await?;
        let n = COLUMNS.split(", ").count();
        rows.iter()
            .map(|r| Ok((user_from_row(r)?, account_from_row(r, n)?)))
            .collect()
    }

    /// The user `directory` knows by `external_id`, with its account.
    pub async fn directory_linked(
        &self,
        directory: &str,
        external_id: &str,
    ) -> Result<Option<(UserRow, AccountRow)>> {
        let Some(user_id) = sqlx::query(
            "SELECT user_id FROM directory_accounts WHERE directory = $1 AND external_id = $2",
        )
        .bind(directory)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()?
        else {
            return Ok(None);
        };
        match (
            self.user(&user_id).await?,
            self.directory_account(&user_id).await?,
        ) {
            (Some(u), Some(a)) => Ok(Some((u, a))),
            _ => Ok(None),
        }
    }

    /// Applies what `directory` says about one user, in one transaction;
    /// returns the user as stored. A login another user holds is a
    /// `Conflict` and changes nothing.
    pub async fn directory_write(
        &self,
        directory: &str,
        w: &AccountWrite,
        now: i64,
    ) -> Result<UserRow> {
        let r = &w.record;
        let mut tx = self.begin().await?;
        let user = match &w.user_id {
            None => {
                let new = super::NewUser {
                    login: r.login.clone(),
                    display_name: r.display_name.clone(),
                    email: r.email.clone(),
                    upn: r.upn.clone(),
                    groups: r.groups.clone(),
                    password_hash: None,
                };
                let id = super::users::insert_user_in(
                    &mut tx,
                    &self.scim_targets,
                    &new,
                    r.disabled,
                    now,
                )
                .await?;
                sqlx::query(&format!(
                    "INSERT INTO directory_accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&id)
                .bind(directory)
                .bind(&r.external_id)
                .bind(&r.dn)
                .bind(i64::from(w.disabled_by_directory))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::on_unique(
                        e,
                        format!("{}: already linked to another user", r.external_id),
                    )
                })?;
                UserRow {
                    id,
                    login: new.login,
                    display_name: new.display_name,
                    email: new.email,
                    upn: new.upn,
                    groups: new.groups,
                    disabled: r.disabled,
                    password_hash: None,
                }
            }
            Some(id) => {
                let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {id:?}")))?;
                let old = user_from_row(&row)?;
                let new = UserRow {
                    login: r.login.clone(),
                    display_name: r.display_name.clone(),
                    email: r.email.clone(),
                    upn: r.upn.clone(),
                    groups: r.groups.clone(),
                    disabled: r.disabled,
                    ..old.clone()
                };
                super::users::write_user_in(&mut tx, &new, now).await?;
                let mut touched = super::users::touched_groups(&old, &new);
                if old.disabled != new.disabled {
                    // Member lists that count only active users change too.
                    let more: Vec<String> = new
                        .groups
                        .iter()
                        .filter(|g| !touched.contains(g))
                        .cloned()
                        .collect();
                    touched.extend(more);
                }
                super::scim::enqueue_user(&mut tx, &self.scim_targets, id, &touched, now).await?;
                if new.disabled && !old.disabled {
                    super::users::revoke_access_in(&mut tx, id, "user disabled", "directory", now)
                        .await?;
                }
                sqlx::query(
                    "UPDATE directory_accounts SET dn = $1, disabled_by_directory = $2, synced_at = $3 \
                     WHERE user_id = $4 AND directory = $5",
                )
                .bind(&r.dn)
                .bind(i64::from(w.disabled_by_directory))
                .bind(now)
                .bind(id)
                .bind(directory)
                .execute(&mut *tx)
                .await?;
                new
            }
        };
        tx.commit().await?;
        Ok(user)
    }

    /// Records a complete, applied sync.
    pub async fn directory_sync_succeeded(&self, directory: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        ensure_state(&mut tx, directory).await?;
        sqlx::query(
            "UPDATE directory_state SET last_success_at = $1, failures = 0, next_attempt_at = 0 \
             WHERE directory = $2",
        )
        .bind(now)
        .bind(directory)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed sync and when the next attempt is due; returns the
    /// number of consecutive failures.
    pub async fn directory_sync_failed(
        &self,
        directory: &str,
        error: &str,
        now: i64,
        next_attempt: impl Fn(i64) -> i64,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        ensure_state(&mut tx, directory).await?;
        let failures: i64 =
            sqlx::query("SELECT failures FROM directory_state WHERE directory = $1")
                .bind(directory)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        let failures = failures + 1;
        sqlx::query(
            "UPDATE directory_state SET last_error = $1, last_error_at = $2, failures = $3, next_attempt_at = $4 \
             WHERE directory = $5",
        )
        .bind(error)
        .bind(now)
        .bind(failures)
        .bind(next_attempt(failures))
        .bind(directory)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(failures)
    }

    /// Takes (or renews) the scheduled-sync lease of `directory` until
    /// `until`; false when another replica holds it.
    pub async fn directory_take_lease(
        &self,
        directory: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        ensure_state(&mut *self.pool.acquire().await?, directory).await?;
        let r = sqlx::query(
            "UPDATE directory_state SET lease_owner = $1, lease_until = $2 \
             WHERE directory = $3 AND (lease_until < $4 OR lease_owner = $1)",
        )
        .bind(owner)
        .bind(until)
        .bind(directory)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The sync state and account counts of `directory`.
    pub async fn directory_status(&self, directory: &str) -> Result<DirectoryStatus> {
        let counts = sqlx::query(
            "SELECT COUNT(*), COUNT(CASE WHEN u.disabled = 1 THEN 1 END) FROM directory_accounts a \
             JOIN users u ON u.id = a.user_id WHERE a.directory = $1",
        )
        .bind(directory)
        .fetch_one(&self.pool)
        .await?;
        let mut s = DirectoryStatus {
            accounts: counts.try_get(0)?,
            disabled: counts.try_get(1)?,
            ..DirectoryStatus::default()
        };
        if let Some(r) = sqlx::query(
            "SELECT last_success_at, last_error, last_error_at, failures, next_attempt_at \
             FROM directory_state WHERE directory = $1",
        )
        .bind(directory)
        .fetch_optional(&self.pool)
        .await?
        {
            s.last_success_at = r.try_get(0)?;
            s.last_error = r.try_get(1)?;
            s.last_error_at = r.try_get(2)?;
            s.failures = r.try_get(3)?;
            s.next_attempt_at = r.try_get(4)?;
        }
        Ok(s)
    }
}
