//! Risk state kept between logins: per-user histories, flagged devices,
//! and ending everything a user holds when the policy says so.

use super::{Result, Store, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row;
use tollgate_risk::UserHistory;
use tollgate_risk::global::GlobalFrequencies;

/// The one row of `risk_globals`.
const SKETCH: &str = "sketch";
/// Saves that lose the race to another replica before giving up (the
/// counts stay unsaved and go with the next save).
const SAVE_TRIES: usize = 5;

/// Base64 `text` through `decode`; anything that does not decode is
/// [`StoreError::Corrupt`], named by `what`.
fn decoded<T>(
    text: String,
    what: &str,
    decode: impl FnOnce(&[u8]) -> tollgate_risk::Result<T>,
) -> Result<T> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    decode(&bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

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
        let what = format!("risk history of {login:?}");
        decoded(row.try_get(0)?, &what, UserHistory::decode).map(Some)
    }

    /// The stored global frequency sketch and its version; `None` before
    /// the first save.
    pub async fn risk_globals(&self) -> Result<Option<(GlobalFrequencies, i64)>> {
        let row = sqlx::query("SELECT data, version FROM risk_globals WHERE name = $1")
            .bind(SKETCH)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let g = decoded(row.try_get(0)?, "risk globals", GlobalFrequencies::decode)?;
        Ok(Some((g, row.try_get(1)?)))
    }

    /// Adds `delta` (what this replica counted since its last save) to the
    /// stored sketch and returns the sum: every replica's counts. The
    /// read-add-write is retried when another replica saved in between
    /// (compare-and-set on `version`), so no count is lost or doubled.
    pub async fn add_risk_globals(
        &self,
        delta: &GlobalFrequencies,
        now: i64,
    ) -> Result<GlobalFrequencies> {
        for _ in 0..SAVE_TRIES {
            let stored = self.risk_globals().await?;
            let (mut sum, version) = match stored {
                Some((g, v)) => (g, Some(v)),
                None => (delta.clone(), None),
            };
            if version.is_some() {
                sum.merge(delta)
                    .map_err(|e| StoreError::Corrupt(format!("risk globals: {e}")))?;
            }
            let data = STANDARD.encode(sum.encode());
            let written = match version {
                None => sqlx::query(
                    "INSERT INTO risk_globals (name, data, version, updated_at) VALUES ($1, $2, 1, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(SKETCH)
                .bind(data)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
                Some(v) => sqlx::query(
                    "UPDATE risk_globals SET data = $1, version = $2, updated_at = $3 \
                     WHERE name = $4 AND version = $5",
                )
                .bind(data)
                .bind(v + 1)
                .bind(now)
                .bind(SKETCH)
                .bind(v)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            };
            if written == 1 {
                return Ok(sum);
            }
        }
        Err(StoreError::Conflict(
            "risk globals: other replicas kept saving; try again".into(),
        ))
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

/// Replaces the user's risk history: a statement for `Store::write`, or to
/// commit with the rest of a sign-in's end.
pub(crate) fn risk_history_put(login: &str, h: &UserHistory, now: i64) -> super::writer::Stmt {
    sqlx::query(
        "INSERT INTO risk_history (user_login, data, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_login) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
    )
    .bind(login.to_owned())
    .bind(STANDARD.encode(h.encode()))
    .bind(now)
}
