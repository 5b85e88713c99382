//! Endpoint-agent devices: enrollment codes and enrollments, the devices
//! themselves, device-request nonces (replay window) and the issuer's SM2
//! grant-signing key. Challenges, grants and receipts are in
//! `device_events.rs`.

use super::{Result, Store, StoreError};
use sqlx::Row;

/// An enrolled device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// `d-…`, the id the agent names itself by.
    pub id: String,
    pub user_id: String,
    /// base64url SubjectPublicKeyInfo DER of the SM2 device key.
    pub public_key: String,
    pub dist_id: String,
    /// `tpm`, `tpm-sealed` or `software` as the issuer *verified* it: `tpm`
    /// (the only hardware-bound kind) only after TPM attestation at
    /// enrollment; an unverified claim is recorded as `software`.
    pub key_storage: String,
    /// What the agent claimed at enrollment (kept for the record only).
    pub claimed_storage: Option<String>,
    /// Why `key_storage` is what it is, for device lists: the verified
    /// attestation, or the reason none was accepted.
    pub attestation: String,
    /// base64url EK certificate or EK public key, when the agent sent one.
    pub ek: Option<String>,
    pub hostname: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A pending enrollment: who, and the challenge the new key must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRow {
    pub id: String,
    pub user_id: String,
    pub challenge: String,
    pub expires_at: i64,
    /// Hex SHA-256 of the secret sealed to the EK by the attestation round
    /// trip, once it ran (it runs at most once per enrollment).
    pub attest_secret_hash: Option<String>,
    /// base64url TPMT_PUBLIC of the AK the secret was made for.
    pub attest_ak: Option<String>,
    /// The verified EK certificate's issuer (for the device record).
    pub attest_ek_issuer: Option<String>,
}

/// The issuer's grant-signing key, sealed.
#[derive(Debug, Clone)]
pub struct GrantKeyRow {
    pub kid: String,
    /// base64 of `MasterKey::seal("grant-key:<kid>", scalar)`.
    pub private_sealed: String,
    /// base64url SubjectPublicKeyInfo DER.
    pub public_key: String,
    pub created_at: i64,
}

const DEVICE_COLUMNS: &str = "id, user_id, public_key, dist_id, key_storage, ek, hostname, created_at, revoked_at, \
     claimed_storage, attestation";

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        public_key: r.try_get(2)?,
        dist_id: r.try_get(3)?,
        key_storage: r.try_get(4)?,
        ek: r.try_get(5)?,
        hostname: r.try_get(6)?,
        created_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
        claimed_storage: r.try_get(9)?,
        attestation: r.try_get(10)?,
    })
}

