//! Brief benchmark: how long building one person's brief data takes (every
//! query of the brief plus turning the rows into sections) on a database
//! with 100,000 tasks, 1,000,000 cost rows and 50 agents. Target: ≤ 100 ms.
//!
//!   cargo bench -p orkhub --bench brief             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench brief
//!
//! Knobs: ORKHUB_BENCH_RUNS (default 30), ORKHUB_BENCH_TASKS (100000),
//! ORKHUB_BENCH_COSTS (1000000), ORKHUB_BENCH_DAYS_BACK (0: today's brief;
//! N: the brief of the date N days before today, as the console's Brief
//! page builds a past date whose brief was never sent).
//!
//! The data: tasks created over the last 365 days, three in four completed,
//! half with a due date; costs spread evenly over the last 365 days across
//! 50 agents and 10 projects; 200,000 task moves in the audit log; 20,000
//! dependency edges; 1,000 decisions (50 pending); 2,000 agent failures.

// The same allocator as the orkhub binary, so the figures are the hub's.
#[global_allocator]
static ALLOCATOR: hub::allocator::Mimalloc = hub::allocator::Mimalloc;

#[path = "common/db.rs"]
mod db;
#[path = "common/seed.rs"]
mod seed;

use hub::config::Config;
use hub::store::Store;
use rand::SeedableRng;
use rand::rngs::StdRng;
use seed::{AGENTS, seed_costs, seed_rest, seed_tasks};
use std::time::{Duration, Instant};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runs: usize = env("ORKHUB_BENCH_RUNS", 30);
    let n_tasks: i64 = env("ORKHUB_BENCH_TASKS", 100_000);
    let n_costs: usize = env("ORKHUB_BENCH_COSTS", 1_000_000);
    let db = db::BenchDb::create().await?;
    let result = run(&db.url, db.engine, runs, n_tasks, n_costs).await;
    db.drop_database().await?;
    result
}

async fn run(
    url: &str,
    engine: &str,
    runs: usize,
    n_tasks: i64,
    n_costs: usize,
) -> anyhow::Result<()> {
    let toml = seed::team_toml();
    let config = Config::from_toml(&toml)?;
    let reuse = url
        .strip_prefix("sqlite://")
        .is_some_and(|p| std::path::Path::new(p).exists());
    let store = Store::open(url, 8).await?;
    hub::seed::apply(&store, &config).await?;
    let now = chrono::Utc::now();
    let now_ms = now.timestamp_millis();
    let mut rng = StdRng::seed_from_u64(7);

    let t = Instant::now();
    if !reuse {
        seed_tasks(&store, &mut rng, now_ms, n_tasks).await?;
        seed_costs(&store, &mut rng, now_ms, n_costs).await?;
        seed_rest(&store, &mut rng, now_ms, n_tasks).await?;
    }
    for a in 0..AGENTS {
        // One in five agents has been quiet for an hour.
        let ago = if a % 5 == 0 { 60 } else { 2 };
        store
            .heartbeat(
                &format!("agent-{a:02}"),
                "active",
                None,
                now_ms - ago * 60_000,
            )
            .await?;
    }
    store.analyze().await?;
    // A running hub checkpoints SQLite's WAL in the background
    // (hub/src/wal_checkpoints.rs); do the same, so the reads below find the
    // data where they would in the hub, not in a WAL of the whole seeding.
    if let Some(mut checkpointer) = store.wal_checkpointer(1).await? {
        checkpointer.checkpoint().await?;
    }
    println!(
        "{engine}: seeded {n_tasks} tasks, {n_costs} cost rows, {AGENTS} agents in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let service = hub::brief::BriefService::default();
    let back: i64 = env("ORKHUB_BENCH_DAYS_BACK", 0);
    let date = if back > 0 {
        let today = service
            .local_date(&store, "ceo", chrono::Utc::now())
            .await?;
        Some(today - chrono::Duration::days(back))
    } else {
        None
    };
    // Warm the pool and the caches as a running hub would be.
    for _ in 0..3 {
        service
            .data(&store, "ceo", date, chrono::Utc::now())
            .await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut brief = None;
    for _ in 0..runs {
        let t = Instant::now();
        let b = service
            .data(&store, "ceo", date, chrono::Utc::now())
            .await?;
        times.push(t.elapsed());
        brief = Some(b);
    }
    let brief = brief.ok_or_else(|| anyhow::anyhow!("no runs"))?;
    let (median, p95, max) = stats(&mut times);
    println!(
        "{engine}: brief data ({runs} runs): median {:.1} ms, p95 {:.1} ms, max {:.1} ms (target ≤ 100 ms)",
        ms(median),
        ms(p95),
        ms(max)
    );
    // Which read dominates, each alone.
    let w = briefs::Window::new(
        "ceo",
        chrono_tz::Europe::Kyiv,
        brief.date,
        chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        chrono::Utc::now(),
        None,
        service.config(),
    )?;
    let profile = store.brief_profile(&w, service.config().list_limit).await?;
    let parts: Vec<String> = profile
        .iter()
        .map(|(name, d)| format!("{name} {:.1}", ms(*d)))
        .collect();
    println!("{engine}: each read alone (ms): {}", parts.join(", "));
    let t = Instant::now();
    // What the adapters render between them when they send it.
    let all = adapters::brief::Format::ALL
        .iter()
        .map(|f| service.renderer().render_for_send(&brief, *f))
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "{engine}: rendering all {} formats: {:.1} ms; month so far {:.2} USD, {} overdue, {} pending decisions",
        all.len(),
        ms(t.elapsed()),
        brief.budget.month_usd,
        brief.overdue.total,
        brief.pending_decisions.total
    );
    store.close().await;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}
