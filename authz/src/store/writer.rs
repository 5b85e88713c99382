//! SQLite's hot-path writes, run back to back on a thread of their own.
//!
//! SQLite has one writer. With the write turn alone (`write_turn.rs`), the
//! writer that holds it waits, between its statements, for the request's
//! task to be scheduled again on the server's busy runtime: a one-statement
//! write held the turn about 150–200 µs under a sign-in load, of which
//! SQLite's own work is a few dozen, and the turn was held 80 % of the
//! time. Here a dedicated thread owns one connection and runs the queued
//! statements in order under one turn: between two of them there is only
//! the hop to sqlx's worker thread and back, which no other task competes
//! for. The request waits for its answer as it waited for the pool.
//!
//! Statements come here with owned binds ([`Stmt`], so they can cross
//! threads): one at a time, each its own commit, or a few that must be one
//! transaction ([`Writer::atomic`]); each is answered as soon as it ran.
//! Transactions that read between their writes keep their pooled
//! connection and take the turn as before (the thread takes the same turn
//! for each run of statements, so the two never meet SQLite's lock). PostgreSQL and in-memory SQLite databases
//! (one per connection, so a second connection would see another
//! database) have no writer: their statements run on the pool.

use futures_util::StreamExt;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::{Any, AnyConnection, ConnectOptions, Executor};
use tokio::sync::{mpsc, oneshot};

use super::write_turn::WriteTurn;

/// A statement with owned binds: `sqlx::query(SQL).bind(owned)…`.
pub(crate) type Stmt = sqlx::query::Query<'static, Any, AnyArguments<'static>>;

/// At most this many statements run under one turn, so a transaction
/// waiting for it is let in between runs.
const RUN: usize = 64;

/// What the thread is asked to run.
enum Work {
    /// One statement; answers the rows it changed.
    Execute(Stmt),
    /// One statement with `RETURNING`; answers its row, if any.
    Row(Stmt),
    /// Statements in one transaction, all or none; answers the rows each
    /// changed.
    Atomic(Vec<Stmt>),
}

/// Its answer.
enum Done {
    Execute(u64),
    Row(Option<AnyRow>),
    Atomic(Vec<u64>),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, sqlx::Error>>,
}

/// The queue to the writer thread; the thread ends (and closes its
/// connection) when the last store clone holding it is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Writer(mpsc::UnboundedSender<Job>);

impl Writer {
    /// Starts the thread for the database at `url`; it connects on its
    /// first statement, and again after a connection fault.
    pub(crate) fn start(url: &str, turn: WriteTurn) -> std::io::Result<Writer> {
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| std::io::Error::other(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                rt.block_on(async move {
                    let (stop, stopped) = oneshot::channel();
                    let checkpointer = tokio::spawn(checkpoints(options.clone(), stopped));
                    run(options, turn, rx).await;
                    // Lets a checkpoint under way finish, then closes.
                    drop(stop);
                    let _ = checkpointer.await;
                })
            })?;
        Ok(Writer(tx))
    }

    /// Runs `stmt` and returns the rows it changed.
    pub(crate) async fn execute(&self, stmt: Stmt) -> Result<u64, sqlx::Error> {
        self.queue_execute(stmt).changed().await
    }

    /// Runs `stmt` and returns the row it returned, if any.
    pub(crate) async fn fetch_optional(&self, stmt: Stmt) -> Result<Option<AnyRow>, sqlx::Error> {
        match self.queue(Work::Row(stmt)).answer().await? {
            Done::Row(r) => Ok(r),
            _ => unreachable_answer(),
        }
    }

    /// Runs `stmts` in one transaction and returns the rows each changed.
    pub(crate) async fn atomic(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, sqlx::Error> {
        self.queue_atomic(stmts).changed_each().await
    }

    /// Queues `stmt` now, behind everything queued before this call, and
    /// answers later ([`Queued::changed`]): a caller that must keep an
    /// order (the audit chain) queues under its lock and waits outside it.
    pub(crate) fn queue_execute(&self, stmt: Stmt) -> Queued {
        self.queue(Work::Execute(stmt))
    }

    /// [`Writer::atomic`], queued now ([`Queued::changed_each`]).
    pub(crate) fn queue_atomic(&self, stmts: Vec<Stmt>) -> Queued {
        self.queue(Work::Atomic(stmts))
    }

    fn queue(&self, work: Work) -> Queued {
        let (reply, answer) = oneshot::channel();
        // A closed queue drops the job and with it `reply`: the answer is
        // `PoolClosed`, as for a closed pool.
        let _ = self.0.send(Job { work, reply });
        Queued(answer)
    }
}

/// A queued statement's answer to come.
pub(crate) struct Queued(oneshot::Receiver<Result<Done, sqlx::Error>>);

