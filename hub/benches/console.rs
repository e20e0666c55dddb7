//! Console benchmark: how long each web console page takes on a database
//! with 100,000 tasks, 1,000,000 cost rows and 200,000 notifications
//! routed to two people (issue 21: ≤ 20 ms per page). The hub runs in this
//! process with the seeded database; a signed-in owner asks for each page
//! over loopback HTTP, one request at a time, and the time from sending the
//! request to the last byte of the page is what is reported (p50 / p99).
//!
//!   cargo bench -p orkhub --bench console             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench console
//!
//! Knobs: ORKHUB_BENCH_RUNS (requests per page, default 100),
//! ORKHUB_BENCH_TASKS (100000), ORKHUB_BENCH_COSTS (1000000),
//! ORKHUB_BENCH_NOTIFICATIONS (200000), ORKHUB_BENCH_SQLITE (keep the
//! seeded file between runs).

// The same allocator as the orkhub binary, so the figures are the hub's.
#[global_allocator]
static ALLOCATOR: hub::allocator::Mimalloc = hub::allocator::Mimalloc;

#[path = "common/cpu.rs"]
#[allow(dead_code)] // only its machine speed here
mod cpu;
#[path = "common/db.rs"]
mod db;
#[path = "common/seed.rs"]
mod seed;

use hub::config::Config;
use hub::store::Store;
use rand::SeedableRng;
use rand::rngs::StdRng;
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
    let db = db::BenchDb::create().await?;
    let result = run(&db.url, db.engine).await;
    db.drop_database().await?;
    result
}

