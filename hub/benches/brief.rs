//! Brief benchmark: how long building one person's brief data takes (every
//! query of the brief plus turning the rows into sections) on a database
//! with 100,000 tasks, 1,000,000 cost rows and 50 agents. Target: ≤ 100 ms.
//!
//!   cargo bench -p orkhub --bench brief             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench brief
//!
//! Knobs: ORKHUB_BENCH_RUNS (default 30), ORKHUB_BENCH_TASKS (100000),
//! ORKHUB_BENCH_COSTS (1000000).
//!
//! The data: tasks created over the last 365 days, three in four completed,
//! half with a due date; costs spread evenly over the last 365 days across
//! 50 agents and 10 projects; 200,000 task moves in the audit log; 20,000
//! dependency edges; 1,000 decisions (50 pending); 2,000 agent failures.

// The same allocator as the orkhub binary, so the figures are the hub's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/db.rs"]
mod db;

use hub::config::Config;
use hub::store::{BulkValue as V, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

const DAY: i64 = 86_400_000;
const AGENTS: usize = 50;
const PROJECTS: usize = 10;

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
    let mut toml = String::from(
        "[[people]]\nid = \"ceo\"\nrole = \"owner\"\ntime_zone = \"Europe/Kyiv\"\n\
         [[people]]\nid = \"dana\"\nrole = \"member\"\n",
    );
    for a in 0..AGENTS {
        toml.push_str(&format!(
            "[[agents]]\nid = \"agent-{a:02}\"\ndaily_budget_usd = {}\n",
            20 + a
        ));
    }
    for p in 0..PROJECTS {
        toml.push_str(&format!(
            "[[projects]]\nid = \"p{p}\"\nname = \"Project {p}\"\nbudget_usd = {}\n",
            5000 + 1000 * p
        ));
    }
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
    // Warm the pool and the caches as a running hub would be.
    for _ in 0..3 {
        service
            .data(&store, "ceo", None, chrono::Utc::now())
            .await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut brief = None;
    for _ in 0..runs {
        let t = Instant::now();
        let b = service
            .data(&store, "ceo", None, chrono::Utc::now())
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

const STATUSES: [&str; 6] = [
    "created",
    "ready",
    "assigned",
    "in_progress",
    "review",
    "blocked",
];

async fn seed_tasks(store: &Store, rng: &mut StdRng, now_ms: i64, n: i64) -> anyhow::Result<()> {
    // Ids are handed out in creation order.
    let mut created_at: Vec<i64> = (0..n)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    created_at.sort_unstable();
    let mut rows = Vec::with_capacity(20_000);
    for id in 1..=n {
        let created = created_at[(id - 1) as usize];
        let completed = rng.random_bool(0.75);
        let status = if completed {
            "completed"
        } else {
            STATUSES[rng.random_range(0..STATUSES.len())]
        };
        let priority = match rng.random_range(0..100) {
            0..30 => "low",
            30..75 => "medium",
            75..95 => "high",
            _ => "urgent",
        };
        let (kind, who) = if rng.random_bool(0.8) {
            ("agent", format!("agent-{:02}", rng.random_range(0..AGENTS)))
        } else {
            ("person", "ceo".to_string())
        };
        let due = if rng.random_bool(0.5) {
            V::Int((created / DAY + rng.random_range(1..30)) * DAY)
        } else {
            V::NullInt
        };
        let done_at = (created + rng.random_range(0..10 * DAY)).min(now_ms);
        rows.push(vec![
            V::Int(id),
            V::Text(format!("Task {id}: do the thing")),
            V::Text(status.into()),
            V::Text(priority.into()),
            V::Text(format!("p{}", rng.random_range(0..PROJECTS))),
            V::Text(kind.into()),
            V::Text(who),
            due,
            V::Text("ceo".into()),
            V::Int(created),
            V::Int(if completed { done_at } else { created }),
            if completed {
                V::Int(done_at)
            } else {
                V::NullInt
            },
        ]);
        if rows.len() == 20_000 || id == n {
            store
                .bulk_insert(
                    "tasks",
                    &[
                        "id",
                        "title",
                        "status",
                        "priority",
                        "project_id",
                        "assignee_kind",
                        "assignee_id",
                        "due_at",
                        "created_by",
                        "created_at",
                        "updated_at",
                        "completed_at",
                    ],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    Ok(())
}

async fn seed_costs(store: &Store, rng: &mut StdRng, now_ms: i64, n: usize) -> anyhow::Result<()> {
    // Costs arrive in time order, as they do from agents: sorted instants.
    let mut ats: Vec<i64> = (0..n)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    ats.sort_unstable();
    let mut rows = Vec::with_capacity(50_000);
    for (i, at) in ats.into_iter().enumerate() {
        let project = if rng.random_bool(0.9) {
            V::Text(format!("p{}", rng.random_range(0..PROJECTS)))
        } else {
            V::NullText
        };
        let tokens_in = rng.random_range(100..20_000);
        rows.push(vec![
            V::Text(format!("agent-{:02}", rng.random_range(0..AGENTS))),
            project,
            V::Text("gpt-4o-mini".into()),
            V::Int(tokens_in),
            V::Int(tokens_in / 4),
            // $0.0001 to $0.5 in micro-dollars.
            V::Int(i64::from(rng.random_range(1..5000u32)) * 100),
            V::Int(at),
        ]);
        if rows.len() == 50_000 || i + 1 == n {
            store
                .bulk_insert(
                    "costs",
                    &[
                        "agent_id",
                        "project_id",
                        "model",
                        "tokens_in",
                        "tokens_out",
                        "usd_micros",
                        "at",
                    ],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    // The rows went around the API's insert: build its daily roll-up.
    store.rebuild_cost_daily().await?;
    Ok(())
}

async fn seed_rest(
    store: &Store,
    rng: &mut StdRng,
    now_ms: i64,
    n_tasks: i64,
) -> anyhow::Result<()> {
    // Task moves in the audit log.
    let mut moves: Vec<i64> = (0..200_000)
        .map(|_| now_ms - rng.random_range(0..365 * DAY))
        .collect();
    moves.sort_unstable();
    let mut rows = Vec::with_capacity(50_000);
    for (i, at) in moves.into_iter().enumerate() {
        rows.push(vec![
            V::Int(at),
            V::Text("agent-01".into()),
            V::Text("task.move".into()),
            V::Text(format!("task:{}", rng.random_range(1..=n_tasks))),
            V::Text("{}".into()),
            V::Text("api".into()),
        ]);
        if rows.len() == 50_000 || i + 1 == 200_000 {
            store
                .bulk_insert(
                    "audit_log",
                    &["at", "actor", "action", "resource", "details", "source"],
                    &rows,
                )
                .await?;
            rows.clear();
        }
    }
    // Dependencies: a later task needs an earlier one (acyclic).
    let mut edges = std::collections::BTreeSet::new();
    while edges.len() < 20_000 {
        let a = rng.random_range(2..=n_tasks);
        let b = rng.random_range(1..a);
        edges.insert((a, b));
    }
    let rows: Vec<Vec<V>> = edges
        .into_iter()
        .map(|(a, b)| vec![V::Int(a), V::Int(b), V::Int(now_ms)])
        .collect();
    store
        .bulk_insert(
            "task_dependencies",
            &["task_id", "depends_on", "created_at"],
            &rows,
        )
        .await?;
    let rows: Vec<Vec<V>> = (0..1_000)
        .map(|i| {
            let created = now_ms - rng.random_range(0..90 * DAY);
            let pending = i < 50;
            vec![
                V::Text("deploy".into()),
                V::Text(format!("Deploy build {i}?")),
                V::Text(if pending { "pending" } else { "approved" }.into()),
                V::Text("agent-02".into()),
                if pending {
                    V::NullText
                } else {
                    V::Text("ceo".into())
                },
                if pending {
                    V::NullInt
                } else {
                    V::Int(created + DAY)
                },
                V::Int(created),
            ]
        })
        .collect();
    store
        .bulk_insert(
            "decisions",
            &[
                "kind",
                "context",
                "status",
                "requested_by",
                "decided_by",
                "decided_at",
                "created_at",
            ],
            &rows,
        )
        .await?;
    let rows: Vec<Vec<V>> = (1..=2_000)
        .map(|task| {
            vec![
                V::Text(format!("agent-{:02}", rng.random_range(0..AGENTS))),
                V::Int(task),
                V::Text(format!("reason {}", rng.random_range(0..20))),
                V::Int(now_ms - rng.random_range(0..30 * DAY)),
            ]
        })
        .collect();
    store
        .bulk_insert(
            "agent_task_failures",
            &["agent_id", "task_id", "reason", "at"],
            &rows,
        )
        .await?;
    Ok(())
}
