//! Passwords set by an administrator or through a one-time reset link
//! (migration 0017). The link's secret is stored only as its SHA-256; using
//! it, setting the password and ending the user's sessions and tokens are
//! one transaction, so a link works once even when it is submitted twice at
//! the same moment, and a half-done reset cannot happen.

use super::user_row::{COLUMNS, user_from_row};
use super::users::revoke_access_in;
use super::{Result, Store, StoreError, UserRow};

/// Used reset rows are kept this long after they expire (for the audit
/// trail's "which link"), then purged when the next link is issued.
const KEEP_AFTER_EXPIRY: i64 = 7 * 86_400;

impl Store {
    /// Sets a user's password and, with `end_access`, ends its sessions and
    /// revokes its grants in the same transaction (an administrator's reset:
    /// whoever held the old password is signed out).
    pub async fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        end_access: bool,
        initiator: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id:?}")));
        }
        if end_access {
            revoke_access_in(&mut tx, user_id, "password reset", initiator, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a new reset link for `user_id` and retires every earlier
    /// unused one (the newest link is the only one that works).
    pub async fn issue_password_reset(
        &self,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
        created_by: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(now - KEEP_AFTER_EXPIRY)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(created_by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user a reset link would reset, if it is unused, unexpired and
    /// the user is enabled. Reads only: showing the form uses nothing up.
    pub async fn password_reset_user(&self, token_hash: &str, now: i64) -> Result<Option<UserRow>> {
        let cols = super::user_row::columns_as("u");
        let row = sqlx::query(&format!(
            "SELECT {cols} FROM password_resets r JOIN users u ON u.id = r.user_id \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Uses a reset link: marks it used, sets the password, ends the user's
    /// sessions and revokes its grants, all or nothing. `None` when the
    /// link is unknown, used, expired, or its user is disabled; of two
    /// concurrent uses exactly one gets `Some`.
    pub async fn use_password_reset(
        &self,
        token_hash: &str,
        hash: &str,
        now: i64,
    ) -> Result<Option<UserRow>> {
        let mut tx = self.begin().await?;
        let claimed: Option<(String,)> = sqlx::query_as(
            "UPDATE password_resets SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id,)) = claimed else {
            return Ok(None);
        };
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?;
        let user = user_from_row(&row)?;
        if user.disabled {
            // Dropping the transaction rolls the claim back.
            return Ok(None);
        }
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        revoke_access_in(&mut tx, &user_id, "password reset", "user", now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }
}
