//! The SCIM outbox, the target's ids of pushed resources, and per-target
//! delivery state (migration 0007).
//!
//! **Invariant:** a change to users, groups or memberships enqueues its
//! outbox rows in the same transaction as the change ([`enqueue`] takes the
//! transaction's connection), so a crash or restart never loses one.

use super::{Result, Store, StoreError, from_json, to_json};
use sqlx::Row;

/// What an outbox row points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimKind {
    User,
    Group,
}

impl ScimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimKind::User => "user",
            ScimKind::Group => "group",
        }
    }

    fn parse(s: &str) -> Result<ScimKind> {
        match s {
            "user" => Ok(ScimKind::User),
            "group" => Ok(ScimKind::Group),
            other => Err(StoreError::Corrupt(format!("scim kind {other:?}"))),
        }
    }
}

/// A pending change: push the current state of `subject` to `target`.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub target: String,
    pub kind: ScimKind,
    /// A user id, or a group name.
    pub subject: String,
    /// Bumped by every coalesced change; a delivery removes the row only
    /// if it is unchanged.
    pub version: i64,
    pub attempts: i64,
}

/// What a target holds for one resource.
#[derive(Debug, Clone)]
pub struct ScimResourceRow {
    pub remote_id: String,
    /// User: hex SHA-256 of the pushed resource. Group: JSON list of the
    /// members' remote ids.
    pub pushed: String,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum RowEnd<'a> {
    Delivered,
    /// The target refused the resource: retry at `retry_at`, or park it
    /// (`None`) until it changes again.
    Refused {
        error: &'a str,
        retry_at: Option<i64>,
    },
}

/// `tollgate scim status` for one target.
#[derive(Debug, Clone, Default)]
pub struct ScimTargetStatus {
    pub target: String,
    pub pending: i64,
    pub failed: i64,
    pub provisioned_users: i64,
    pub provisioned_groups: i64,
    pub full_sync_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub failures: i64,
    pub next_attempt_at: i64,
}

