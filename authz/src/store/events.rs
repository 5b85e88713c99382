//! The security-event outbox: intents written with the change that caused
//! them, and the per-target deliveries they expand into.

use super::{Result, Store};
use sqlx::Row;

/// Something relying parties must hear about.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRow {
    pub id: String,
    /// `session-revoked` or `credential-change`.
    pub kind: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub data: serde_json::Value,
    pub created_at: i64,
}

/// One push to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: String,
    /// `ssf` or `backchannel-logout`.
    pub channel: String,
    pub target: String,
    pub url: String,
    pub claims: serde_json::Value,
    pub attempts: i64,
    /// When it became due: the claim below compares it.
    pub next_attempt_at: i64,
}

/// A delivery to create when an intent expands.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub channel: &'static str,
    pub target: String,
    pub url: String,
    pub claims: serde_json::Value,
}

/// Inserts an intent inside the caller's transaction.
pub(crate) async fn intent_in(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    user_id: &str,
    session_id: Option<&str>,
    data: &serde_json::Value,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO event_intents (id, kind, user_id, session_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(crate::secret::random_id(16))
        .bind(kind)
        .bind(user_id)
        .bind(session_id)
        .bind(data.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every live session of `user_id` inside the caller's transaction
/// and records a `session-revoked` intent for each (one for the user when
/// there was none: their grants still went). Returns how many ended.
pub(crate) async fn end_user_sessions_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    reason: &str,
    initiator: &str,
    now: i64,
) -> Result<u64> {
    let ids: Vec<String> =
        sqlx::query("SELECT id FROM sessions WHERE user_id = $1 AND ended_at IS NULL")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
    sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let data = serde_json::json!({"reason": reason, "initiator": initiator});
    if ids.is_empty() {
        intent_in(conn, "session-revoked", user_id, None, &data, now).await?;
    }
    for id in &ids {
        intent_in(conn, "session-revoked", user_id, Some(id), &data, now).await?;
    }
    Ok(ids.len() as u64)
}

impl Store {
    /// Records an intent on its own (a factor added or removed).
    pub async fn add_event_intent(
        &self,
        kind: &str,
        user_id: &str,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        intent_in(&mut conn, kind, user_id, None, data, now).await
    }

    /// Intents not expanded yet, oldest first.
    pub async fn pending_intents(&self, limit: i64) -> Result<Vec<IntentRow>> {
        let rows = sqlx::query("SELECT id, kind, user_id, session_id, data, created_at FROM event_intents WHERE expanded_at IS NULL ORDER BY created_at, id LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get(4)?;
                Ok(IntentRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    user_id: r.try_get(2)?,
                    session_id: r.try_get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                    created_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The clients that received grants within a session.
    pub async fn session_clients(&self, session_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT client_id FROM grants WHERE session_id = $1")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Expands an intent into its deliveries, in one transaction; a second
    /// expansion of the same intent does nothing.
    pub async fn expand_intent(
        &self,
        intent_id: &str,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let won = sqlx::query(
            "UPDATE event_intents SET expanded_at = $1 WHERE id = $2 AND expanded_at IS NULL",
        )
        .bind(now)
        .bind(intent_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if won {
            for d in deliveries {
                sqlx::query("INSERT INTO event_deliveries (id, intent_id, channel, target, url, claims, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
                    .bind(crate::secret::random_id(16))
                    .bind(intent_id)
                    .bind(d.channel)
                    .bind(&d.target)
                    .bind(&d.url)
                    .bind(d.claims.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(won)
    }

    /// Deliveries due at `now`.
    pub async fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query("SELECT id, channel, target, url, claims, attempts, next_attempt_at FROM event_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2")
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let claims: String = r.try_get(4)?;
                Ok(DeliveryRow {
                    id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    target: r.try_get(2)?,
                    url: r.try_get(3)?,
                    claims: serde_json::from_str(&claims).unwrap_or(serde_json::Value::Null),
                    attempts: r.try_get(5)?,
                    next_attempt_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Claims a due delivery for one attempt by moving its next attempt to
    /// `until` (a lease): one conditional statement, so of several replicas
    /// that read the same due row exactly one sends it. A replica that dies
    /// mid-send leaves the row due again at `until`.
    pub async fn claim_delivery(&self, row: &DeliveryRow, until: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE event_deliveries SET next_attempt_at = $1 \
             WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(until)
        .bind(&row.id)
        .bind(row.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records an attempt: delivered, or failed with the next attempt time
    /// (`None`: give up).
    pub async fn delivery_attempted(
        &self,
        id: &str,
        outcome: std::result::Result<(), (&str, Option<i64>)>,
        now: i64,
    ) -> Result<()> {
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE event_deliveries SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
            Err((error, next)) => {
                sqlx::query("UPDATE event_deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, failed_at = $3 WHERE id = $4")
                    .bind(error)
                    .bind(next.unwrap_or(now))
                    .bind(if next.is_none() { Some(now) } else { None })
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Deliveries not yet delivered nor given up.
    pub async fn pending_deliveries(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM event_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}
