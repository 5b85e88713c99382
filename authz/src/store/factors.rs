//! Authenticators: passkeys, TOTP factors, recovery codes, and the state of
//! WebAuthn ceremonies between the two requests of each.

use super::user_row::{COLUMNS, UserRow, columns_as, qualified, user_from_row};
use super::{Result, Stmt, Store, StoreError};
use sqlx::Row;

/// A stored passkey. `passkey` is the webauthn-rs `Passkey` as JSON; the
/// other columns are copies for listing and policy without parsing it.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    /// base64url credential id.
    pub cred_id: String,
    pub user_id: String,
    pub passkey: String,
    pub counter: i64,
    /// Hex AAGUID (all zeros with attestation `none`).
    pub aaguid: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// Device-bound and attested under the attestation policy at
    /// registration: the only passkeys that reach `phrh`.
    pub attested: bool,
    pub transports: Vec<String>,
    pub name: String,
    pub suspicious: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A user's TOTP factor. The secret stays sealed until verification.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub user_id: String,
    /// base64 of the sealed secret.
    pub secret_sealed: String,
    pub active: bool,
    pub last_step: i64,
}

const PASSKEY_COLUMNS: &str = "cred_id, user_id, passkey, counter, aaguid, backup_eligible, \
     backup_state, transports, name, suspicious, created_at, last_used_at, attested";

impl Store {
    /// Adds a passkey; a credential id registered before (to anyone) is a conflict.
    pub async fn insert_passkey(&self, p: &PasskeyRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO passkeys ({PASSKEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&p.cred_id)
        .bind(&p.user_id)
        .bind(&p.passkey)
        .bind(p.counter)
        .bind(&p.aaguid)
        .bind(p.backup_eligible as i64)
        .bind(p.backup_state as i64)
        .bind(super::to_json(&p.transports))
        .bind(&p.name)
        .bind(p.suspicious as i64)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .bind(p.attested as i64)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::on_unique(e, "this passkey is already registered"))?;
        Ok(())
    }

