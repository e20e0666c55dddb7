//! The ingest writer's own connection, taken out of the pool for as long as
//! the writer runs.
//!
//! Why: a connection checked out of sqlx's pool for each batch goes back
//! through a spawned task that pings it first (a round trip to SQLite's
//! connection thread, or to PostgreSQL) — per batch, on the hottest path.
//! The writer commits batch after batch on one connection, so it keeps one.
//! It is detached from the pool, which may open a replacement: the writer
//! never takes the last connection from the rest of the hub, whatever
//! `database.max_connections` is (the hub holds at most one more).

use super::StoreError;
use sqlx::{AnyConnection, AnyPool, Connection};
use std::sync::Mutex;

/// One connection kept by its owner between batches (none until the first).
/// In a mutex only so that its owner is `Sync` (a connection is not): it is
/// reached through `&mut self`, never locked.
#[derive(Default)]
pub struct WriterConnection(Mutex<Option<AnyConnection>>);

impl WriterConnection {
    /// The kept connection, or a new one from the pool (then `true`: the
    /// caller sets it up for its work first).
    pub(super) async fn take(
        &mut self,
        pool: &AnyPool,
    ) -> Result<(AnyConnection, bool), StoreError> {
        let kept = self.0.get_mut().map_or(None, Option::take);
        Ok(match kept {
            Some(conn) => (conn, false),
            None => (pool.acquire().await?.detach(), true),
        })
    }

    /// Whether the kept connection keeps SQLite's temporary storage in
    /// memory (for tests; None when no connection is kept).
    pub async fn temp_store_in_memory(&mut self) -> Option<bool> {
        use sqlx::Row;
        let conn = self.0.get_mut().ok()?.as_mut()?;
        let row = sqlx::query("PRAGMA temp_store")
            .fetch_one(&mut *conn)
            .await
            .ok()?;
        // 2 is MEMORY (0 the compile-time default, 1 file).
        Some(row.try_get::<i64, _>(0).ok()? == 2)
    }

    /// Keep `conn` for the next batch (only after a batch that finished).
    pub(super) fn put_back(&mut self, conn: AnyConnection) {
        *self.0.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    }

    /// Close the kept connection (when its writer ends).
    pub async fn close(self) {
        if let Ok(Some(conn)) = self.0.into_inner()
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the ingest writer's connection");
        }
    }

    /// Whether a connection is kept (for tests).
    pub fn is_kept(&self) -> bool {
        self.0.lock().is_ok_and(|c| c.is_some())
    }
}