/// Enqueues `subject` for every target, inside the caller's transaction.
/// A pending row for the same resource is coalesced (its version bumped,
/// made due now, a parked failure given a fresh start).
pub(crate) async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    targets: &[String],
    kind: ScimKind,
    subject: &str,
    now: i64,
) -> Result<()> {
    for target in targets {
        sqlx::query(
            "INSERT INTO scim_outbox (target, kind, subject, version, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, 1, 0, $4, $4) \
             ON CONFLICT (target, kind, subject) DO UPDATE SET version = scim_outbox.version + 1, \
             attempts = 0, next_attempt_at = $4, failed_at = NULL",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(subject)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Enqueues a user and the groups whose member lists it changes.
pub(crate) async fn enqueue_user(
    conn: &mut sqlx::AnyConnection,
    targets: &[String],
    user_id: &str,
    groups: &[String],
    now: i64,
) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    enqueue(conn, targets, ScimKind::User, user_id, now).await?;
    for g in groups {
        enqueue(conn, targets, ScimKind::Group, g, now).await?;
    }
    Ok(())
}

/// `sql` with the row's key bound as `$1`..`$4` (target, kind, subject,
/// version): only the version that was read is touched.
fn for_row<'q>(
    sql: &'q str,
    row: &'q OutboxRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(&row.target)
        .bind(row.kind.as_str())
        .bind(&row.subject)
        .bind(row.version)
}

/// Makes sure a target has its state row.
async fn ensure_target(conn: &mut sqlx::AnyConnection, target: &str) -> Result<()> {
    sqlx::query("INSERT INTO scim_targets (target) VALUES ($1) ON CONFLICT (target) DO NOTHING")
        .bind(target)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Targets changes are enqueued for (the configured `[[scim.targets]]`).
    pub fn with_scim_targets(mut self, names: Vec<String>) -> Store {
        self.scim_targets = names.into();
        self
    }

    /// Enqueues one resource for one target, outside any other change
    /// (the worker re-pushing a group after its member was created).
    pub async fn scim_enqueue(
        &self,
        target: &str,
        kind: ScimKind,
        subject: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        enqueue(&mut conn, &[target.to_string()], kind, subject, now).await
    }

    /// The first time a target is seen, enqueues every user and group for
    /// it and records that (one transaction). Returns how many were
    /// enqueued; 0 when the full sync was done before.
    pub async fn scim_initial_sync(&self, target: &str, now: i64) -> Result<usize> {
        let mut tx = self.begin().await?;
        ensure_target(&mut tx, target).await?;
        let done: Option<i64> =
            sqlx::query("SELECT full_sync_at FROM scim_targets WHERE target = $1")
                .bind(target)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        if done.is_some() {
            return Ok(0);
        }
        let rows = sqlx::query("SELECT id, group_names FROM users")
            .fetch_all(&mut *tx)
            .await?;
        let mut groups = std::collections::BTreeSet::new();
        let targets = [target.to_string()];
        for r in &rows {
            let id: String = r.try_get(0)?;
            let g: String = r.try_get(1)?;
            groups.extend(from_json::<Vec<String>>(&g, "user groups")?);
            enqueue(&mut tx, &targets, ScimKind::User, &id, now).await?;
        }
        for g in &groups {
            enqueue(&mut tx, &targets, ScimKind::Group, g, now).await?;
        }
        sqlx::query("UPDATE scim_targets SET full_sync_at = $1 WHERE target = $2")
            .bind(now)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.len() + groups.len())
    }

    /// Takes (or renews) the delivery lease of a target for `owner` until
    /// `until`, unless another owner holds an unexpired one.
    pub async fn scim_take_lease(
        &self,
        target: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        ensure_target(&mut *self.pool.acquire().await?, target).await?;
        let r = sqlx::query(
            "UPDATE scim_targets SET lease_owner = $1, lease_until = $2 \
             WHERE target = $3 AND (lease_until < $4 OR lease_owner = $1)",
        )
        .bind(owner)
        .bind(until)
        .bind(target)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives the lease back.
    pub async fn scim_release_lease(&self, target: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE scim_targets SET lease_until = 0 WHERE target = $1 AND lease_owner = $2",
        )
        .bind(target)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a target's backoff (a manual sync) and gives parked rows a new start.
    pub async fn scim_target_retry_now(&self, target: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE scim_targets SET next_attempt_at = 0 WHERE target = $1")
            .bind(target)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE scim_outbox SET failed_at = NULL, attempts = 0, next_attempt_at = 0 WHERE target = $1",
        )
        .bind(target)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the target may be tried again (0: now).
    pub async fn scim_target_next_attempt(&self, target: &str) -> Result<i64> {
        let row = sqlx::query("SELECT next_attempt_at FROM scim_targets WHERE target = $1")
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }

    /// Due rows of a target, users before groups (a group's members must
    /// exist at the target first), oldest first.
    pub async fn scim_due(&self, target: &str, now: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT target, kind, subject, version, attempts FROM scim_outbox \
             WHERE target = $1 AND failed_at IS NULL AND next_attempt_at <= $2 \
             ORDER BY CASE kind WHEN 'user' THEN 0 ELSE 1 END, created_at, subject LIMIT $3",
        )
        .bind(target)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(1)?;
                Ok(OutboxRow {
                    target: r.try_get(0)?,
                    kind: ScimKind::parse(&kind)?,
                    subject: r.try_get(2)?,
                    version: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Every pending row of a target (for the dry run and status).
    pub async fn scim_pending(&self, target: &str) -> Result<Vec<OutboxRow>> {
        self.scim_due(target, i64::MAX, i64::MAX).await
    }

    /// Records how a delivery of `row` ended, in one transaction with the
    /// target's last success or error. Only the version that was read is
    /// removed or rescheduled: a change made meanwhile stays pending.
    pub async fn scim_row_done(&self, row: &OutboxRow, end: RowEnd<'_>, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        ensure_target(&mut tx, &row.target).await?;
        let (on_row, on_target) = match end {
            RowEnd::Delivered => (
                for_row(
                    "DELETE FROM scim_outbox WHERE target = $1 AND kind = $2 AND subject = $3 AND version = $4",
                    row,
                ),
                sqlx::query(
                    "UPDATE scim_targets SET failures = 0, next_attempt_at = 0, last_success_at = $2 WHERE target = $1",
                )
                .bind(&row.target)
                .bind(now),
            ),
            RowEnd::Refused { error, retry_at } => (
                for_row(
                    "UPDATE scim_outbox SET attempts = attempts + 1, last_error = $5, next_attempt_at = $6, failed_at = $7 \
                     WHERE target = $1 AND kind = $2 AND subject = $3 AND version = $4",
                    row,
                )
                .bind(error)
                .bind(retry_at.unwrap_or(now))
                .bind(if retry_at.is_none() { Some(now) } else { None }),
                sqlx::query(
                    "UPDATE scim_targets SET last_error = $2, last_error_at = $3 WHERE target = $1",
                )
                .bind(&row.target)
                .bind(error)
                .bind(now),
            ),
        };
        on_row.execute(&mut *tx).await?;
        on_target.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The target is unreachable or refuses Tollgate: back off the whole
    /// target. Returns the number of consecutive failures.
    pub async fn scim_target_failed(
        &self,
        target: &str,
        error: &str,
        now: i64,
        delay: impl Fn(i64) -> i64,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        ensure_target(&mut tx, target).await?;
        let failures: i64 = sqlx::query("SELECT failures FROM scim_targets WHERE target = $1")
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0)
            + 1;
        sqlx::query(
            "UPDATE scim_targets SET failures = $1, next_attempt_at = $2, last_error = $3, last_error_at = $4 \
             WHERE target = $5",
        )
        .bind(failures)
        .bind(now + delay(failures))
        .bind(error)
        .bind(now)
        .bind(target)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(failures)
    }

    /// What `target` holds for a resource, if Tollgate pushed it.
    pub async fn scim_resource(
        &self,
        target: &str,
        kind: ScimKind,
        subject: &str,
    ) -> Result<Option<ScimResourceRow>> {
        let row = sqlx::query(
            "SELECT remote_id, pushed FROM scim_resources WHERE target = $1 AND kind = $2 AND subject = $3",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ScimResourceRow {
                remote_id: r.try_get(0)?,
                pushed: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Records what the target now holds for a resource.
    pub async fn scim_set_resource(
        &self,
        target: &str,
        kind: ScimKind,
        subject: &str,
        res: &ScimResourceRow,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO scim_resources (target, kind, subject, remote_id, pushed, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (target, kind, subject) \
             DO UPDATE SET remote_id = $4, pushed = $5, updated_at = $6",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(subject)
        .bind(&res.remote_id)
        .bind(&res.pushed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a resource the target no longer has (it answered 404).
    pub async fn scim_forget_resource(
        &self,
        target: &str,
        kind: ScimKind,
        subject: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM scim_resources WHERE target = $1 AND kind = $2 AND subject = $3")
            .bind(target)
            .bind(kind.as_str())
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Members of a group (users whose group list names it), by login.
    pub async fn users_in_group(&self, group: &str) -> Result<Vec<super::UserRow>> {
        // LIKE narrows on the JSON text; the exact check is on the parsed
        // list. A backslash is an escape in PostgreSQL's LIKE: scan all then.
        let json = to_json(&group);
        let pattern = if json.contains('\\') {
            "%".to_string()
        } else {
            format!("%{json}%")
        };
        let rows = sqlx::query(&format!(
            "SELECT {} FROM users WHERE group_names LIKE $1 ORDER BY login",
            super::user_row::COLUMNS
        ))
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let u = super::user_row::user_from_row(r)?;
            if u.groups.iter().any(|g| g == group) {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Every group name any user has.
    pub async fn group_names(&self) -> Result<Vec<String>> {
        let mut groups = std::collections::BTreeSet::new();
        for u in self.users().await? {
            groups.extend(u.groups);
        }
        Ok(groups.into_iter().collect())
    }

    /// Pending rows of a target, for the pending-count gauge.
    pub async fn scim_pending_count(&self, target: &str) -> Result<i64> {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM scim_outbox WHERE target = $1 AND failed_at IS NULL")
                .bind(target)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        Ok(n)
    }

    /// Delivery state of a target.
    pub async fn scim_status(&self, target: &str) -> Result<ScimTargetStatus> {
        let count = |sql: &'static str| {
            let pool = self.pool.clone();
            let target = target.to_string();
            async move {
                let n: i64 = sqlx::query(sql)
                    .bind(target)
                    .fetch_one(&pool)
                    .await?
                    .try_get(0)?;
                Ok::<i64, StoreError>(n)
            }
        };
        let mut st = ScimTargetStatus {
            target: target.to_string(),
            pending: self.scim_pending_count(target).await?,
            failed: count(
                "SELECT COUNT(*) FROM scim_outbox WHERE target = $1 AND failed_at IS NOT NULL",
            )
            .await?,
            provisioned_users: count(
                "SELECT COUNT(*) FROM scim_resources WHERE target = $1 AND kind = 'user'",
            )
            .await?,
            provisioned_groups: count(
                "SELECT COUNT(*) FROM scim_resources WHERE target = $1 AND kind = 'group'",
            )
            .await?,
            ..ScimTargetStatus::default()
        };
        if let Some(r) = sqlx::query(
            "SELECT full_sync_at, last_success_at, last_error, last_error_at, failures, next_attempt_at \
             FROM scim_targets WHERE target = $1",
        )
        .bind(target)
        .fetch_optional(&self.pool)
        .await?
        {
            st.full_sync_at = r.try_get(0)?;
            st.last_success_at = r.try_get(1)?;
            st.last_error = r.try_get(2)?;
            st.last_error_at = r.try_get(3)?;
            st.failures = r.try_get(4)?;
            st.next_attempt_at = r.try_get(5)?;
        }
        Ok(st)
    }

    /// The last error of a parked or retried row, for status output.
    pub async fn scim_failed_rows(&self, target: &str) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT kind, subject, COALESCE(last_error, '') FROM scim_outbox \
             WHERE target = $1 AND failed_at IS NOT NULL ORDER BY kind, subject",
        )
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewUser, UserUpdate};

    use crate::store::test_stores::stores;

    fn user(login: &str, groups: &[&str]) -> NewUser {
        NewUser {
            login: login.into(),
            display_name: login.into(),
            upn: Some(format!("{login}@corp.example")),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..NewUser::default()
        }
    }

    fn keys(rows: &[OutboxRow]) -> Vec<(String, &'static str, String, i64)> {
        rows.iter()
            .map(|r| {
                (
                    r.target.clone(),
                    r.kind.as_str(),
                    r.subject.clone(),
                    r.version,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn changes_are_queued_in_their_transaction_and_coalesce() {
        for (s, dir) in stores(&["a", "b"]).await {
            let now = 1_000;
            let ids = s
                .insert_users(&[user("alice", &["ops"])], now)
                .await
                .unwrap();
            let alice = ids[0].clone();
            for t in ["a", "b"] {
                assert_eq!(
                    keys(&s.scim_due(t, now, 10).await.unwrap()),
                    vec![
                        (t.to_string(), "user", alice.clone(), 1),
                        (t.to_string(), "group", "ops".to_string(), 1)
                    ],
                    "users before groups"
                );
            }
            // A failed change queues nothing: the import is all or none.
            let dup = s
                .insert_users(&[user("bob", &["dev"]), user("alice", &[])], now)
                .await;
            assert!(matches!(dup, Err(StoreError::Conflict(_))));
            assert_eq!(s.scim_pending_count("a").await.unwrap(), 2);

            // Moving alice from ops to dev: the user row coalesces (version 2),
            // both groups are queued.
            let before = s.scim_due("a", now, 10).await.unwrap();
            let change = UserUpdate {
                groups: Some(vec!["dev".into()]),
                ..UserUpdate::default()
            };
            s.update_user("alice", &change, now + 1).await.unwrap();
            let rows = s.scim_due("a", now + 1, 10).await.unwrap();
            assert_eq!(
                keys(&rows),
                vec![
                    ("a".into(), "user", alice.clone(), 2),
                    ("a".into(), "group", "ops".into(), 2),
                    ("a".into(), "group", "dev".into(), 1),
                ]
            );
            // A delivery of the older version must not drop the newer change.
            s.scim_row_done(&before[0], RowEnd::Delivered, now + 2)
                .await
                .unwrap();
            assert_eq!(s.scim_pending_count("a").await.unwrap(), 3);
            s.scim_row_done(&rows[0], RowEnd::Delivered, now + 2)
                .await
                .unwrap();
            assert_eq!(s.scim_pending_count("a").await.unwrap(), 2);
            assert_eq!(
                s.scim_status("a").await.unwrap().last_success_at,
                Some(now + 2)
            );

            // Disabling queues the user again.
            s.disable_user("alice", now + 3).await.unwrap();
            assert_eq!(s.scim_pending("a").await.unwrap()[0].subject, alice);

            // A refused resource waits for its retry time, then is parked.
            let row = s.scim_due("a", now + 3, 1).await.unwrap().remove(0);
            s.scim_row_done(
                &row,
                RowEnd::Refused {
                    error: "400 bad",
                    retry_at: Some(now + 5),
                },
                now + 3,
            )
            .await
            .unwrap();
            assert!(
                keys(&s.scim_due("a", now + 4, 10).await.unwrap())
                    .iter()
                    .all(|k| k.2 != alice)
            );
            assert_eq!(
                s.scim_due("a", now + 5, 10).await.unwrap()[0].subject,
                alice
            );
            let row = s.scim_due("a", now + 5, 1).await.unwrap().remove(0);
            s.scim_row_done(
                &row,
                RowEnd::Refused {
                    error: "400 bad",
                    retry_at: None,
                },
                now + 5,
            )
            .await
            .unwrap();
            let st = s.scim_status("a").await.unwrap();
            assert_eq!((st.pending, st.failed), (2, 1));
            assert_eq!(st.last_error.as_deref(), Some("400 bad"));
            assert_eq!(
                s.scim_failed_rows("a").await.unwrap(),
                vec![("user".to_string(), alice.clone(), "400 bad".to_string())]
            );
            // A new change gives a parked row a fresh start.
            s.update_user(
                "alice",
                &UserUpdate {
                    enabled: Some(true),
                    ..Default::default()
                },
                now + 6,
            )
            .await
            .unwrap();
            let st = s.scim_status("a").await.unwrap();
            assert_eq!((st.pending, st.failed), (3, 0));
            if !dir.as_os_str().is_empty() {
                std::fs::remove_dir_all(&dir).ok();
            }
        }
    }

    #[tokio::test]
    async fn target_backoff_lease_and_initial_sync_are_persisted() {
        for (s, dir) in stores(&[]).await {
            let now = 5_000;
            s.insert_users(&[user("alice", &["ops"]), user("bob", &[])], now)
                .await
                .unwrap();
            assert_eq!(
                s.scim_pending_count("vc").await.unwrap(),
                0,
                "no target yet"
            );
            assert_eq!(s.scim_initial_sync("vc", now).await.unwrap(), 3);
            assert_eq!(s.scim_initial_sync("vc", now).await.unwrap(), 0, "once");
            assert_eq!(s.scim_pending_count("vc").await.unwrap(), 3);

            let delay = |n: i64| crate::scim::backoff(n, 2, 60);
            assert_eq!(
                s.scim_target_failed("vc", "down", now, delay)
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                s.scim_target_failed("vc", "down", now, delay)
                    .await
                    .unwrap(),
                2
            );
            assert_eq!(s.scim_target_next_attempt("vc").await.unwrap(), now + 4);
            let st = s.scim_status("vc").await.unwrap();
            assert_eq!((st.failures, st.last_error.as_deref()), (2, Some("down")));
            s.scim_target_retry_now("vc").await.unwrap();
            assert_eq!(s.scim_target_next_attempt("vc").await.unwrap(), 0);

            assert!(s.scim_take_lease("vc", "x", now, now + 60).await.unwrap());
            assert!(
                !s.scim_take_lease("vc", "y", now + 1, now + 61)
                    .await
                    .unwrap()
            );
            assert!(
                s.scim_take_lease("vc", "x", now + 1, now + 61)
                    .await
                    .unwrap()
            );
            assert!(
                s.scim_take_lease("vc", "y", now + 62, now + 90)
                    .await
                    .unwrap(),
                "expired"
            );
            s.scim_release_lease("vc", "y").await.unwrap();
            assert!(
                s.scim_take_lease("vc", "x", now + 63, now + 90)
                    .await
                    .unwrap()
            );

            let r = ScimResourceRow {
                remote_id: "r-1".into(),
                pushed: "[]".into(),
            };
            s.scim_set_resource("vc", ScimKind::Group, "ops", &r, now)
                .await
                .unwrap();
            let got = s
                .scim_resource("vc", ScimKind::Group, "ops")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.remote_id, "r-1");
            s.scim_forget_resource("vc", ScimKind::Group, "ops")
                .await
                .unwrap();
            assert!(
                s.scim_resource("vc", ScimKind::Group, "ops")
                    .await
                    .unwrap()
                    .is_none()
            );
            let members: Vec<String> = s
                .users_in_group("ops")
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.login)
                .collect();
            assert_eq!(members, vec!["alice"]);
            assert_eq!(s.group_names().await.unwrap(), vec!["ops"]);
            if !dir.as_os_str().is_empty() {
                std::fs::remove_dir_all(&dir).ok();
            }
        }
    }
}