impl Queued {
    async fn answer(self) -> Result<Done, sqlx::Error> {
        self.0.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// The rows a queued statement changed.
    pub(crate) async fn changed(self) -> Result<u64, sqlx::Error> {
        match self.answer().await? {
            Done::Execute(n) => Ok(n),
            _ => unreachable_answer(),
        }
    }

    /// The rows each statement of a queued transaction changed.
    pub(crate) async fn changed_each(self) -> Result<Vec<u64>, sqlx::Error> {
        match self.answer().await? {
            Done::Atomic(n) => Ok(n),
            _ => unreachable_answer(),
        }
    }
}

/// An answer of the other kind cannot come back: the thread answers what
/// it was asked. Reported as a protocol error rather than a panic.
fn unreachable_answer<T>() -> Result<T, sqlx::Error> {
    Err(sqlx::Error::Protocol(
        "store writer answered another kind".into(),
    ))
}

async fn run(options: AnyConnectOptions, turn: WriteTurn, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut conn: Option<AnyConnection> = None;
    while let Some(first) = rx.recv().await {
        let held = turn.take().await;
        let mut next = Some(first);
        let mut ran = 0;
        while let Some(job) = next.take() {
            let answer = match connected(&mut conn, &options).await {
                Ok(c) => perform(c, job.work).await,
                Err(e) => Err(e),
            };
            if let Err(e) = &answer
                && !matches!(e, sqlx::Error::Database(_))
            {
                // Not the statement's fault: start over on a new connection
                // (which also ends a transaction left open).
                conn = None;
            }
            // The request may have gone (a dropped future): nothing to tell.
            let _ = job.reply.send(answer);
            ran += 1;
            if ran < RUN {
                next = rx.try_recv().ok();
            }
        }
        drop(held);
    }
}

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Copies committed WAL frames into the database file every
/// [`CHECKPOINT_EVERY`], on a connection of its own, until `stop` closes.
///
/// SQLite checkpoints in the commit that finds the WAL past
/// `wal_autocheckpoint` pages: at the default 1,000, under the sign-in
/// bench that was 30 checkpoints a second, each with its fsyncs, inside
/// the writer's chain of statements, which every request waits behind.
/// A `PASSIVE` checkpoint takes no write lock (the writer goes on
/// appending meanwhile) and copies each page once however often it
/// changed, so here it costs the writer nothing and the disk less; the
/// WAL file stays about as large as a tenth of a second of writes.
/// Every 250 ms gave the same rate with a p99 about 10 ms higher (larger
/// bursts of copying on the same cores).
/// (Measured in docs/operations.md, "Checkpoints off the writer's path".)
/// The commit-time checkpoint stays as a backstop
/// ([`super::WAL_CHECKPOINT_PAGES`]).
async fn checkpoints(options: AnyConnectOptions, mut stop: oneshot::Receiver<()>) {
    let mut conn: Option<AnyConnection> = None;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        let done = match connected(&mut conn, &options).await {
            Ok(c) => c.execute("PRAGMA wal_checkpoint(PASSIVE)").await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            // Busy with another process's checkpoint, or the connection
            // broke: the next round tries again (after a fault, on a new
            // connection).
            tracing::debug!(error = %e, "WAL checkpoint");
            if !matches!(e, sqlx::Error::Database(_)) {
                conn = None;
            }
        }
    }
}

async fn perform(c: &mut AnyConnection, work: Work) -> Result<Done, sqlx::Error> {
    match work {
        Work::Execute(stmt) => Ok(Done::Execute(stmt.execute(&mut *c).await?.rows_affected())),
        Work::Row(stmt) => Ok(Done::Row(stmt.fetch_optional(&mut *c).await?)),
        Work::Atomic(stmts) => {
            let n = stmts.len();
            let (text, args) = super::script::transaction(stmts)?;
            // One trip to the connection's thread for the whole transaction.
            let mut results = c.fetch_many(sqlx::query_with(&text, args));
            let mut changed = Vec::with_capacity(n + 2);
            let mut failed = None;
            while let Some(r) = results.next().await {
                match r {
                    Ok(sqlx::Either::Left(done)) => changed.push(done.rows_affected()),
                    Ok(sqlx::Either::Right(_)) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            drop(results);
            if let Some(e) = failed {
                // A failed rollback leaves the transaction open: reported as
                // a connection fault, so the connection is replaced.
                if let Err(r) = c.execute("ROLLBACK").await {
                    return Err(sqlx::Error::Protocol(format!("{e}; rollback failed: {r}")));
                }
                return Err(e);
            }
            // BEGIN's result, each statement's, COMMIT's.
            if changed.len() != n + 2 {
                return Err(sqlx::Error::Protocol(format!(
                    "a script of {n} statements answered {} results",
                    changed.len()
                )));
            }
            changed.truncate(n + 1);
            changed.remove(0);
            Ok(Done::Atomic(changed))
        }
    }
}

async fn connected<'c>(
    conn: &'c mut Option<AnyConnection>,
    options: &AnyConnectOptions,
) -> Result<&'c mut AnyConnection, sqlx::Error> {
    if conn.is_none() {
        let mut c = options.connect().await?;
        super::sqlite_pragmas(&mut c).await?;
        *conn = Some(c);
    }
    conn.as_mut()
        .ok_or_else(|| sqlx::Error::Protocol("store writer has no connection".into()))
}

