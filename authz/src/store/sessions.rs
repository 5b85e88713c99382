//! Browser sessions (single sign-on) and login interactions.

use super::ProvenFactor;
use super::writer::Stmt;
use super::{Result, Store, from_json, to_json};
use sqlx::Row;

/// A browser session: who signed in and with what.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The `sid` claim; not secret (the cookie holds a separate secret).
    pub id: String,
    pub user_id: String,
    /// Factors proven in this session, with times.
    pub factors: Vec<ProvenFactor>,
    /// Time of the last factor.
    pub auth_time: i64,
    pub expires_at: i64,
}

/// What the login behind a session knew, bound to the session so gateway
/// requests carrying its tokens are scored against it (migration 0009).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionContext {
    /// The hashed device id the login presented (never the raw cookie).
    pub device: Option<String>,
    /// The login's client address.
    pub ip: std::net::IpAddr,
    /// When the login was decided, Unix seconds.
    pub at: i64,
}

impl Store {
    /// The context of `user_id`'s live session `session_id`, if it has one.
    pub async fn session_context(
        &self,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<SessionContext>> {
        let row = sqlx::query(
            "SELECT risk_context FROM sessions WHERE id = $1 AND user_id = $2 \
             AND ended_at IS NULL AND expires_at > $3",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let text: Option<String> = match row {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        text.map(|t| from_json(&t, "session risk context"))
            .transpose()
    }

    /// The live session whose cookie hashes to `token_hash`, if not expired or ended.
    pub async fn session_by_token(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT id, user_id, factors, auth_time, expires_at FROM sessions \
             WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Ends a session, revokes the grants issued within it and records the
    /// `session-revoked` event (back-channel logout, SSF). One transaction.
    pub async fn end_session(&self, session_id: &str, reason: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        let user: Option<String> =
            sqlx::query("SELECT user_id FROM sessions WHERE id = $1 AND ended_at IS NULL")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        if let Some(user) = user {
            let data = serde_json::json!({"reason": reason, "initiator": "user"});
            super::events::intent_in(
                &mut tx,
                "session-revoked",
                &user,
                Some(session_id),
                &data,
                now,
            )
            .await?;
        }
        sqlx::query("UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE session_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a login interaction's state, replacing what was stored under
    /// `id`: one statement, so one round trip and one commit per step.
    pub async fn put_interaction(&self, id: &str, data: &str, expires_at: i64) -> Result<()> {
        self.write(
            sqlx::query(
                "INSERT INTO interactions (id, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            )
            .bind(id.to_owned())
            .bind(data.to_owned())
            .bind(expires_at),
        )
        .await?;
        Ok(())
    }

    /// A live interaction's state.
    pub async fn interaction(&self, id: &str, now: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT data FROM interactions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Removes an interaction; returns whether it was there (so finishing one twice fails).
    pub async fn take_interaction(&self, id: &str) -> Result<bool> {
        let n = self
            .write(sqlx::query("DELETE FROM interactions WHERE id = $1").bind(id.to_owned()))
            .await?;
        Ok(n == 1)
    }
}

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRow> {
    let factors: String = r.try_get(2)?;
    Ok(SessionRow {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        factors: from_json(&factors, "session factors")?,
        auth_time: r.try_get(3)?,
        expires_at: r.try_get(4)?,
    })
}

/// Creates a session; `token_hash` is the hex SHA-256 of the cookie
/// secret, `context` what its login knew (when it was scored). A statement,
/// committed with the rest of a sign-in's end.
pub(crate) fn session_insert(
    s: &SessionRow,
    token_hash: &str,
    context: Option<&SessionContext>,
    now: i64,
) -> Stmt {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, factors, auth_time, created_at, expires_at, \
         risk_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.id.clone())
    .bind(token_hash.to_owned())
    .bind(s.user_id.clone())
    .bind(to_json(&s.factors))
    .bind(s.auth_time)
    .bind(now)
    .bind(s.expires_at)
    .bind(context.map(to_json))
}

/// Records newly proven factors in a live session (step-up) under a
/// new cookie secret, `token_hash`: the cookie that was presented
/// before the level rose stops working (session fixation, a cookie
/// copied at aal1 never carries the stepped-up level). The session id
/// (`sid` of its grants) stays.
/// `context`, the stepped-up login's own (when it was scored), replaces
/// the one bound before.
/// A statement, committed with the rest of a sign-in's end.
pub(crate) fn session_step_up(
    s: &SessionRow,
    token_hash: &str,
    context: Option<&SessionContext>,
) -> Stmt {
    sqlx::query(
        "UPDATE sessions SET factors = $1, auth_time = $2, token_hash = $3, \
         risk_context = COALESCE($4, risk_context) WHERE id = $5",
    )
    .bind(to_json(&s.factors))
    .bind(s.auth_time)
    .bind(token_hash.to_owned())
    .bind(context.map(to_json))
    .bind(s.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storing an interaction again replaces its state and its expiry, in
    /// one statement.
    #[tokio::test]
    async fn an_interaction_stored_again_is_replaced() {
        let (store, dir) = Store::scratch("interactions").await;
        store.put_interaction("i1", "{\"a\":1}", 100).await.unwrap();
        store.put_interaction("i1", "{\"a\":2}", 200).await.unwrap();
        store.put_interaction("i2", "{\"b\":1}", 100).await.unwrap();
        assert_eq!(
            store.interaction("i1", 150).await.unwrap().as_deref(),
            Some("{\"a\":2}")
        );
        assert_eq!(store.interaction("i2", 150).await.unwrap(), None);
        assert!(store.take_interaction("i1").await.unwrap());
        assert!(!store.take_interaction("i1").await.unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }
}
