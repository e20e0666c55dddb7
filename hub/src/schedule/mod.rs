//! Per-person daily jobs — the info digest and the morning brief — run at
//! each person's own local time. The loop here only decides *when*; each job
//! claims its `(job, person:date)` slot once (see the jobs), so a restart
//! around the due time (or a second instance on the same PostgreSQL) neither
//! repeats a slot nor drops it. People are served concurrently, a few at a
//! time, so one person's slow brief (an LLM at its timeout) does not hold up
//! everyone else's.

pub mod slots;

pub use slots::{Slot, due_slot, due_slots, next_due};

use crate::directory::{Directory, PersonEntry};
use crate::store::Store;
use async_trait::async_trait;
use chrono::{NaiveTime, Utc};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the daily jobs need of the hub: the store, the people, and the
/// dispatcher's wake-up for what they queue. Not the HTTP API's state: the
/// jobs run whether or not anyone calls the API.
#[derive(Clone)]
pub struct JobHub {
    pub store: Store,
    pub dir: Arc<Directory>,
    pub wake: Arc<tokio::sync::Notify>,
}

/// A job run once per person per local day.
#[async_trait]
pub trait DailyJob: Send + Sync + 'static {
    /// Its name in `scheduled_runs.job` ("digest", "brief").
    fn name(&self) -> &'static str;

    /// The person's local time for this job; None: they do not get it.
    fn local_time(&self, person: &PersonEntry) -> Option<NaiveTime>;

    /// How long after its due time yesterday's slot is still run when it
    /// was missed (the hub was down across midnight). Today's slot is run
    /// whenever the hub is up later the same local day.
    fn catch_up(&self) -> chrono::Duration {
        DEFAULT_CATCH_UP
    }

    /// Once when the scheduler starts, before the first tick.
    async fn on_start(&self, _hub: &JobHub) {}

    /// Do the slot's work, claiming it once (see `Store::claim_slot` and
    /// `Store::reserve_slot`). Errors are retried on the next tick.
    async fn run(&self, hub: &JobHub, person: &PersonEntry, slot: &Slot) -> anyhow::Result<()>;
}

/// [`DailyJob::catch_up`] unless a job says otherwise.
pub const DEFAULT_CATCH_UP: chrono::Duration = chrono::Duration::hours(2);

/// People whose slots are run at once in one tick: enough that a few slow
/// briefs do not delay the rest, few enough not to flood the database pool
/// or the LLM endpoint.
pub const MAX_CONCURRENT_PEOPLE: usize = 8;

/// How often the loop looks again even when nothing is due: picks up clock
/// jumps and bounds the wait after a failed run.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Run `jobs` for every person until `stop` turns true.
pub fn spawn(
    hub: JobHub,
    jobs: Vec<Arc<dyn DailyJob>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if jobs.is_empty() {
            return;
        }
        for job in &jobs {
            job.on_start(&hub).await;
        }
        loop {
            tick(&hub, &jobs).await;
            let now = Utc::now();
            let next = hub
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
pub async fn tick(hub: &JobHub, jobs: &[Arc<dyn DailyJob>]) {
    tick_at(hub, jobs, Utc::now()).await
}

/// [`tick`] as if the clock read `now` (tests drive the schedule with it).
pub async fn tick_at(hub: &JobHub, jobs: &[Arc<dyn DailyJob>], now: chrono::DateTime<Utc>) {
    futures::stream::iter(hub.dir.people())
        .for_each_concurrent(MAX_CONCURRENT_PEOPLE, |person| async move {
            // One person's slots in order: yesterday's missed one before
            // today's, so today's brief starts where yesterday's ended.
            for job in jobs {
                let Some(local) = job.local_time(person) else {
                    continue;
                };
                let slots = due_slots(
                    &person.id,
                    person.prefs.time_zone,
                    local,
                    now,
                    job.catch_up(),
                );
                for slot in slots {
                    run_slot(hub, job.as_ref(), person, &slot).await;
                }
            }
        })
        .await;
}

async fn run_slot(hub: &JobHub, job: &dyn DailyJob, person: &PersonEntry, slot: &Slot) {
    match hub.store.slot_done(job.name(), &slot.key()).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            tracing::error!(job = job.name(), person = %person.id, error = %e, "checking a scheduled run failed");
            return;
        }
    }
    if let Err(e) = job.run(hub, person, slot).await {
        tracing::error!(job = job.name(), person = %person.id, slot = %slot.key(), error = %e, "scheduled run failed; will retry");
    }
}