#[cfg(test)]
mod tests {
    use crate::store::test_stores::stores;
    use crate::store::{Store, StoreError};

    fn put(id: &str) -> super::Stmt {
        sqlx::query("INSERT INTO interactions (id, data, expires_at) VALUES ($1, 'x', 1)")
            .bind(id.to_owned())
    }

    /// What another connection (the pool, as every read) sees.
    async fn stored(s: &Store, id: &str) -> bool {
        sqlx::query("SELECT 1 FROM interactions WHERE id = $1")
            .bind(id)
            .fetch_optional(&s.pool)
            .await
            .unwrap()
            .is_some()
    }

    #[tokio::test]
    async fn writes_are_committed_and_answer_what_they_changed() {
        for (s, _) in stores(&[]).await {
            assert_eq!(
                s.writer.is_some(),
                s.backend() == crate::store::Backend::Sqlite
            );
            assert_eq!(s.write(put("a")).await.unwrap(), 1);
            assert!(
                stored(&s, "a").await,
                "{:?}: committed, seen by the pool",
                s.backend()
            );
            let gone =
                sqlx::query("DELETE FROM interactions WHERE id = $1").bind("nobody".to_owned());
            assert_eq!(s.write(gone).await.unwrap(), 0);
            let take = || {
                sqlx::query("DELETE FROM interactions WHERE id = $1 RETURNING data")
                    .bind("a".to_owned())
            };
            let row = s.write_returning(take()).await.unwrap().expect("a row");
            assert_eq!(sqlx::Row::get::<String, _>(&row, 0), "x");
            assert!(
                s.write_returning(take()).await.unwrap().is_none(),
                "taken once"
            );
            assert!(!stored(&s, "a").await);
        }
    }

    #[tokio::test]
    async fn a_unique_violation_is_the_statements_error_and_the_writer_goes_on() {
        for (s, _) in stores(&[]).await {
            s.write(put("dup")).await.unwrap();
            let e = s.write(put("dup")).await.unwrap_err();
            let StoreError::Db(e) = e else { panic!("{e}") };
            assert!(
                matches!(StoreError::on_unique(e, "taken"), StoreError::Conflict(_)),
                "{:?}: a client's conflict, as on the pool",
                s.backend()
            );
            assert_eq!(s.write(put("next")).await.unwrap(), 1);
            assert!(stored(&s, "next").await);
        }
    }

    #[tokio::test]
    async fn an_atomic_write_is_all_or_none() {
        for (s, _) in stores(&[]).await {
            s.write(put("held")).await.unwrap();
            // The second statement fails: the first is undone with it.
            assert!(
                s.write_atomic(vec![put("first"), put("held")])
                    .await
                    .is_err()
            );
            assert!(
                !stored(&s, "first").await,
                "{:?}: half a write left",
                s.backend()
            );
            // And the transaction is over: what comes next commits alone.
            s.write(put("after")).await.unwrap();
            assert!(
                stored(&s, "after").await,
                "{:?}: a transaction left open",
                s.backend()
            );
            assert_eq!(
                s.write_atomic(vec![put("b"), put("c")]).await.unwrap(),
                vec![1, 1]
            );
            assert!(stored(&s, "b").await && stored(&s, "c").await);
        }
    }

    /// The writer's checkpointer copies the WAL into the database file on
    /// its own: a committed row reaches `t.db` itself (the WAL is far from
    /// the commit-time checkpoint's threshold) while the store is open.
    #[tokio::test]
    async fn committed_writes_reach_the_database_file_in_the_background() {
        let (s, dir) = Store::scratch("checkpoint").await;
        let id = format!("checkpointed-{}", crate::secret::random_id(8));
        s.write(put(&id)).await.unwrap();
        let in_file = || {
            let bytes = std::fs::read(dir.join("t.db")).unwrap();
            bytes.windows(id.len()).any(|w| w == id.as_bytes())
        };
        // Generous: a loaded CI machine may delay a round.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !in_file() && std::time::Instant::now() < deadline {
            tokio::time::sleep(super::CHECKPOINT_EVERY / 5).await;
        }
        assert!(in_file(), "the row is still only in the WAL");
        assert!(stored(&s, &id).await);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn parallel_writers_all_land() {
        for (s, _) in stores(&[]).await {
            let tasks: Vec<_> = (0..200)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        if i % 10 == 0 {
                            // A transaction on the pool among them shares the turn.
                            let mut tx = s.begin().await.unwrap();
                            put(&format!("t{i}")).execute(&mut *tx).await.unwrap();
                            tx.commit().await.unwrap();
                        } else {
                            s.write(put(&format!("t{i}"))).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE id LIKE 't%'")
                .fetch_one(&s.pool)
                .await
                .unwrap();
            assert_eq!(n, 200, "{:?}", s.backend());
        }
    }
}
