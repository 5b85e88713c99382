//! The append-only audit log, hash-chained.
//!
//! Each record's `hash` is SHA-256 (or SM3, GB/T 32905, when configured)
//! over its predecessor's hash and its own fields, so `verify_audit` finds
//! any record edited or deleted after the fact. An SM3 hash is stored as
//! `sm3:<hex>`, a SHA-256 one as bare hex: each record names its own
//! algorithm, so switching algorithms never breaks an existing chain.

use super::writer::Stmt;
use super::{Result, Store, StoreError};
use crate::secret::sha256;
use sqlx::Row;

/// One audit record as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub ts: i64,
    /// What happened: `login.success`, `token.code_replayed`, `client.added`, …
    pub kind: String,
    /// Who did it: a user id, a client id, `cli`, or `system`.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// Details as JSON. Never holds a secret.
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the chain breaks.
#[derive(Debug, thiserror::Error)]
#[error("audit record {id}: {problem}")]
pub struct AuditVerifyError {
    pub id: i64,
    pub problem: String,
}

/// A signed statement of how far the chain reached at one moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub ts: i64,
    /// Records in the chain at `ts`.
    pub record_count: i64,
    /// The newest record's id and hash at `ts` (0 and the genesis hash
    /// for an empty chain).
    pub last_id: i64,
    pub head_hash: String,
    /// Compact JWS by the issuer's signing key over the fields above.
    pub jws: String,
}

/// The chain's extent as stored now: (record count, last id, head hash).
pub type Head = (i64, i64, String);

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a chain uses for new records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainHash {
    #[default]
    Sha256,
    /// SM3 (GB/T 32905), for deployments under the Chinese commercial
    /// cryptography rules.
    Sm3,
}

impl ChainHash {
    /// The algorithm a stored hash was made with.
    fn of(stored: &str) -> ChainHash {
        if stored.starts_with("sm3:") {
            ChainHash::Sm3
        } else {
            ChainHash::Sha256
        }
    }
}

