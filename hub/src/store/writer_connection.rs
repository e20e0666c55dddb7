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
//!
//! On a SQLite file the writer's connection is not sqlx's at all but
//! rusqlite's, opened by the writer itself (see sqlite_ingest.rs); on
//! PostgreSQL it is sqlx's PostgreSQL driver's, which binds arrays (see
//! postgres_ingest.rs). In both the pool is not touched.

use super::StoreError;
use sqlx::{AnyConnection, AnyPool, Connection};
use std::sync::Mutex;

/// One connection kept by its owner between batches (none until the first).
/// In a mutex only so that its owner is `Sync` (a connection is not): it is
/// reached through `&mut self`, never locked.
#[derive(Default)]
pub struct WriterConnection(Mutex<Kept>);

#[derive(Default)]
enum Kept {
    #[default]
    None,
    Pool(AnyConnection),
    Sqlite(super::sqlite_ingest::Own),
    Postgres(sqlx::PgConnection),
}

impl WriterConnection {
    fn kept(&mut self) -> &mut Kept {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept SQLite connection, if any (the caller opens one otherwise).
    pub(super) fn take_sqlite(&mut self) -> Option<super::sqlite_ingest::Own> {
        match std::mem::take(self.kept()) {
            Kept::Sqlite(own) => Some(own),
            _ => None,
        }
    }

    /// Keep the SQLite connection for the next batch (only after a batch
    /// that finished).
    pub(super) fn put_back_sqlite(&mut self, own: super::sqlite_ingest::Own) {
        *self.kept() = Kept::Sqlite(own);
    }

    /// The kept PostgreSQL connection, if any (the caller opens one
    /// otherwise).
    pub(super) fn take_postgres(&mut self) -> Option<sqlx::PgConnection> {
        match std::mem::take(self.kept()) {
            Kept::Postgres(conn) => Some(conn),
            _ => None,
        }
    }

    /// Keep the PostgreSQL connection for the next batch (only after a
    /// batch that finished).
    pub(super) fn put_back_postgres(&mut self, conn: sqlx::PgConnection) {
        *self.kept() = Kept::Postgres(conn);
    }

    /// The kept connection, or a new one from the pool (then `true`: the
    /// caller sets it up for its work first).
    pub(super) async fn take(
        &mut self,
        pool: &AnyPool,
    ) -> Result<(AnyConnection, bool), StoreError> {
        Ok(match std::mem::take(self.kept()) {
            Kept::Pool(conn) => (conn, false),
            _ => (pool.acquire().await?.detach(), true),
        })
    }

    /// Whether the kept connection keeps SQLite's temporary storage in
    /// memory (for tests; None when no connection is kept).
    pub async fn temp_store_in_memory(&mut self) -> Option<bool> {
        use sqlx::Row;
        let mode: i64 = match self.kept() {
            Kept::None | Kept::Postgres(_) => return None,
            Kept::Pool(conn) => sqlx::query("PRAGMA temp_store")
                .fetch_one(&mut *conn)
                .await
                .ok()?
                .try_get(0)
                .ok()?,
            Kept::Sqlite(own) => own
                .conn()
                .query_row("PRAGMA temp_store", [], |r| r.get(0))
                .ok()?,
        };
        // 2 is MEMORY (0 the compile-time default, 1 file).
        Some(mode == 2)
    }

    /// Whether the kept connection is rusqlite's own on a SQLite file (for
    /// tests).
    pub fn is_sqlite_own(&self) -> bool {
        self.0.lock().is_ok_and(|c| matches!(*c, Kept::Sqlite(_)))
    }

    /// Whether the kept connection is the PostgreSQL driver's own, opened
    /// by the writer rather than taken from the pool (for tests).
    pub fn is_postgres_own(&self) -> bool {
        self.0.lock().is_ok_and(|c| matches!(*c, Kept::Postgres(_)))
    }

    /// Keep `conn` for the next batch (only after a batch that finished).
    pub(super) fn put_back(&mut self, conn: AnyConnection) {
        *self.kept() = Kept::Pool(conn);
    }

    /// Close the kept connection (when its writer ends).
    pub async fn close(self) {
        let closed = match self.0.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Kept::None => Ok(()),
            Kept::Pool(conn) => conn.close().await.map_err(|e| e.to_string()),
            Kept::Sqlite(own) => own.close().map_err(|e| e.to_string()),
            Kept::Postgres(conn) => conn.close().await.map_err(|e| e.to_string()),
        };
        if let Err(e) = closed {
            tracing::warn!(error = %e, "closing the ingest writer's connection");
        }
    }

    /// Whether a connection is kept (for tests).
    pub fn is_kept(&self) -> bool {
        self.0.lock().is_ok_and(|c| !matches!(*c, Kept::None))
    }
}
