//! Forgetting old Idempotency-Key answers in the background. A retry comes
//! within minutes; keeping every answer forever only grows the table (and
//! the index every keyed request writes to). Started by `orkhub serve`.

use crate::store::Store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the table is pruned.
pub const EVERY: Duration = Duration::from_secs(10 * 60);
/// Rows deleted per statement.
const BATCH: i64 = 5_000;

/// Delete answers older than `ttl` now and every `every` after, until `stop`
/// turns true. A failed round is logged and tried again next time.
pub fn spawn(
    store: Store,
    ttl: Duration,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let cutoff =
                crate::store::now_ms() - i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            match store.prune_idempotency_keys(cutoff, BATCH).await {
                Ok(0) => {}
                Ok(n) => {
                    metrics::counter!("orkhub_idempotency_keys_pruned_total").increment(n);
                    tracing::debug!(deleted = n, "pruned old Idempotency-Key answers");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning old Idempotency-Key answers failed; trying again later")
                }
            }
        }
    })
}