async fn run(url: &str, engine: &str) -> anyhow::Result<()> {
    let runs: usize = env("ORKHUB_BENCH_RUNS", 100);
    let n_tasks: i64 = env("ORKHUB_BENCH_TASKS", 100_000);
    let n_costs: usize = env("ORKHUB_BENCH_COSTS", 1_000_000);
    let n_notes: usize = env("ORKHUB_BENCH_NOTIFICATIONS", 200_000);
    println!(
        "engine: {engine}; machine speed now: SHA-256 {:.0} MB/s on one core",
        cpu::machine_speed()
    );
    let team = seed::team_toml();
    let reuse = url
        .strip_prefix("sqlite://")
        .is_some_and(|p| std::path::Path::new(p).exists());
    let store = Store::open(url, 8).await?;
    hub::seed::apply(&store, &Config::from_toml(&team)?).await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut rng = StdRng::seed_from_u64(7);
    let t = Instant::now();
    let newest = if reuse {
        newest_for(&store, "ceo").await?
    } else {
        seed::seed_tasks(&store, &mut rng, now_ms, n_tasks).await?;
        seed::seed_costs(&store, &mut rng, now_ms, n_costs).await?;
        seed::seed_rest(&store, &mut rng, now_ms, n_tasks).await?;
        seed::seed_inbox(&store, &mut rng, now_ms, n_notes).await?
    };
    store.analyze().await?;
    if let Some(mut checkpointer) = store.wal_checkpointer(1).await? {
        checkpointer.checkpoint().await?;
    }
    store.close().await;
    println!(
        "{engine}: seeded {n_tasks} tasks, {n_costs} cost rows, {n_notes} notifications in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\nmax_connections = 8\n\
         [brief]\nenabled = false\n[watchers]\nenabled = false\n\
         [adapters.console]\nenabled = false\n{team}"
    );
    let running = hub::app::start(Config::from_toml(&toml)?, hub::app::Options::default()).await?;
    let base = format!("http://{}", running.addr);
    let link = running.state.console.links.mint("ceo").await?;
    let token = link
        .split("token=")
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no token in {link}"))?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let res = http
        .post(format!("{base}/console/login"))
        .form(&[("token", token)])
        .send()
        .await?;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("signing in set no cookie ({})", res.status()))?
        .to_string();

    // Yesterday's brief as the daily job sends it: built, then kept with
    // the notification it queues (a kept database has it from before).
    let ceo_today = running
        .state
        .brief
        .local_date(&running.store, "ceo", chrono::Utc::now())
        .await?;
    let sent_date = ceo_today - chrono::Duration::days(1);
    let slot = format!("ceo:{sent_date}");
    let now = hub::store::now_ms();
    if running
        .store
        .reserve_slot("brief", &slot, "bench", now, now + 600_000)
        .await?
    {
        let t = Instant::now();
        let (brief, message) = running
            .state
            .brief
            .compose(&running.store, "ceo", Some(sent_date), chrono::Utc::now())
            .await?;
        let person = running
            .state
            .dir
            .person("ceo")
            .ok_or_else(|| anyhow::anyhow!("no ceo"))?;
        let (n, d) = hub::brief::job::outbox_rows(person, &message, now, false);
        let until = brief.period.until.timestamp_millis();
        running
            .store
            .queue_brief(&slot, "bench", until, Some(&brief), &n, &d)
            .await?;
        println!(
            "{engine}: the brief for {sent_date} built and sent in {:.0} ms",
            ms(t.elapsed())
        );
    }

    let pages = [
        ("Inbox", "/console".to_string()),
        ("Decisions", "/console/decisions".to_string()),
        ("Tasks board", "/console/tasks".to_string()),
        ("Tasks, project p3", "/console/tasks?project=p3".to_string()),
        (
            "Tasks, assignee agent-07",
            "/console/tasks?assignee=agent-07".to_string(),
        ),
        (
            "Tasks, one column paged",
            "/console/tasks?status=completed&before=50000".to_string(),
        ),
        ("Brief", "/console/brief".to_string()),
        (
            "Brief, a sent past date",
            format!("/console/brief?date={sent_date}"),
        ),
        // Another date each time, from two days ago back: never sent, and
        // never in the page's one-minute cache.
        (
            "Brief, a never-sent past date",
            "/console/brief?date=".to_string(),
        ),
        ("Costs", "/console/costs".to_string()),
        ("Agents", "/console/agents".to_string()),
        ("Notification", format!("/console/notifications/{newest}")),
    ];
    println!("{engine}: {runs} requests per page, one at a time (ms, loopback HTTP included)");
    println!("| page | p50 | p99 | max | page size |");
    println!("|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    let mut past = 1;
    let (http, base, cookie) = (&http, &base, &cookie);
    for (name, path) in &pages {
        let mut get = || {
            let path = if path.ends_with("date=") {
                past += 1;
                let d = ceo_today - chrono::Duration::days(past);
                format!("{path}{d}")
            } else {
                path.clone()
            };
            async move {
                let res = http
                    .get(format!("{base}{path}"))
                    .header("cookie", cookie)
                    .send()
                    .await?;
                let status = res.status();
                let body = res.text().await?;
                anyhow::ensure!(status.is_success(), "{path}: {status}: {body}");
                Ok::<usize, anyhow::Error>(body.len())
            }
        };
        // Warm the pool and the caches as a running hub would be.
        for _ in 0..3 {
            get().await?;
        }
        let mut times = Vec::with_capacity(runs);
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            size = get().await?;
            times.push(t.elapsed());
        }
        times.sort();
        let at = |q: f64| ms(times[((times.len() as f64 - 1.0) * q).round() as usize]);
        worst = worst.max(at(0.99));
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {} kB |",
            at(0.5),
            at(0.99),
            at(1.0),
            size / 1024
        );
    }
    println!("{engine}: slowest page's p99 {worst:.1} ms (target ≤ 20 ms)");
    running.shutdown().await;
    Ok(())
}

/// A kept SQLite file: the newest notification routed to `person`.
async fn newest_for(store: &Store, person: &str) -> anyhow::Result<String> {
    store
        .inbox(person, 1)
        .await?
        .into_iter()
        .next()
        .map(|n| n.id)
        .ok_or_else(|| anyhow::anyhow!("the kept database has no notification for {person}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