impl Store {
    /// Stores a fresh enrollment code (its hash) for a signed-in user.
    pub async fn insert_enroll_code(
        &self,
        code_hash: &str,
        user_id: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_enroll_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(code_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Consumes an enrollment code and opens an enrollment, in one
    /// transaction. `None` when the code is unknown, used or expired: the
    /// conditional `UPDATE` makes a code single-use even under races.
    pub async fn begin_enrollment(
        &self,
        code_hash: &str,
        e: &EnrollmentRow,
        now: i64,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let user: Option<String> = sqlx::query(
            "SELECT user_id FROM device_enroll_codes \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let Some(user) = user else {
            return Ok(None);
        };
        let used = sqlx::query(
            "UPDATE device_enroll_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO device_enrollments (id, user_id, challenge, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&e.id)
        .bind(&user)
        .bind(&e.challenge)
        .bind(e.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// A live, unused enrollment.
    pub async fn enrollment(&self, id: &str, now: i64) -> Result<Option<EnrollmentRow>> {
        let row = sqlx::query(
            "SELECT id, user_id, challenge, expires_at, attest_secret_hash, attest_ak, \
             attest_ek_issuer FROM device_enrollments \
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(EnrollmentRow {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                challenge: r.try_get(2)?,
                expires_at: r.try_get(3)?,
                attest_secret_hash: r.try_get(4)?,
                attest_ak: r.try_get(5)?,
                attest_ek_issuer: r.try_get(6)?,
            })
        })
        .transpose()
    }

    /// Records the attestation round trip of an open enrollment, once: a
    /// conditional `UPDATE`, so a second (or concurrent) attempt for the
    /// same enrollment gets `false` and cannot swap in another AK.
    pub async fn start_enrollment_attestation(
        &self,
        enrollment_id: &str,
        secret_hash: &str,
        ak: &str,
        ek_issuer: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE device_enrollments SET attest_secret_hash = $1, attest_ak = $2, \
             attest_ek_issuer = $3 WHERE id = $4 AND used_at IS NULL AND expires_at > $5 \
             AND attest_secret_hash IS NULL",
        )
        .bind(secret_hash)
        .bind(ak)
        .bind(ek_issuer)
        .bind(enrollment_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Marks the enrollment used and stores the device (with its sealed OTP
    /// seed), in one transaction; a second finish of the same enrollment is
    /// a conflict.
    pub async fn complete_enrollment(
        &self,
        enrollment_id: &str,
        d: &DeviceRow,
        otp_sealed: Option<&str>,
        otp_algorithm: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let used = sqlx::query(
            "UPDATE device_enrollments SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(enrollment_id)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Err(StoreError::Conflict("enrollment already finished".into()));
        }
        sqlx::query(
            "INSERT INTO devices (id, user_id, public_key, dist_id, key_storage, ek, hostname, otp_sealed, \
             created_at, otp_algorithm, claimed_storage, attestation) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&d.id)
        .bind(&d.user_id)
        .bind(&d.public_key)
        .bind(&d.dist_id)
        .bind(&d.key_storage)
        .bind(&d.ek)
        .bind(&d.hostname)
        .bind(otp_sealed)
        .bind(d.created_at)
        .bind(otp_algorithm)
        .bind(&d.claimed_storage)
        .bind(&d.attestation)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "device id already exists"))?;
        tx.commit().await?;
        Ok(())
    }

    /// A device by id, revoked or not.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| device_from_row(&r)).transpose()
    }

    /// Devices of one user (`Some`) or of everyone, oldest first.
    pub async fn devices(&self, user_id: Option<&str>) -> Result<Vec<DeviceRow>> {
        let rows = match user_id {
            Some(u) => sqlx::query(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_at, id"
            ))
            .bind(u)
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(device_from_row).collect()
    }

    /// The sealed OTP seed provisioned at enrollment (base64), if any.
    pub async fn device_otp_sealed(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT otp_sealed FROM devices WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.flatten())
    }

    /// The user's active (not revoked) devices that hold an OTP seed:
    /// `(device id, sealed seed, algorithm)`, oldest first.
    pub async fn otp_devices(&self, user_id: &str) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT id, otp_sealed, otp_algorithm FROM devices \
             WHERE user_id = $1 AND revoked_at IS NULL AND otp_sealed IS NOT NULL \
             ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Accepts OTP time step `step` of an active device once: a
    /// conditional `UPDATE` of `otp_last_step`, so a step at or below the
    /// last accepted one (a replay, also from another replica) and a device
    /// revoked meanwhile both give `false`.
    pub async fn use_device_otp_step(&self, device_id: &str, step: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE devices SET otp_last_step = $1 \
             WHERE id = $2 AND otp_last_step < $1 AND revoked_at IS NULL",
        )
        .bind(step)
        .bind(device_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes a device; returns whether it was active. Takes effect at
    /// once: every device request and answer looks the device up.
    pub async fn revoke_device(&self, id: &str, now: i64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a device-request nonce; `false` when this device already
    /// used it within the window (a replay). Expired nonces are dropped
    /// first, so the table stays the size of the window.
    pub async fn use_device_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM device_nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        match sqlx::query(
            "INSERT INTO device_nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(device_id)
        .bind(nonce)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        {
            Ok(_) => Ok(true),
            Err(e) => match StoreError::on_unique(e, "replay") {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// The grant-signing key in use: the oldest stored one.
    pub async fn grant_key(&self) -> Result<Option<GrantKeyRow>> {
        let row = sqlx::query(
            "SELECT kid, private_sealed, public_key, created_at FROM grant_keys \
             ORDER BY created_at, kid LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(GrantKeyRow {
                kid: r.try_get(0)?,
                private_sealed: r.try_get(1)?,
                public_key: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Stores a new grant-signing key.
    pub async fn insert_grant_key(&self, k: &GrantKeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO grant_keys (kid, private_sealed, public_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&k.kid)
        .bind(&k.private_sealed)
        .bind(&k.public_key)
        .bind(k.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
