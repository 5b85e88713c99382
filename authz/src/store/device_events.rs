//! What enrolled devices do: login-approval challenges, offline grants
//! issued to them, and the receipts of offline logins they upload.

use super::{Result, Store, StoreError};
use sqlx::Row;

/// A login-approval challenge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub id: String,
    /// The login interaction it completes.
    pub transaction_id: String,
    pub device_id: String,
    pub nonce: String,
    /// The two digits shown on the login page.
    pub number: String,
    /// JSON `LoginOrigin` shown to the user by the agent.
    pub origin: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub answered_at: Option<i64>,
    /// `approved`, `denied`, `rejected` (wrong number), or `consumed`
    /// (approved and used by the login).
    pub outcome: Option<String>,
}

/// An uploaded receipt, as audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    pub id: String,
    pub device_id: String,
    pub grant_id: String,
    pub login_at: i64,
    pub sequence: i64,
    /// Flag codes (`grant_expired`, `device_revoked`, …); empty when clean.
    pub flags: Vec<String>,
    pub uploaded_at: i64,
}

const CHALLENGE_COLUMNS: &str = "id, transaction_id, device_id, nonce, number, origin, created_at, expires_at, answered_at, outcome";

fn challenge_from_row(r: &sqlx::any::AnyRow) -> Result<ChallengeRow> {
    Ok(ChallengeRow {
        id: r.try_get(0)?,
        transaction_id: r.try_get(1)?,
        device_id: r.try_get(2)?,
        nonce: r.try_get(3)?,
        number: r.try_get(4)?,
        origin: r.try_get(5)?,
        created_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        answered_at: r.try_get(8)?,
        outcome: r.try_get(9)?,
    })
}

impl Store {
    /// Stores the challenges of one login (one per active device), all or none.
    pub async fn insert_challenges(&self, cs: &[ChallengeRow]) -> Result<()> {
        let mut tx = self.begin().await?;
        for c in cs {
            sqlx::query(
                "INSERT INTO device_challenges (id, transaction_id, device_id, nonce, number, origin, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&c.id)
            .bind(&c.transaction_id)
            .bind(&c.device_id)
            .bind(&c.nonce)
            .bind(&c.number)
            .bind(&c.origin)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A challenge by id.
    pub async fn challenge(&self, id: &str) -> Result<Option<ChallengeRow>> {
        let row = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM device_challenges WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| challenge_from_row(&r)).transpose()
    }

    /// Unanswered, unexpired challenges for a device, oldest first.
    pub async fn pending_challenges(&self, device_id: &str, now: i64) -> Result<Vec<ChallengeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM device_challenges \
             WHERE device_id = $1 AND answered_at IS NULL AND expires_at > $2 ORDER BY created_at, id"
        ))
        .bind(device_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(challenge_from_row).collect()
    }

    /// The challenges of one login, newest first.
    pub async fn challenges_of(&self, transaction_id: &str) -> Result<Vec<ChallengeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM device_challenges \
             WHERE transaction_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(transaction_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(challenge_from_row).collect()
    }

    /// Records the answer; `false` when the challenge was already answered
    /// (the conditional `UPDATE` makes each challenge answerable once).
    pub async fn answer_challenge(&self, id: &str, outcome: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE device_challenges SET answered_at = $1, outcome = $2 \
             WHERE id = $3 AND answered_at IS NULL",
        )
        .bind(now)
        .bind(outcome)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Turns an approval into a proof for its login exactly once.
    pub async fn consume_approval(&self, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE device_challenges SET outcome = 'consumed' WHERE id = $1 AND outcome = 'approved'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records an offline grant as issued (its claims JSON as signed).
    pub async fn insert_offline_grant(
        &self,
        id: &str,
        device_id: &str,
        claims: &str,
        issued_at: i64,
        not_after: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO offline_grants (id, device_id, claims, issued_at, not_after) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(device_id)
        .bind(claims)
        .bind(issued_at)
        .bind(not_after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The claims JSON of an issued grant.
    pub async fn offline_grant(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT claims FROM offline_grants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Stores a receipt once; `false` when its id was already stored.
    pub async fn insert_receipt(&self, r: &ReceiptRow) -> Result<bool> {
        let res = sqlx::query(
            "INSERT INTO offline_receipts (id, device_id, grant_id, login_at, sequence, flags, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.device_id)
        .bind(&r.grant_id)
        .bind(r.login_at)
        .bind(r.sequence)
        .bind(super::to_json(&r.flags))
        .bind(r.uploaded_at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => match StoreError::on_unique(e, "duplicate receipt") {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Receipts uploaded for a device, oldest login first.
    pub async fn receipts_of(&self, device_id: &str) -> Result<Vec<ReceiptRow>> {
        let rows = sqlx::query(
            "SELECT id, device_id, grant_id, login_at, sequence, flags, uploaded_at \
             FROM offline_receipts WHERE device_id = $1 ORDER BY login_at, id",
        )
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let flags: String = r.try_get(5)?;
                Ok(ReceiptRow {
                    id: r.try_get(0)?,
                    device_id: r.try_get(1)?,
                    grant_id: r.try_get(2)?,
                    login_at: r.try_get(3)?,
                    sequence: r.try_get(4)?,
                    flags: super::from_json(&flags, "receipt flags")?,
                    uploaded_at: r.try_get(6)?,
                })
            })
            .collect()
    }
}
