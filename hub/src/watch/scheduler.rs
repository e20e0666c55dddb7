//! The watchers on tokio-cron-scheduler: one cron job per watcher, each
//! firing [`Watch::tick`] at the clock's time (the tick claims its
//! scheduled instant once across instances).
//!
//! The jobs hold the watchers weakly: the scheduler keeps its jobs after
//! `shutdown`, and a strong handle there would keep the ingest writer open
//! (and the hub's stop waiting) for ever.
//!
//! What tokio-cron-scheduler 0.15.1 does on its own (read in its source):
//! - Its ticker sleeps a fixed 500 ms between looks at `Utc::now()`
//!   (`scheduler.rs`), so a job fires up to about half a second after its
//!   instant; the tick names its scheduled instant itself
//!   ([`super::cron::latest_at_or_before`]), not the firing time.
//! - After a run the next instant is the first one after that look
//!   (`iter_after(now)`): instants missed while the process was stopped or
//!   suspended are skipped, never replayed.
//! - Each run is a spawned task; there are no retries and no timeouts. A
//!   failing tick is logged and the next one looks again.
//! - It waits for its start signal in a loop with 100 ms sleeps
//!   (`scheduler.rs`), and `shutdown` only sets a flag the ticker reads on
//!   its next look; the jobs stay in its in-memory store afterwards.
//! - No locking across instances (the claim in `scheduled_runs` does it),
//!   and with the default features no signal handling or storage back end.

use super::{Watch, WatchJob};
use std::sync::{Arc, Weak};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

/// Start the scheduler; it stops when `stop` turns true (the task returned
/// ends then, dropping the watchers).
pub async fn spawn(
    watch: Arc<Watch>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut scheduler = JobScheduler::new().await?;
    for job in WatchJob::ALL {
        let weak: Weak<Watch> = Arc::downgrade(&watch);
        let cron = job.cron(watch.config()).to_string();
        let entry = Job::new_async(cron.as_str(), move |_id, _scheduler| {
            let weak = weak.clone();
            Box::pin(async move {
                let Some(w) = weak.upgrade() else {
                    return;
                };
                let now = w.now();
                match w.tick(job, now).await {
                    Ok(true) => tracing::debug!(job = job.name(), "watch tick done"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(job = job.name(), error = %e, "watch tick failed; the next tick looks again")
                    }
                }
            })
        })
        .map_err(|e| anyhow::anyhow!("watchers.{} = {cron:?}: {e}", job.name()))?;
        scheduler.add(entry).await?;
    }
    scheduler.start().await?;
    tracing::info!(
        sla_check = %watch.config().sla_check,
        budget_check = %watch.config().budget_check,
        anomaly_scan = %watch.config().anomaly_scan,
        "watchers scheduled"
    );
    Ok(tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        if let Err(e) = scheduler.shutdown().await {
            tracing::warn!(error = %e, "stopping the watchers' scheduler failed");
        }
        drop(watch);
    }))
}
