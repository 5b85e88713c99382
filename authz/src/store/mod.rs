//! Storage: one repository layer over SQLite or PostgreSQL.
//!
//! Queries go through `sqlx::Any` with one SQL text per query, valid on both
//! databases (`$N` placeholders, `BIGINT` times, `TEXT` hashes and JSON), so
//! both backends are exercised by the same code and the same tests.
//!
//! **Invariant:** every change that touches more than one row runs in one
//! transaction; callers never see half of it.

mod audit;
mod audit_sink;
mod clients;
mod device_events;
mod devices;
mod directories;
mod directory_groups;
mod events;
mod factors;
mod grant_data;
mod grants;
mod holdings;
mod keys;
mod lockout;
mod password_resets;
mod proof;
mod risk;
mod scim;
mod script;
mod sessions;
#[cfg(test)]
mod test_stores;
mod user_row;
mod users;
mod write_turn;
mod writer;

pub use audit::{AuditRecord, AuditVerifyError, ChainHash, Checkpoint, hex};
pub use audit_sink::Audit;
pub use clients::ClientRow;
pub use device_events::{ChallengeRow, ReceiptRow};
pub use devices::{DeviceRow, EnrollmentRow, GrantKeyRow};
pub use directories::{AccountRow, AccountWrite, DirectoryRecord, DirectoryStatus};
pub use directory_groups::DirectoryGroup;
pub use events::{DeliveryRow, IntentRow, NewDelivery};
pub(crate) use factors::passkey_touch;
pub use factors::{PasskeyRow, TotpRow};
pub use grant_data::{AuthContext, CodeData, RefreshData};
pub(crate) use grants::code_insert;
pub use grants::{CodeRow, ConsumeCode, RefreshRow, UseRefresh};
pub use holdings::Holdings;
pub use keys::KeyRow;
pub use lockout::{AttemptLimits, AttemptState};
pub use proof::{Method, ProvenFactor};
pub(crate) use risk::risk_history_put;
pub use scim::{OutboxRow, RowEnd, ScimKind, ScimResourceRow, ScimTargetStatus};
pub use sessions::{SessionContext, SessionRow};
pub(crate) use sessions::{session_insert, session_step_up};
pub use users::{NewUser, UserRow, UserUpdate};
pub(crate) use writer::Stmt;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::sync::Arc;
use write_turn::{Turn, WriteTurn, WriteTx};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A storage failure. Constraint violations that a client caused are mapped
/// to [`StoreError::Conflict`] here, in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Turns a unique-constraint violation into a conflict with `message`.
    pub(crate) fn on_unique(e: sqlx::Error, message: impl Into<String>) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(message.into());
        }
        StoreError::Db(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The repository. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Serialises audit appends in this process so the hash chain is computed
    /// on the true predecessor, and holds (SQLite only) the hash of the
    /// record this process appended last: a guess at the chain head that
    /// `append_audit` checks in the same statement that inserts, since the
    /// CLI may append from another process. PostgreSQL replicas take an
    /// advisory lock inside the transaction instead.
    audit_lock: Arc<tokio::sync::Mutex<Option<String>>>,
    /// The hash new audit records are chained with.
    audit_hash: audit::ChainHash,
    /// SCIM targets that user changes are enqueued for, in the change's
    /// own transaction (see `scim.rs`).
    scim_targets: Arc<[String]>,
    /// SQLite's writers queue here rather than in its busy handler.
    write_turn: WriteTurn,
    /// SQLite's hot-path writes (one statement, or a few in one
    /// transaction) run here (`writer.rs`); `None` on PostgreSQL and for an
    /// in-memory database.
    writer: Option<writer::Writer>,
}

static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a SQLite write waits for the lock (`PRAGMA busy_timeout`), and
/// for its turn in this process (`write_turn.rs`).
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// WAL pages after which a commit checkpoints itself (SQLite's default is
/// 1,000). On a file database the writer's checkpointer
/// (`writer::checkpoints`) copies the WAL into the database in the
/// background long before that, so a commit never waits for a checkpoint;
/// this is the backstop should it fall behind (64 MiB of WAL).
pub(crate) const WAL_CHECKPOINT_PAGES: u32 = 16_384;

/// Every SQLite connection's settings: WAL lets readers proceed during a
/// write; the busy timeout turns contention with another process (the CLI)
/// into waiting, not errors.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute(format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis()).as_str())
        .await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute(format!("PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}").as_str())
        .await?;
    Ok(())
}

/// How long a pooled PostgreSQL connection may sit idle before it is pinged
/// on its way out of the pool (HikariCP's `aliveBypassWindowMs` is 500 ms).
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(500);

