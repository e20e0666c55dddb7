//! Ingest benchmark: durable notifications/s through the real HTTP API with
//! many concurrent clients (load generator in the same process, so it shares
//! the 2 cores), API latency at a fixed offered rate, and how long an urgent
//! notification takes to reach the console adapter.
//!
//!   cargo bench -p orkhub --bench ingest             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench ingest
//!
//! Knobs: ORKHUB_BENCH_SECS (default 10), ORKHUB_BENCH_CLIENTS (default 64),
//! ORKHUB_BENCH_RATE (default 1000/s for the latency run).

use hub::app::Options;
use hub::config::Config;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    let secs: u64 = env("ORKHUB_BENCH_SECS", 10);
    let clients: usize = env("ORKHUB_BENCH_CLIENTS", 64);
    let rate: u64 = env("ORKHUB_BENCH_RATE", 1000);
    let dir = tempfile::tempdir()?;
    let (url, engine, pg_drop) = match std::env::var("ORKHUB_BENCH_PG") {
        Ok(admin) => {
            sqlx::any::install_default_drivers();
            let name = format!("orkhub_bench_{}", rand::random::<u32>());
            let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await?;
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            (format!("{base}/{name}"), "PostgreSQL", Some((admin, name)))
        }
        Err(_) => (
            format!("sqlite://{}/bench.db", dir.path().display()),
            "SQLite",
            None,
        ),
    };
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\nmax_connections = 8\n[log]\nlevel = \"warn\"\n\
         [[people]]\nid = \"ceo\"\nrole = \"owner\"\npush = [\"console\"]\n[[agents]]\nid = \"bench\"\n"
    );
    let config = Config::from_toml(&toml)?;
    let (tx, mut console) = tokio::sync::mpsc::unbounded_channel::<String>();
    let running = hub::app::start(
        config,
        Options {
            console_output: Some(adapters::console::ConsoleOutput::Channel(tx)),
            extra_adapters: vec![],
        },
    )
    .await?;
    let (id, key, hash) = hub::api::auth::generate_key();
    running
        .store
        .insert_key(
            &id,
            "bench",
            &hash,
            &["notifications:write".to_string()],
            None,
            "bench",
        )
        .await?;
    let endpoint = format!("http://{}/api/v1/notifications", running.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;

    // 1. Sustained durable ingest with many concurrent clients.
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (http, endpoint, key, ok, failed) = (
                http.clone(),
                endpoint.clone(),
                key.clone(),
                ok.clone(),
                failed.clone(),
            );
            tokio::spawn(async move {
                let body =
                    r#"{"to":"ceo","urgency":"info","kind":"bench","text":"throughput sample"}"#;
                while Instant::now() < until {
                    let r = http
                        .post(&endpoint)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = ok.load(Ordering::Relaxed);
    let stored = running.store.notification_count().await?;
    println!("engine: {engine}");
    println!(
        "ingest: {:.0} notifications/s durable ({accepted} accepted in {elapsed:.1} s by {clients} clients, {} failed, {stored} stored)",
        accepted as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    // Let the dispatcher catch up before measuring latency.
    while running.store.outbox_depth().await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 2. API latency at a fixed offered rate (open loop: requests start on schedule).
    let n = rate * secs.min(10);
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::with_capacity(n as usize);
    for _ in 0..n {
        tick.tick().await;
        let (http, endpoint, key) = (http.clone(), endpoint.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http
                .post(&endpoint)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(r#"{"to":"ceo","urgency":"fyi","kind":"bench","text":"latency sample"}"#)
                .send()
                .await;
            (r.map(|r| r.status().as_u16()).unwrap_or(0), t.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(n as usize);
    for h in handles {
        let (status, d) = h.await?;
        if status == 201 {
            lat.push(d);
        }
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "api latency at {rate}/s offered: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {n} answered 201)",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        lat.len()
    );
    while running.store.outbox_depth().await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 3. Urgent → console. The clock starts when the 201 arrives (after the
    // commit), so this is commit-to-console plus the response's trip back.
    while console.try_recv().is_ok() {}
    let mut urgent = Vec::new();
    for _ in 0..500 {
        let r = http
            .post(&endpoint)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(r#"{"to":"ceo","urgency":"urgent","kind":"bench","text":"urgent sample"}"#)
            .send()
            .await?;
        let answered = Instant::now();
        anyhow::ensure!(r.status() == 201, "urgent post failed: {}", r.status());
        tokio::time::timeout(Duration::from_secs(5), console.recv()).await?;
        urgent.push(answered.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    urgent.sort();
    println!(
        "urgent → console after commit: p50 {:.2} ms, p99 {:.2} ms (500 samples)",
        urgent[250].as_secs_f64() * 1e3,
        urgent[495].as_secs_f64() * 1e3
    );
    running.shutdown().await;
    if let Some((admin, name)) = pg_drop {
        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut c)
        .await?;
    }
    Ok(())
}