fn chain_hash(
    alg: ChainHash,
    prev: &str,
    ts: i64,
    kind: &str,
    actor: &str,
    subject: &str,
    data: &str,
) -> String {
    let mut buf =
        Vec::with_capacity(prev.len() + kind.len() + actor.len() + subject.len() + data.len() + 64);
    for part in [prev, &ts.to_string(), kind, actor, subject, data] {
        buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
        buf.extend_from_slice(part.as_bytes());
    }
    match alg {
        ChainHash::Sha256 => hex(&sha256(&buf)),
        ChainHash::Sm3 => {
            use sm3::Digest;
            format!("sm3:{}", hex(&sm3::Sm3::digest(&buf)))
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A record queued on the writer, alone or with statements.
enum Queued {
    One(super::writer::Queued),
    With(super::writer::Queued),
}

impl Store {
    /// Chains new audit records with `alg` from now on.
    pub fn with_audit_hash(mut self, alg: ChainHash) -> Store {
        self.audit_hash = alg;
        self
    }

    /// Appends a record to the chain.
    ///
    /// On SQLite the chain head this process wrote last is cached, and a
    /// record is appended in one statement that inserts only if that head
    /// is still the newest record (one statement runs under SQLite's write
    /// lock, so the check and the insert are atomic). When another process
    /// appended in between (the CLI, a directory sync run), nothing is
    /// inserted and the record goes through the transaction below, which
    /// reads the true predecessor. PostgreSQL always takes that path, under
    /// an advisory lock, because other replicas append all the time.
    pub async fn append_audit(
        &self,
        ts: i64,
        kind: &str,
        actor: &str,
        subject: &str,
        data: &serde_json::Value,
    ) -> Result<()> {
        self.append_audit_with(ts, kind, actor, subject, data, Vec::new())
            .await?;
        Ok(())
    }

    /// Appends a record and runs `stmts` in the same transaction (all or
    /// none); returns the rows each statement changed. The end of a sign-in
    /// writes its session, risk history, grant and code this way, with its
    /// `login.success`: one transaction and, on SQLite, one trip to the
    /// writer's connection (`script.rs`) instead of one per statement.
    ///
    /// When the cached head was stale (another process appended), the
    /// statements have committed without the record, which then takes the
    /// transaction path on its own, as [`Store::append_audit`] does.
    pub(crate) async fn append_audit_with(
        &self,
        ts: i64,
        kind: &str,
        actor: &str,
        subject: &str,
        data: &serde_json::Value,
        stmts: Vec<Stmt>,
    ) -> Result<Vec<u64>> {
        let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
        let mut head = self.audit_lock.lock().await;
        // The one-statement path is the writer's (a SQLite file); an
        // in-memory database and PostgreSQL take the transaction path.
        if let Some(w) = &self.writer
            && let Some(prev) = head.take()
        {
            let hash = chain_hash(self.audit_hash, &prev, ts, kind, actor, subject, &data);
            let record = sqlx::query(
                "INSERT INTO audit_log (ts, kind, actor, subject, data, prev_hash, hash) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 \
                 WHERE COALESCE((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), $8) = $6",
            )
            .bind(ts)
            .bind(kind.to_owned())
            .bind(actor.to_owned())
            .bind(subject.to_owned())
            .bind(data.clone())
            .bind(prev.clone())
            .bind(hash.clone())
            .bind(GENESIS);
            let mut all = stmts;
            // Queued under the lock, so records reach the writer in the
            // order they chain; the next record chains on this one
            // (queued behind it) before it has run, and no append waits
            // for another's trip to the database. A record that fails
            // its head check fails every one queued on it: each takes
            // the transaction path, which reads the true predecessor.
            let queued = if all.is_empty() {
                Queued::One(w.queue_execute(record))
            } else {
                all.push(record);
                Queued::With(w.queue_atomic(all))
            };
            *head = Some(hash);
            drop(head);
            let answer = match queued {
                Queued::One(q) => q.changed().await.map(|done| (Vec::new(), done)),
                Queued::With(q) => q.changed_each().await.map(|mut changed| {
                    let done = changed.pop().unwrap_or(0);
                    (changed, done)
                }),
            };
            let mut head = self.audit_lock.lock().await;
            return match answer {
                Ok((changed, 1)) => Ok(changed),
                Ok((changed, _)) => {
                    // The statements are in; the record goes the slow way.
                    self.append_audit_slowly(
                        &mut head,
                        ts,
                        kind,
                        actor,
                        subject,
                        &data,
                        Vec::new(),
                    )
                    .await?;
                    Ok(changed)
                }
                Err(e) => {
                    *head = None;
                    Err(e.into())
                }
            };
        }
        self.append_audit_slowly(&mut head, ts, kind, actor, subject, &data, stmts)
            .await
    }

    /// The transaction path: reads the true predecessor (on PostgreSQL
    /// under an advisory lock, because other replicas append all the time)
    /// and commits the record with `stmts`.
    #[allow(clippy::too_many_arguments)]
    async fn append_audit_slowly(
        &self,
        head: &mut Option<String>,
        ts: i64,
        kind: &str,
        actor: &str,
        subject: &str,
        data: &str,
        stmts: Vec<Stmt>,
    ) -> Result<Vec<u64>> {
        let mut tx = self.begin().await?;
        let mut changed = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            changed.push(stmt.execute(&mut *tx).await?.rows_affected());
        }
        if self.backend() == super::Backend::Postgres {
            // Other replicas append too: take a transaction-scoped lock so the
            // predecessor read below is the real last record.
            sqlx::query("SELECT pg_advisory_xact_lock(727365)")
                .execute(&mut *tx)
                .await?;
        }
        let prev: String = sqlx::query("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0))
            .unwrap_or_else(|| GENESIS.to_string());
        let hash = chain_hash(self.audit_hash, &prev, ts, kind, actor, subject, data);
        sqlx::query(
            "INSERT INTO audit_log (ts, kind, actor, subject, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ts)
        .bind(kind)
        .bind(actor)
        .bind(subject)
        .bind(data)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if self.backend() == super::Backend::Sqlite {
            *head = Some(hash);
        }
        Ok(changed)
    }

    /// Records with `id > after`, oldest first, at most `limit`.
    pub async fn audit_records(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT id, ts, kind, actor, subject, data, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get(5)?;
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    ts: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    actor: r.try_get(3)?,
                    subject: r.try_get(4)?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("audit data: {e}")))?,
                    prev_hash: r.try_get(6)?,
                    hash: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// The chain's head, read in one statement so count and head agree.
    pub async fn audit_head(&self) -> Result<Head> {
        let row = sqlx::query(
            "SELECT id, hash, (SELECT COUNT(*) FROM audit_log) FROM audit_log ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => (r.try_get(2)?, r.try_get(0)?, r.try_get(1)?),
            None => (0, 0, GENESIS.to_string()),
        })
    }

    /// How many records have `id <= last_id`, the largest such id (0 if
    /// none), and the hash of record `last_id` if it is there.
    pub async fn audit_upto(&self, last_id: i64) -> Result<(i64, i64, Option<String>)> {
        let r = sqlx::query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM audit_log WHERE id <= $1")
            .bind(last_id)
            .fetch_one(&self.pool)
            .await?;
        let (count, max_id): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        let hash = sqlx::query("SELECT hash FROM audit_log WHERE id = $1")
            .bind(last_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        Ok((count, max_id, hash))
    }

    pub async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (ts, record_count, last_id, head_hash, jws) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.ts)
        .bind(c.record_count)
        .bind(c.last_id)
        .bind(&c.head_hash)
        .bind(&c.jws)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The newest checkpoint (by what it covers), if any.
    pub async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT ts, record_count, last_id, head_hash, jws FROM audit_checkpoints ORDER BY last_id DESC, id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> Result<Checkpoint> {
            Ok(Checkpoint {
                ts: r.try_get(0)?,
                record_count: r.try_get(1)?,
                last_id: r.try_get(2)?,
                head_hash: r.try_get(3)?,
                jws: r.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Walks the whole chain; returns how many records it checked.
    pub async fn verify_audit(&self) -> Result<std::result::Result<u64, AuditVerifyError>> {
        let mut prev = GENESIS.to_string();
        let mut after = 0;
        let mut n = 0u64;
        loop {
            let rows = sqlx::query(
                "SELECT id, ts, kind, actor, subject, data, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT 1000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(Ok(n));
            }
            for r in &rows {
                let id: i64 = r.try_get(0)?;
                let (ts, kind, actor, subject, data): (i64, String, String, String, String) = (
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                );
                let (stored_prev, stored_hash): (String, String) = (r.try_get(6)?, r.try_get(7)?);
                if stored_prev != prev {
                    return Ok(Err(AuditVerifyError {
                        id,
                        problem: "does not follow the previous record (a record before it was deleted or altered)".into(),
                    }));
                }
                let alg = ChainHash::of(&stored_hash);
                if chain_hash(alg, &prev, ts, &kind, &actor, &subject, &data) != stored_hash {
                    return Ok(Err(AuditVerifyError {
                        id,
                        problem: "content does not match its hash (altered)".into(),
                    }));
                }
                prev = stored_hash;
                after = id;
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tg-audit-{}",
            crate::secret::random_id(6).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    async fn sqlite(dir: &std::path::Path) -> Store {
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.display()), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// The server and a CLI command (another process, another pool) append
    /// to one SQLite file in turns and at once: the chain stays one chain,
    /// whatever head each of them cached.
    #[tokio::test]
    async fn two_writers_on_one_sqlite_file_keep_one_chain() {
        let dir = temp_dir();
        let server = sqlite(&dir).await;
        let cli = sqlite(&dir).await.with_audit_hash(ChainHash::Sm3);
        let d = serde_json::json!({"n": 1});
        for (i, who) in [0, 0, 1, 0, 1, 1, 0].into_iter().enumerate() {
            let s = if who == 0 { &server } else { &cli };
            s.append_audit(i as i64, "t.turn", "a", "s", &d)
                .await
                .unwrap();
        }
        let (a, b) = (server.clone(), cli.clone());
        let run = |s: Store, tag: &'static str| async move {
            for i in 0..40 {
                s.append_audit(i, tag, "a", "s", &serde_json::json!({}))
                    .await
                    .unwrap();
            }
        };
        tokio::join!(run(a, "t.server"), run(b, "t.cli"));
        assert_eq!(server.verify_audit().await.unwrap().unwrap(), 87);
        let (count, _, head) = server.audit_head().await.unwrap();
        assert_eq!(count, 87);
        // The last record written by either is the head the next one chains on.
        server
            .append_audit(99, "t.last", "a", "s", &d)
            .await
            .unwrap();
        let last = server.audit_records(0, 1000).await.unwrap();
        assert_eq!(last[87].prev_hash, head);
        assert_eq!(cli.verify_audit().await.unwrap().unwrap(), 88);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn put(id: &str) -> Stmt {
        sqlx::query("INSERT INTO interactions (id, data, expires_at) VALUES ($1, 'x', 1)")
            .bind(id.to_owned())
    }

    async fn interactions(s: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
            .fetch_one(&s.pool)
            .await
            .unwrap()
    }

    /// The end of a sign-in's write: the record and its statements commit
    /// together or not at all, and the chain stays whole either way, on
    /// both backends and whether the cached head is fresh (the one-trip
    /// script) or missing (the transaction path).
    #[tokio::test]
    async fn a_record_and_its_statements_are_all_or_none() {
        for (s, _) in crate::store::test_stores::stores(&[]).await {
            let d = serde_json::json!({});
            s.append_audit(1, "t.first", "a", "s", &d).await.unwrap();
            let changed = s
                .append_audit_with(2, "t.with", "a", "s", &d, vec![put("i1"), put("i2")])
                .await
                .unwrap();
            assert_eq!(changed, vec![1, 1], "{:?}", s.backend());
            // The second statement breaks the primary key: nothing is left.
            let e = s
                .append_audit_with(3, "t.broken", "a", "s", &d, vec![put("i3"), put("i1")])
                .await;
            assert!(e.is_err(), "{:?}", s.backend());
            assert_eq!(interactions(&s).await, 2, "{:?}: half a write", s.backend());
            // The failure dropped the cached head: the next goes the slow way.
            s.append_audit_with(4, "t.after", "a", "s", &d, vec![put("i4")])
                .await
                .unwrap();
            assert_eq!(interactions(&s).await, 3);
            let kinds: Vec<String> = s
                .audit_records(0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.kind)
                .collect();
            assert_eq!(kinds, ["t.first", "t.with", "t.after"], "{:?}", s.backend());
            assert_eq!(s.verify_audit().await.unwrap().unwrap(), 3);
        }
    }

    /// Another process appended since this one cached its head: the
    /// statements still commit, and the record is chained on the real head.
    #[tokio::test]
    async fn a_stale_head_still_commits_the_statements_and_chains_the_record() {
        let dir = temp_dir();
        let server = sqlite(&dir).await;
        let cli = sqlite(&dir).await;
        let d = serde_json::json!({});
        server
            .append_audit(1, "t.server", "a", "s", &d)
            .await
            .unwrap();
        cli.append_audit(2, "t.cli", "a", "s", &d).await.unwrap();
        let changed = server
            .append_audit_with(3, "t.with", "a", "s", &d, vec![put("i1")])
            .await
            .unwrap();
        assert_eq!(changed, vec![1]);
        assert_eq!(interactions(&server).await, 1);
        assert_eq!(server.verify_audit().await.unwrap().unwrap(), 3);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Appends queue on the writer without waiting for each other: 200 at
    /// once from the server (some with statements), while another process
    /// appends to the same file, still make one chain with every record.
    #[tokio::test]
    async fn parallel_appends_keep_one_chain() {
        let dir = temp_dir();
        let server = sqlite(&dir).await;
        let cli = sqlite(&dir).await;
        let d = serde_json::json!({});
        server
            .append_audit(0, "t.start", "a", "s", &d)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let s = server.clone();
                tokio::spawn(async move {
                    let d = serde_json::json!({"i": i});
                    if i % 4 == 0 {
                        let stmts = vec![put(&format!("p{i}"))];
                        s.append_audit_with(i, "t.with", "a", "s", &d, stmts)
                            .await
                            .map(|c| assert_eq!(c, vec![1]))
                    } else {
                        s.append_audit(i, "t.par", "a", "s", &d).await
                    }
                })
            })
            .collect();
        for i in 0..20 {
            cli.append_audit(i, "t.cli", "a", "s", &d).await.unwrap();
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(server.verify_audit().await.unwrap().unwrap(), 221);
        assert_eq!(interactions(&server).await, 50);
        let _ = std::fs::remove_dir_all(dir);
    }
}
