//! Failed-attempt counters behind lockouts (per user, per IP).

use super::{Result, Store};
use sqlx::Row;

/// Failures counted for one key within the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    pub count: i64,
    pub window_start: i64,
    pub locked_until: i64,
}

impl Store {
    /// The counter for `key` (`user:<login>` or `ip:<addr>`); zero when absent.
    pub async fn failures(&self, key: &str) -> Result<FailureState> {
        let row = sqlx::query(
            "SELECT count, window_start, locked_until FROM login_failures WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => FailureState {
                count: r.try_get(0)?,
                window_start: r.try_get(1)?,
                locked_until: r.try_get(2)?,
            },
            None => FailureState::default(),
        })
    }

    /// Stores a counter.
    pub async fn put_failures(&self, key: &str, s: FailureState) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_failures (key, count, window_start, locked_until) VALUES ($1, $2, $3, $4)")
            .bind(key)
            .bind(s.count)
            .bind(s.window_start)
            .bind(s.locked_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a counter (after a successful login).
    pub async fn clear_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
