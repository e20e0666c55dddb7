//! Watchers: the hub checks SLAs, budgets and anomalies on its own, on cron
//! schedules from `[watchers]`, and tells the right person when something
//! crosses a line.
//!
//! Each tick is claimed once across instances: `(watch:<job>, the tick's
//! scheduled instant)` in `scheduled_runs`, like the brief and digest slots.
//! A second instance on the same PostgreSQL does not run it again, and a
//! tick missed while the hub was down is not run later (the next one looks
//! at the state as it is then: every watcher compares the database with what
//! it already told, so nothing is lost by skipping a tick).
//!
//! The time source is injectable ([`Clock`]) and a tick can be run directly
//! ([`Watch::tick`] at any instant), so tests drive escalation timelines
//! without waiting.

pub mod anomaly;
pub mod budget;
pub mod cron;
pub mod pause;
pub mod period;
pub mod scheduler;
pub mod sla;
pub mod sla_report;

use crate::config::{Config, WatchersConfig};
use crate::ingest::plan::Recipient;
use crate::ingest::{Ingest, IngestError, Submission};
use crate::store::Store;
use chrono::{DateTime, Utc};
use routing::Urgency;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where the watchers read the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock set by hand (tests; replaying a period).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The watchers' jobs, each on its own cron schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchJob {
    SlaCheck,
    BudgetCheck,
    AnomalyScan,
}

impl WatchJob {
    pub const ALL: [WatchJob; 3] = [
        WatchJob::SlaCheck,
        WatchJob::BudgetCheck,
        WatchJob::AnomalyScan,
    ];

    /// Its key in `[watchers]`.
    pub fn name(self) -> &'static str {
        match self {
            WatchJob::SlaCheck => "sla_check",
            WatchJob::BudgetCheck => "budget_check",
            WatchJob::AnomalyScan => "anomaly_scan",
        }
    }

    /// Its name in `scheduled_runs.job`.
    fn run_key(self) -> String {
        format!("watch:{}", self.name())
    }

    pub fn cron(self, config: &WatchersConfig) -> &str {
        match self {
            WatchJob::SlaCheck => &config.sla_check,
            WatchJob::BudgetCheck => &config.budget_check,
            WatchJob::AnomalyScan => &config.anomaly_scan,
        }
    }
}

/// A person as the escalation chain sees them.
#[derive(Debug, Clone)]
struct Member {
    id: String,
    role: String,
    manager: Option<String>,
}

/// What every watcher needs: the store to read and record, the ingest to
/// send notifications (the outbox, like any message), who is who, and the
/// clock.
pub struct Watch {
    store: Store,
    ingest: Ingest,
    /// Decisions (an agent over budget: may it continue?) are made through
    /// the commands' backend, with their requests in the same commit.
    backend: crate::backend::HubBackend,
    /// Wakes the dispatcher after a decision's requests were queued.
    wake: Arc<tokio::sync::Notify>,
    config: WatchersConfig,
    /// The brief's thresholds: anomalies are found as the brief finds them.
    brief: briefs::BriefConfig,
    people: Vec<Member>,
    /// Extra approvers per decision kind (config `[approvers]`).
    approvers: BTreeMap<String, Vec<String>>,
    clock: Arc<dyn Clock>,
    /// The zone budget periods follow (`[budgets] time_zone`).
    budget_zone: chrono_tz::Tz,
    /// This instance, in `scheduled_runs.claimed_by`.
    instance: String,
}

/// The hub's services the watchers use (not the HTTP API's state: they
/// run whether or not anyone calls the API).
pub struct WatchHub {
    pub store: Store,
    pub ingest: Ingest,
    pub backend: crate::backend::HubBackend,
    pub wake: Arc<tokio::sync::Notify>,
}

impl Watch {
    pub fn new(config: &Config, hub: WatchHub, clock: Arc<dyn Clock>) -> Watch {
        Watch {
            store: hub.store,
            ingest: hub.ingest,
            backend: hub.backend,
            wake: hub.wake,
            config: config.watchers.clone(),
            brief: config.brief.clone(),
            people: config
                .people
                .iter()
                .map(|p| Member {
                    id: p.id.clone(),
                    role: p.role.clone(),
                    manager: p.manager.clone(),
                })
                .collect(),
            approvers: config.approvers.clone(),
            clock,
            budget_zone: config.budget_zone(),
            instance: format!(
                "orkhub-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
        }
    }

    pub fn config(&self) -> &WatchersConfig {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Run `job`'s tick that is due at `now` (its latest scheduled instant
    /// at or before `now`), once across instances. `Ok(false)`: that tick
    /// was already claimed (by another instance, or an earlier call).
    pub async fn tick(&self, job: WatchJob, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let schedule = cron::parse(job.cron(&self.config)).map_err(anyhow::Error::msg)?;
        let Some(due) = cron::latest_at_or_before(&schedule, now) else {
            return Ok(false);
        };
        let slot = due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if !self
            .store
            .claim_slot_now(&job.run_key(), &slot, &self.instance)
            .await?
        {
            tracing::debug!(job = job.name(), %slot, "watch tick already run");
            return Ok(false);
        }
        self.run(job, now).await?;
        Ok(true)
    }

    /// What a tick does, without claiming it.
    pub async fn run(&self, job: WatchJob, now: DateTime<Utc>) -> anyhow::Result<()> {
        match job {
            WatchJob::SlaCheck => sla::check(self, now).await,
            WatchJob::BudgetCheck => budget::check(self, now).await,
            WatchJob::AnomalyScan => anomaly::scan(self, now).await,
        }
    }

    fn with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = String> + 'a {
        self.people
            .iter()
            .filter(move |p| p.role == role)
            .map(|p| p.id.clone())
    }

    fn owners(&self) -> Vec<String> {
        self.with_role("owner").collect()
    }

    /// Queue one notification to a person through ingest (routed by their
    /// preferences and sent by the outbox like any other).
    async fn notify(
        &self,
        to: &str,
        kind: &str,
        urgency: Urgency,
        title: String,
        body: String,
    ) -> Result<(), IngestError> {
        self.ingest
            .submit(Submission {
                source: "system".into(),
                kind: kind.into(),
                urgency: Some(urgency),
                recipient: Recipient::Person(to.to_string()),
                project_id: None,
                title: Some(title),
                body,
                fields_json: "[]".into(),
                decision_id: None,
                dedupe_key: None,
                idempotency: None,
            })
            .await
            .map(|_| ())
    }

    /// [`Watch::notify`] to each of `people`; the first failure is returned
    /// after trying them all.
    async fn notify_all(
        &self,
        people: &[String],
        kind: &str,
        urgency: Urgency,
        title: &str,
        body: &str,
    ) -> Result<(), IngestError> {
        let mut first = None;
        for p in people {
            if let Err(e) = self
                .notify(p, kind, urgency, title.to_string(), body.to_string())
                .await
            {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// A figure in dollars for a message: exact micro-dollars shown to the cent.
fn dollars(micros: i64) -> String {
    let cents = (micros + 5_000).div_euclid(10_000);
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_are_shown_to_the_cent() {
        assert_eq!(super::dollars(25_400_000), "$25.40");
        assert_eq!(super::dollars(20_000_000), "$20.00");
        assert_eq!(super::dollars(4_995), "$0.00");
        assert_eq!(super::dollars(5_000), "$0.01");
    }
}
