//! Per-person daily jobs — the info digest and the morning brief — run at
//! each person's own local time. The loop here only decides *when*; each job
//! claims its `(job, person:date)` slot in the same transaction that queues
//! its deliveries, so a restart around the due time (or a second instance on
//! the same PostgreSQL) neither repeats a slot nor drops it.

pub mod slots;

pub use slots::{Slot, due_slot, next_due};

use crate::api::AppState;
use crate::directory::PersonEntry;
use async_trait::async_trait;
use chrono::{NaiveTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A job run once per person per local day.
#[async_trait]
pub trait DailyJob: Send + Sync + 'static {
    /// Its name in `scheduled_runs.job` ("digest", "brief").
    fn name(&self) -> &'static str;

    /// The person's local time for this job; None: they do not get it.
    fn local_time(&self, person: &PersonEntry) -> Option<NaiveTime>;

    /// Do the slot's work, claiming it (`Store::claim_slot`) in the same
    /// transaction that queues the work. Errors are retried on the next tick.
    async fn run(&self, state: &AppState, person: &PersonEntry, slot: &Slot) -> anyhow::Result<()>;
}

/// How often the loop looks again even when nothing is due: picks up clock
/// jumps and bounds the wait after a failed run.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Run `jobs` for every person until `stop` turns true.
pub fn spawn(
    state: AppState,
    jobs: Vec<Arc<dyn DailyJob>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if jobs.is_empty() {
            return;
        }
        loop {
            tick(&state, &jobs).await;
            let now = Utc::now();
            let next = state
                .dir
                .people()
                .flat_map(|p| {
                    let tz = p.prefs.time_zone;
                    jobs.iter()
                        .filter_map(move |j| j.local_time(p).map(|t| next_due(tz, t, now)))
                })
                .min();
            let wait = next
                .and_then(|at| (at - now).to_std().ok())
                .map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}

/// Run every due, not yet done slot once.
pub async fn tick(state: &AppState, jobs: &[Arc<dyn DailyJob>]) {
    tick_at(state, jobs, Utc::now()).await
}

/// [`tick`] as if the clock read `now` (tests drive the schedule with it).
pub async fn tick_at(state: &AppState, jobs: &[Arc<dyn DailyJob>], now: chrono::DateTime<Utc>) {
    for person in state.dir.people() {
        for job in jobs {
            let Some(local) = job.local_time(person) else {
                continue;
            };
            let Some(slot) = due_slot(&person.id, person.prefs.time_zone, local, now) else {
                continue;
            };
            match state.store.slot_done(job.name(), &slot.key()).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(job = job.name(), person = %person.id, error = %e, "checking a scheduled run failed");
                    continue;
                }
            }
            if let Err(e) = job.run(state, person, &slot).await {
                tracing::error!(job = job.name(), person = %person.id, slot = %slot.key(), error = %e, "scheduled run failed; will retry");
            }
        }
    }
}