impl Store {
    /// A migrated SQLite store in a fresh directory under the system temp
    /// directory (`tg-NAME-…`), for unit tests; the directory is returned
    /// for the test's own files.
    #[cfg(test)]
    pub(crate) async fn scratch(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "tg-{name}-{}",
            crate::secret::random_id(6).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.display()), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    /// Connects to `url` (`sqlite://PATH` or `postgres://...`). A SQLite file
    /// and its folder are created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Conflict(format!(
                "database.url {url:?}: expected sqlite://PATH or postgres://..."
            )));
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or("");
            if path != ":memory:"
                && !path.is_empty()
                && let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Conflict(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let write_turn = match backend {
            Backend::Sqlite => WriteTurn::queued(),
            Backend::Postgres => WriteTurn::none(),
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if backend == Backend::Sqlite && !in_memory {
            Some(
                writer::Writer::start(&url, write_turn.clone()).map_err(|e| {
                    StoreError::Conflict(format!("cannot start the SQLite writer: {e}"))
                })?,
            )
        } else {
            None
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            // sqlx pings every connection it hands out by default: one more
            // hop to SQLite's worker thread, or one more network round trip
            // to PostgreSQL, per statement (a sign-in makes about twenty).
            // A SQLite connection is in process and cannot be hung up on;
            // a PostgreSQL one is checked only after it sat idle, as
            // HikariCP does, so one cut by a restart or a failover is
            // replaced before use rather than failing a request.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_pragmas(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Store {
            pool,
            backend,
            audit_lock: Arc::new(tokio::sync::Mutex::new(None)),
            audit_hash: audit::ChainHash::Sha256,
            scim_targets: Arc::from(Vec::new()),
            write_turn,
            writer,
        })
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the
    /// write lock is taken at the start (waiting up to the busy timeout),
    /// so a transaction that reads before it writes can never fail with
    /// `SQLITE_BUSY_SNAPSHOT` because another writer committed in between.
    /// It holds this process's write turn until it ends (`write_turn.rs`).
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        let turn = self.turn().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx::new(tx, turn))
    }

    /// Waits for this process's turn to write (SQLite; at once on
    /// PostgreSQL): what the writer thread takes for each run, and the
    /// pool's writes where there is no writer thread.
    pub(crate) async fn turn(&self) -> Turn {
        self.write_turn.take().await
    }

    /// Runs one write statement and returns the rows it changed: on
    /// SQLite's writer thread (`writer.rs`), else on the pool.
    pub(crate) async fn write(&self, stmt: writer::Stmt) -> Result<u64> {
        match &self.writer {
            Some(w) => Ok(w.execute(stmt).await?),
            None => {
                let _turn = self.turn().await;
                Ok(stmt.execute(&self.pool).await?.rows_affected())
            }
        }
    }

    /// Runs write statements in one transaction (all or none) and returns
    /// the rows each changed, the same way as [`Store::write`].
    pub(crate) async fn write_atomic(&self, stmts: Vec<writer::Stmt>) -> Result<Vec<u64>> {
        match &self.writer {
            Some(w) => Ok(w.atomic(stmts).await?),
            None => {
                let mut tx = self.begin().await?;
                let mut changed = Vec::with_capacity(stmts.len());
                for stmt in stmts {
                    changed.push(stmt.execute(&mut *tx).await?.rows_affected());
                }
                tx.commit().await?;
                Ok(changed)
            }
        }
    }

    /// Runs one write statement with `RETURNING` and returns its row, if
    /// any, the same way as [`Store::write`].
    pub(crate) async fn write_returning(
        &self,
        stmt: writer::Stmt,
    ) -> Result<Option<sqlx::any::AnyRow>> {
        match &self.writer {
            Some(w) => Ok(w.fetch_optional(stmt).await?),
            None => {
                let _turn = self.turn().await;
                Ok(stmt.fetch_optional(&self.pool).await?)
            }
        }
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => MIGRATIONS_SQLITE.run(&self.pool).await?,
            Backend::Postgres => MIGRATIONS_POSTGRES.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// `pg_notify(channel, payload)`: tells the other replicas (PostgreSQL
    /// only; see `replica_feed.rs`).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Deletes expired codes, interactions, assertion ids and revoked-token
    /// entries. Called periodically; correctness never depends on it.
    pub async fn purge_expired(&self, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM auth_codes WHERE expires_at < $1",
            "DELETE FROM interactions WHERE expires_at < $1",
            "DELETE FROM assertion_jtis WHERE expires_at < $1",
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            "DELETE FROM device_nonces WHERE expires_at < $1",
            "DELETE FROM webauthn_ceremonies WHERE expires_at < $1",
        ] {
            sqlx::query(sql).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Parses a JSON column, naming it in the error.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Serialises a value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
