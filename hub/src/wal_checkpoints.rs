//! The background task that checkpoints SQLite's WAL (see `store/wal.rs` for
//! why commits no longer do it themselves).

use crate::store::Store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a pass runs. Short, so each pass has little to copy.
pub const EVERY: Duration = Duration::from_millis(100);
/// The WAL size, in pages, past which a pass restarts the WAL (32 MiB of
/// 4 KiB pages).
pub const RESTART_FRAMES: i64 = 8192;

/// Start checkpointing `store` (nothing to do on PostgreSQL: `None`). Runs
/// until `stop` turns true, then makes one last pass.
pub async fn spawn(
    store: &Store,
    every: Duration,
    restart_frames: i64,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, crate::store::StoreError> {
    let Some(mut checkpointer) = store.wal_checkpointer(restart_frames).await? else {
        return Ok(None);
    };
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let stopping = tokio::select! {
                _ = tick.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            match checkpointer.checkpoint().await {
                Ok(pass) => {
                    metrics::gauge!("orkhub_sqlite_wal_frames").set(pass.wal_frames as f64);
                    if failing {
                        tracing::info!("WAL checkpoints are working again");
                        failing = false;
                    }
                }
                // Logged once per run of failures: the next pass retries.
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the WAL grows until one succeeds");
                    failing = true;
                }
                Err(_) => {}
            }
            if stopping {
                return;
            }
        }
    })))
}
