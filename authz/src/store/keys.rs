//! Signing keys, sealed with the master key.

use super::{Result, Store};
use sqlx::Row;

/// A stored signing key. `private_sealed` is ciphertext; opening it needs the master key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    /// base64 of `MasterKey::seal("signing-key:<kid>", pkcs8)`.
    pub private_sealed: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub activates_at: i64,
    pub retires_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl Store {
    /// All keys still published (not past `expires_at`).
    pub async fn published_keys(&self, now: i64) -> Result<Vec<KeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_sealed, public_jwk, created_at, activates_at, retires_at, expires_at \
             FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at, kid",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    kid: r.try_get(0)?,
                    alg: r.try_get(1)?,
                    private_sealed: r.try_get(2)?,
                    public_jwk: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    activates_at: r.try_get(5)?,
                    retires_at: r.try_get(6)?,
                    expires_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Adds a key and retires the currently signing keys of the same
    /// algorithm at the moment the new one activates; they stay published
    /// until `old_expires_at`. One transaction.
    pub async fn add_key_retiring_others(&self, k: &KeyRow, old_expires_at: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET retires_at = $1, expires_at = $2 WHERE alg = $3 AND retires_at IS NULL",
        )
        .bind(k.activates_at)
        .bind(old_expires_at)
        .bind(&k.alg)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, activates_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_sealed)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.activates_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