    /// A user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, cred_id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    /// One passkey by credential id, with its owner (one statement: the
    /// assertion needs both).
    pub async fn passkey(&self, cred_id: &str) -> Result<Option<(PasskeyRow, UserRow)>> {
        let keys = qualified(PASSKEY_COLUMNS, "p");
        let users = columns_as("u");
        let row = sqlx::query(&format!(
            "SELECT {users}, {keys} FROM passkeys p JOIN users u ON u.id = p.user_id \
             WHERE p.cred_id = $1"
        ))
        .bind(cred_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let n = COLUMNS.split(", ").count();
        Ok(Some((passkey_from_row_at(&r, n)?, user_from_row(&r)?)))
    }

    /// Marks a passkey suspicious (its counter went backwards: a possible clone).
    pub async fn mark_passkey_suspicious(&self, cred_id: &str) -> Result<()> {
        sqlx::query("UPDATE passkeys SET suspicious = 1 WHERE cred_id = $1")
            .bind(cred_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renames one of the user's passkeys; false when it is not theirs.
    pub async fn rename_passkey(&self, user_id: &str, cred_id: &str, name: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE passkeys SET name = $1 WHERE cred_id = $2 AND user_id = $3")
            .bind(name)
            .bind(cred_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes one of the user's passkeys; false when it is not theirs.
    pub async fn delete_passkey(&self, user_id: &str, cred_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM passkeys WHERE cred_id = $1 AND user_id = $2")
            .bind(cred_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Starts (or restarts) TOTP enrollment: an inactive factor with a new secret.
    pub async fn put_pending_totp(&self, user_id: &str, sealed: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND active = 0")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO totp_factors (user_id, secret_sealed, active, last_step, created_at) \
             VALUES ($1, $2, 0, 0, $3)",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "TOTP is already active; remove it first"))?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's TOTP factor (active or pending).
    pub async fn totp(&self, user_id: &str) -> Result<Option<TotpRow>> {
        let row = sqlx::query(
            "SELECT user_id, secret_sealed, active, last_step FROM totp_factors WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let active: i64 = r.try_get(2)?;
            Ok(TotpRow {
                user_id: r.try_get(0)?,
                secret_sealed: r.try_get(1)?,
                active: active != 0,
                last_step: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Accepts time step `step` once: a conditional update, so two requests
    /// racing with the same code cannot both win, on any replica. Also
    /// activates a pending factor. Returns whether this call won.
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE totp_factors SET last_step = $1, active = 1 WHERE user_id = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes the TOTP factor.
    pub async fn delete_totp(&self, user_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces all of a user's recovery codes (hashes) in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(h)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Consumes a recovery code by hash (conditional update: single use).
    pub async fn use_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE code_hash = $2 AND user_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(hash)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// How many unused recovery codes a user has left.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Stores a WebAuthn ceremony's state.
    pub async fn put_ceremony(
        &self,
        id: &str,
        owner: &str,
        kind: &str,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        self.write(
            sqlx::query(
                "INSERT INTO webauthn_ceremonies (id, owner, kind, state, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.to_owned())
            .bind(owner.to_owned())
            .bind(kind.to_owned())
            .bind(state.to_owned())
            .bind(expires_at),
        )
        .await?;
        Ok(())
    }

    /// Takes (deletes and returns) a ceremony's state, so a challenge is
    /// answered at most once. `None` when unknown, expired, of another kind
    /// or started by another owner — the caller cannot tell which, on purpose.
    pub async fn take_ceremony(
        &self,
        id: &str,
        owner: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<String>> {
        // One statement: another owner's or kind's ceremony stays (it is
        // not ours to use up); ours is gone once taken, expired or not.
        let row = self
            .write_returning(
                sqlx::query(
                    "DELETE FROM webauthn_ceremonies WHERE id = $1 AND owner = $2 AND kind = $3 \
                     RETURNING state, expires_at",
                )
                .bind(id.to_owned())
                .bind(owner.to_owned())
                .bind(kind.to_owned()),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (state, exp): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok((exp > now).then_some(state))
    }
}

fn passkey_from_row(r: &sqlx::any::AnyRow) -> Result<PasskeyRow> {
    passkey_from_row_at(r, 0)
}

/// A passkey whose [`PASSKEY_COLUMNS`] start at column `at`.
fn passkey_from_row_at(r: &sqlx::any::AnyRow, at: usize) -> Result<PasskeyRow> {
    let flag = |i: usize| -> Result<bool> { Ok(r.try_get::<i64, _>(at + i)? != 0) };
    let transports: String = r.try_get(at + 7)?;
    Ok(PasskeyRow {
        cred_id: r.try_get(at)?,
        user_id: r.try_get(at + 1)?,
        passkey: r.try_get(at + 2)?,
        counter: r.try_get(at + 3)?,
        aaguid: r.try_get(at + 4)?,
        backup_eligible: flag(5)?,
        backup_state: flag(6)?,
        transports: super::from_json(&transports, "passkey transports")?,
        name: r.try_get(at + 8)?,
        suspicious: flag(9)?,
        created_at: r.try_get(at + 10)?,
        last_used_at: r.try_get(at + 11)?,
        attested: flag(12)?,
    })
}

/// Records a passkey's use: its new counter and flags (and the
/// webauthn-rs state that holds them) and when. A statement, committed
/// with the end of the sign-in it proved when that ends in the same
/// request (`login/flow`).
pub(crate) fn passkey_touch(p: &PasskeyRow, now: i64) -> Stmt {
    sqlx::query(
        "UPDATE passkeys SET passkey = $1, counter = $2, backup_state = $3, last_used_at = $4 \
         WHERE cred_id = $5",
    )
    .bind(p.passkey.clone())
    .bind(p.counter)
    .bind(p.backup_state as i64)
    .bind(now)
    .bind(p.cred_id.clone())
}

#[cfg(test)]
mod tests {
    use crate::store::test_stores::stores;

    /// A ceremony is taken once, by its owner, for its kind, before it
    /// expires; a wrong owner or kind leaves it for the right one. On both
    /// backends.
    #[tokio::test]
    async fn a_ceremony_is_taken_once_by_its_owner() {
        for (s, _dir) in stores(&[]).await {
            s.put_ceremony("c-1", "ix-1", "authenticate", "state-1", 200)
                .await
                .unwrap();
            s.put_ceremony("c-2", "ix-2", "register", "state-2", 150)
                .await
                .unwrap();
            // (id, owner, kind, now, expected)
            let table: &[(&str, &str, &str, i64, Option<&str>)] = &[
                ("c-1", "ix-other", "authenticate", 100, None),
                ("c-1", "ix-1", "register", 100, None),
                ("c-1", "ix-1", "authenticate", 100, Some("state-1")),
                ("c-1", "ix-1", "authenticate", 100, None),
                ("c-2", "ix-2", "register", 150, None),
                ("c-2", "ix-2", "register", 140, None),
                ("no-such", "ix-1", "authenticate", 100, None),
            ];
            for (i, &(id, owner, kind, now, want)) in table.iter().enumerate() {
                let got = s.take_ceremony(id, owner, kind, now).await.unwrap();
                assert_eq!(
                    got.as_deref(),
                    want,
                    "row {i}: {id} {owner} {kind} at {now}"
                );
            }
        }
    }
}
