//! Risk state kept between logins: per-user histories, flagged devices,
//! and ending everything a user holds when the policy says so.

use super::{Result, Store, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row;
use tollgate_risk::UserHistory;

impl Store {
    /// The user's risk history; `None` for a user never admitted. A row
    /// that does not decode is reported, so the caller can treat the user
    /// as new and say so, rather than score against garbage.
    pub async fn risk_history(&self, login: &str) -> Result<Option<UserHistory>> {
        let row = sqlx::query("SELECT data FROM risk_history WHERE user_login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get(0)?;
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| StoreError::Corrupt(format!("risk history of {login:?}: {e}")))?;
        UserHistory::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("risk history of {login:?}: {e}")))
    }

    /// Replaces the user's risk history.
    pub async fn put_risk_history(&self, login: &str, h: &UserHistory, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO risk_history (user_login, data, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_login) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(login)
        .bind(STANDARD.encode(h.encode()))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a deny flagged this browser device.
    pub async fn device_flagged(&self, device_hash: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM risk_flagged_devices WHERE device_hash = $1")
                .bind(device_hash)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// A deny with revocation: in one transaction, ends every session of
    /// the user, revokes every grant (refresh-token families, and through
    /// the `jti` prefix their access tokens), flags the device and records
    /// the `session-revoked` events for relying parties.
    /// Returns how many sessions and grants it ended.
    pub async fn revoke_user_access(
        &self,
        user_id: &str,
        login: &str,
        device_hash: Option<&str>,
        reason: &str,
        now: i64,
    ) -> Result<(u64, u64)> {
        let mut tx = self.begin().await?;
        let sessions =
            super::events::end_user_sessions_in(&mut tx, user_id, reason, "policy", now).await?;
        let grants = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if let Some(d) = device_hash {
            sqlx::query(
                "INSERT INTO risk_flagged_devices (device_hash, user_login, flagged_at, reason) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (device_hash) DO NOTHING",
            )
            .bind(d)
            .bind(login)
            .bind(now)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((sessions, grants))
    }
}
