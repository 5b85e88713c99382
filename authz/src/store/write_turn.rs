//! One writer at a time per process on SQLite, queued in memory.
//!
//! SQLite has one write lock per database. Without a queue, pooled
//! connections that want it at once collide inside SQLite, and its busy
//! handler answers with sleeps of 1, 2, 5, 10 … ms, even when the lock is
//! held for a few dozen microseconds: under a sign-in load that was about
//! five sleeps per sign-in, with cores idle while requests waited. Writers
//! now take a turn first (an async mutex: a waiting request parks its task,
//! not a thread) and then find the lock free. Readers never queue (WAL lets
//! them read during a write). Another process (the CLI, a second server on
//! the same file) is still met by the busy timeout.
//!
//! PostgreSQL has row locks and no such queue: `WriteTurn::none()`.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// The busy timeout: as long as SQLite itself would wait for the lock.
const GIVE_UP: std::time::Duration = super::BUSY_TIMEOUT;

/// The queue, shared by every clone of a `Store`.
#[derive(Clone, Debug)]
pub(crate) struct WriteTurn(Option<Arc<Mutex<()>>>);

/// Held while a write runs; dropping it lets the next writer go.
pub(crate) type Turn = Option<OwnedMutexGuard<()>>;

impl WriteTurn {
    pub(crate) fn queued() -> WriteTurn {
        WriteTurn(Some(Arc::new(Mutex::new(()))))
    }

    pub(crate) fn none() -> WriteTurn {
        WriteTurn(None)
    }

    /// Waits for this process's turn to write (at once on PostgreSQL).
    /// After `GIVE_UP` (the busy timeout) it goes ahead without one, so a
    /// write made while the same task holds a turn meets SQLite's busy
    /// timeout and fails, as it did before this queue, instead of waiting
    /// for itself forever.
    pub(crate) async fn take(&self) -> Turn {
        let turn = self.take_within(GIVE_UP).await;
        if turn.is_none() && self.0.is_some() {
            // A writer held its turn for the whole busy timeout: a write
            // waiting inside another, or a stuck statement. Worth a look.
            tracing::warn!(
                waited_secs = GIVE_UP.as_secs(),
                "store: no write turn within the busy timeout; writing without one"
            );
        }
        turn
    }

    async fn take_within(&self, limit: std::time::Duration) -> Turn {
        let m = self.0.as_ref()?;
        // Free turn: no timer to arm (the queue is fair, so this never
        // jumps ahead of a waiting writer).
        if let Ok(turn) = m.clone().try_lock_owned() {
            return Some(turn);
        }
        tokio::time::timeout(limit, m.clone().lock_owned())
            .await
            .ok()
    }
}

/// A write transaction that holds the turn until it commits or is dropped:
/// `&mut *tx` is the connection, as with `sqlx::Transaction`.
pub(crate) struct WriteTx {
    // Declared first, so dropped first: an abandoned transaction's
    // rollback is queued before the next writer is let in.
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Turn,
}

impl WriteTx {
    pub(crate) fn new(tx: sqlx::Transaction<'static, sqlx::Any>, turn: Turn) -> WriteTx {
        WriteTx { tx, _turn: turn }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// True once `task` finished, after giving it every chance to run.
    async fn finished<T>(task: &tokio::task::JoinHandle<T>) -> bool {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        task.is_finished()
    }

    #[tokio::test]
    async fn turns_are_taken_one_at_a_time_and_none_on_postgres() {
        let q = WriteTurn::queued();
        let first = q.take().await;
        assert!(first.is_some());
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.take().await.is_some() }
        });
        assert!(!finished(&waiting).await, "a second writer went in");
        drop(first);
        assert!(waiting.await.unwrap(), "the second writer got its turn");
        assert!(WriteTurn::none().take().await.is_none());
    }

    #[tokio::test]
    async fn a_writer_gives_up_waiting_after_its_limit() {
        let q = WriteTurn::queued();
        let held = q.take().await;
        let limit = std::time::Duration::from_millis(30);
        assert!(
            q.take_within(limit).await.is_none(),
            "no turn while one is held"
        );
        drop(held);
        assert!(q.take_within(limit).await.is_some());
    }

    #[tokio::test]
    async fn a_transaction_holds_the_turn_until_it_commits() {
        let (store, dir) = Store::scratch("write-turn").await;
        let tx = store.begin().await.unwrap();
        let next = tokio::spawn({
            let store = store.clone();
            async move { store.turn().await.is_some() }
        });
        assert!(
            !finished(&next).await,
            "a writer's turn came during a transaction"
        );
        tx.commit().await.unwrap();
        assert!(next.await.unwrap());
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
