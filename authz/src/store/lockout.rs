//! Attempt counters behind lockouts (per user, per factor, per IP).
//!
//! An attempt is *reserved* before the secret is checked, by one
//! conditional statement per key (`INSERT … ON CONFLICT … DO UPDATE …
//! RETURNING`): the database serialises concurrent reservations of one
//! key, so N parallel guesses consume N attempts, on one replica or many
//! (PostgreSQL). Nothing is read first and written back later.

use super::{Result, Store};
use sqlx::Row;

/// The limits of one kind of key. Plain numbers, so the store needs
/// nothing from `login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Attempts allowed within `window`; the next one locks the key.
    pub max: i64,
    /// Seconds over which attempts are counted.
    pub window: i64,
    /// Seconds a lock lasts.
    pub lockout: i64,
}

/// A key's counter right after a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    /// Attempts in the current window, this one included.
    pub count: i64,
    /// Until when the key is locked (0: not locked).
    pub locked_until: i64,
}

impl AttemptState {
    /// Whether the reservation that returned this state may check its secret.
    pub fn allowed(&self, max: i64, now: i64) -> bool {
        self.locked_until <= now && self.count <= max
    }
}

/// One statement: a new key starts at 1; a locked key stays as it is; a key
/// whose window ran out or whose lock was served starts over at 1; else the
/// count goes up, and passing `max` sets the lock. `SET` expressions all
/// read the row as it was, on SQLite and PostgreSQL alike.
const RESERVE: &str = "INSERT INTO login_failures (key, count, window_start, locked_until) \
    VALUES ($1, 1, $2, 0) \
    ON CONFLICT (key) DO UPDATE SET \
      count = CASE WHEN login_failures.locked_until > $2 THEN login_failures.count \
        WHEN login_failures.window_start + $3 <= $2 OR login_failures.locked_until > 0 THEN 1 \
        ELSE login_failures.count + 1 END, \
      window_start = CASE WHEN login_failures.locked_until > $2 THEN login_failures.window_start \
        WHEN login_failures.window_start + $3 <= $2 OR login_failures.locked_until > 0 THEN $2 \
        ELSE login_failures.window_start END, \
      locked_until = CASE WHEN login_failures.locked_until > $2 THEN login_failures.locked_until \
        WHEN login_failures.window_start + $3 <= $2 OR login_failures.locked_until > 0 THEN 0 \
        WHEN login_failures.count + 1 > $4 THEN $2 + $5 \
        ELSE 0 END \
    RETURNING count, locked_until";

impl Store {
    /// Reserves one attempt on `key` (`user:<login>`, `totp:<login>`,
    /// `ip:<addr>`) at `now`; the caller checks [`AttemptState::allowed`].
    pub async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        limits: AttemptLimits,
    ) -> Result<AttemptState> {
        let row = self
            .write_returning(
                sqlx::query(RESERVE)
                    .bind(key.to_owned())
                    .bind(now)
                    .bind(limits.window)
                    .bind(limits.max)
                    .bind(limits.lockout),
            )
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(AttemptState {
            count: row.try_get(0)?,
            locked_until: row.try_get(1)?,
        })
    }

    /// Gives back one reserved attempt that did not check a secret (or that
    /// succeeded on a shared key such as an IP). Never unlocks a key.
    pub async fn release_attempt(&self, key: &str) -> Result<()> {
        self.write(
            sqlx::query(
                "UPDATE login_failures SET count = count - 1 \
                 WHERE key = $1 AND count > 0 AND locked_until = 0",
            )
            .bind(key.to_owned()),
        )
        .await?;
        Ok(())
    }

    /// Forgets a counter (after a successful check of that key's secret).
    pub async fn clear_failures(&self, key: &str) -> Result<()> {
        self.write(sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key.to_owned()))
            .await?;
        Ok(())
    }

    /// Deletes counters whose window and lock are both over: keys made of
    /// any typed username do not pile up. Called by the purge loop.
    pub async fn purge_attempts(&self, now: i64, window: i64) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM login_failures WHERE locked_until <= $1 AND window_start + $2 <= $1",
        )
        .bind(now)
        .bind(window)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// The counter of `key`, if any (for tests and `users` tooling).
    pub async fn attempts(&self, key: &str) -> Result<Option<AttemptState>> {
        let row = sqlx::query("SELECT count, locked_until FROM login_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<AttemptState> {
            Ok(AttemptState {
                count: r.try_get(0)?,
                locked_until: r.try_get(1)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: AttemptLimits = AttemptLimits {
        max: 3,
        window: 100,
        lockout: 50,
    };

    /// (time of attempt, allowed?) on one key; the table is the whole life
    /// of a counter: window, lock, lock served, window over.
    #[tokio::test]
    async fn reservations_count_lock_and_start_over() {
        let (store, dir) = Store::scratch("attempts").await;
        let cases = [
            (1000, true),
            (1001, true),
            (1002, true),
            (1003, false), // fourth in the window: locks until 1053
            (1052, false),
            (1053, true), // lock served: starts over
            (1054, true),
            (1055, true),
            (1056, false),
            (1106, true),
        ];
        for (t, want) in cases {
            let s = store.reserve_attempt("user:a", t, L).await.unwrap();
            assert_eq!(s.allowed(L.max, t), want, "at {t}: {s:?}");
        }
        // A window that runs out without reaching the limit starts over.
        for t in [2000, 2001, 2101, 2102, 2103] {
            let s = store.reserve_attempt("user:b", t, L).await.unwrap();
            assert!(s.allowed(L.max, t), "at {t}: {s:?}");
        }
        store.release_attempt("user:b").await.unwrap();
        let s = store.attempts("user:b").await.unwrap().unwrap();
        assert_eq!(s.count, 2);
        // user:a's last window (from 1106) is over at 2150, user:b's is not.
        assert_eq!(store.purge_attempts(2150, 100).await.unwrap(), 1);
        assert_eq!(store.purge_attempts(3000, 100).await.unwrap(), 1);
        assert_eq!(store.attempts("user:a").await.unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
