//! SQLite WAL checkpoints, kept off the writers' path.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past
//! 1,000 pages: that commit copies the pages into the database file and
//! fsyncs it (18–33 ms for 1,000 scattered pages on this project's machine),
//! and every request waiting on it waits too — it was the whole of the API's
//! p99 and about a third of ingest throughput. So the pool's connections
//! never checkpoint (`wal_autocheckpoint=0`, set in `open.rs`) and a
//! [`WalCheckpointer`] on its own connection does it in the background.
//!
//! A PASSIVE checkpoint never blocks writers, but while they keep committing
//! it never quite catches up, and SQLite only rewinds the WAL when a write
//! transaction begins with every frame copied. So once the WAL has grown
//! past half its limit, the checkpointer asks the ingest writer to rewind
//! it: before its next batch the writer runs a PASSIVE checkpoint on its own
//! connection (nobody else writes meanwhile, so it copies the rest: the
//! pages of the last pass's interval), and its batch then starts the WAL
//! again from the beginning (`sqlite_ingest::rewind`).
//!
//! Why not a RESTART checkpoint from the checkpointer: it holds the write
//! lock while it waits for readers, and a writer that finds the lock taken
//! sleeps by SQLite's busy handler, 1, 2, 5 then 10 ms whatever the real
//! wait — under `bench/external.sh` the writer stalled 19 ms at a time,
//! a few times a second, most of the p99. A RESTART remains the fallback
//! when the WAL reaches its limit anyway (writes on other connections, a
//! reader that kept the writer from rewinding); it gives up after a short
//! busy timeout rather than hold writers behind a long reader.

use super::{Dialect, Store, StoreError};
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How long a RESTART checkpoint may wait for the writer and for readers.
const BUSY_TIMEOUT_MS: u32 = 50;

/// What one checkpoint pass found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    /// Frames in the WAL when the pass ended.
    pub wal_frames: i64,
    /// Whether the pass forced a RESTART (the WAL had reached the limit).
    pub restarted: bool,
}

/// A connection of its own that checkpoints the WAL.
pub struct WalCheckpointer {
    conn: AnyConnection,
    restart_frames: i64,
    rewind: Arc<RewindWanted>,
}

/// Whether the checkpointer wants the ingest writer to rewind the WAL
/// before its next batch (shared by a store's clones).
#[derive(Debug, Default)]
pub(super) struct RewindWanted(AtomicBool);

impl RewindWanted {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a rewind was asked for since the last call.
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

impl Store {
    /// A checkpointer for this SQLite database; `None` on PostgreSQL, which
    /// manages its own log. `restart_frames`: the WAL size (in pages) past
    /// which a pass also forces the WAL back to its start.
    pub async fn wal_checkpointer(
        &self,
        restart_frames: i64,
    ) -> Result<Option<WalCheckpointer>, StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Ok(None);
        }
        let mut conn = AnyConnection::connect(&self.url).await?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"
        )))
        .await?;
        Ok(Some(WalCheckpointer {
            conn,
            restart_frames: restart_frames.max(1),
            rewind: self.wal_rewind.clone(),
        }))
    }

    /// Whether the checkpointer asked the ingest writer to rewind the WAL
    /// since the last call (the writer's SQLite connection does it itself,
    /// sqlite_ingest.rs).
    pub(super) fn rewind_wanted(&self) -> bool {
        self.wal_rewind.take()
    }

    /// Ask for the rewind again (the writer's attempt found the WAL busy).
    pub(super) fn ask_rewind(&self) {
        self.wal_rewind.ask();
    }
}

impl WalCheckpointer {
    /// One pass: copy what is committed into the database file without
    /// blocking anyone, then, if the WAL has reached the limit, restart it.
    pub async fn checkpoint(&mut self) -> Result<WalCheckpoint, StoreError> {
        let wal_frames = self.run("PASSIVE").await?;
        if wal_frames >= self.restart_frames / 2 {
            self.rewind.ask();
        }
        if wal_frames < self.restart_frames {
            return Ok(WalCheckpoint {
                wal_frames,
                restarted: false,
            });
        }
        // A RESTART that gives up (busy) is retried by the next pass.
        Ok(WalCheckpoint {
            wal_frames: self.run("RESTART").await?,
            restarted: true,
        })
    }

    /// `PRAGMA wal_checkpoint(MODE)`; returns the frames in the WAL (its
    /// row is: busy, frames in the WAL, frames copied).
    async fn run(&mut self, mode: &'static str) -> Result<i64, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA wal_checkpoint({mode})"
        )))
        .fetch_one(&mut self.conn)
        .await?;
        Ok(row.try_get(1)?)
    }
}
