//! Ingest benchmark, through the real HTTP API with the load generator in the
//! same process (so it shares the 2 cores): API latency at a fixed offered
//! rate on a steady hub; durable notifications/s with many concurrent
//! clients; the latency run again right after that burst (while the
//! database digests it); how long an urgent notification takes to reach the
//! console adapter.
//!
//!   cargo bench -p orkhub --bench ingest             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench ingest
//!
//! Knobs: ORKHUB_BENCH_SECS (default 10), ORKHUB_BENCH_CLIENTS (default 256),
//! ORKHUB_BENCH_RATE (default 1000/s for the latency run).

// The same allocator as the orkhub binary, so the figures are the hub's.
#[global_allocator]
static ALLOCATOR: hub::allocator::Mimalloc = hub::allocator::Mimalloc;

#[path = "common/cpu.rs"]
mod cpu;
#[path = "common/db.rs"]
mod db;
#[path = "common/loadgen.rs"]
mod loadgen;

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
    let clients: usize = env("ORKHUB_BENCH_CLIENTS", 256);
    let rate: u64 = env("ORKHUB_BENCH_RATE", 1000);
    let db = db::BenchDb::create().await?;
    let (url, engine) = (db.url.clone(), db.engine);
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
    let addr = running.addr;
    let path = "/api/v1/notifications";

    println!(
        "engine: {engine}; machine speed now: SHA-256 {:.0} MB/s on one core",
        cpu::machine_speed()
    );

    // 1. API latency at a fixed offered rate, on a steady hub.
    latency(addr, &key, path, rate, secs, "steady").await?;
    while running.store.outbox_depth().await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 2. Sustained durable ingest with many concurrent clients.
    let stored_before = running.store.notification_count().await?;
    let held_before = running.store.delivery_counts().await?;
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let cpu_before = cpu::by_thread();
    let request = Arc::new(loadgen::post_request(
        path,
        &key,
        r#"{"to":"ceo","urgency":"info","kind":"bench","text":"throughput sample"}"#,
    ));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (request, ok, failed) = (request.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                let mut conn = loadgen::Conn::open(addr).await?;
                while Instant::now() < until {
                    match conn.send(&request).await? {
                        201 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
                Ok::<_, std::io::Error>(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = ok.load(Ordering::Relaxed);
    // Only the ingest side so far: the dispatcher's backlog is measured next.
    let cpu_ingest = cpu::spent(&cpu_before, &cpu::by_thread());
    let stored = running.store.notification_count().await? - stored_before;
    let held_before = held_before.get("held").copied().unwrap_or(0);
    let held = running
        .store
        .delivery_counts()
        .await?
        .get("held")
        .copied()
        .unwrap_or(0)
        - held_before;
    println!(
        "ingest: {:.0} notifications/s durable ({accepted} accepted in {elapsed:.1} s by {clients} clients, {} failed, {stored} stored, {held} held for a digest)",
        accepted as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    // The figure counts only complete work: every accepted `info` item is
    // stored and held for the recipient's digest.
    anyhow::ensure!(
        stored == accepted as i64 && held == stored,
        "accepted {accepted}, but {stored} stored and {held} held for a digest"
    );
    // Let the dispatcher catch up before measuring latency.
    let drain = Instant::now();
    while running.store.outbox_depth().await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_all = cpu::spent(&cpu_before, &cpu::by_thread());
    let per = |m: &std::collections::BTreeMap<String, f64>| {
        m.values().sum::<f64>() * 1e6 / accepted.max(1) as f64
    };
    println!(
        "cpu per notification: {:.0} µs during ingest, {:.0} µs including its web deliveries (outbox drained {:.1} s after the run)",
        per(&cpu_ingest),
        per(&cpu_all),
        drain.elapsed().as_secs_f64()
    );
    println!(
        "  by thread: {}",
        cpu_all
            .iter()
            .map(|(k, v)| format!("{k} {:.0} µs", v * 1e6 / accepted.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 3. The same latency run right after the burst: PostgreSQL is then
    // checkpointing (and SQLite copying its WAL of) what the burst wrote.
    latency(addr, &key, path, rate, secs, "right after the burst").await?;
    while running.store.outbox_depth().await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 4. Urgent → console. The clock starts when the 201 arrives (after the
    // commit), so this is commit-to-console plus the response's trip back.
    while console.try_recv().is_ok() {}
    let request = loadgen::post_request(
        path,
        &key,
        r#"{"to":"ceo","urgency":"urgent","kind":"bench","text":"urgent sample"}"#,
    );
    let mut conn = loadgen::Conn::open(addr).await?;
    let mut urgent = Vec::new();
    for _ in 0..500 {
        let status = conn.send(&request).await?;
        let answered = Instant::now();
        anyhow::ensure!(status == 201, "urgent post failed: {status}");
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
    db.drop_database().await?;
    Ok(())
}

/// API latency at `rate` requests/s offered for `secs` seconds (at most 10).
/// Open loop: request k is due at start + k/rate and its latency counts from
/// then, so a stall shows up in the figures instead of quietly slowing the
/// generator down.
async fn latency(
    addr: std::net::SocketAddr,
    key: &str,
    path: &str,
    rate: u64,
    secs: u64,
    when: &str,
) -> anyhow::Result<()> {
    let n = rate * secs.min(10);
    let lanes = 32u64;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let request = Arc::new(loadgen::post_request(
        path,
        key,
        r#"{"to":"ceo","urgency":"fyi","kind":"bench","text":"latency sample"}"#,
    ));
    // A pacer thread releases request k at begin + k/rate: tokio's timer
    // wheel has millisecond ticks, so lanes sleeping on it would fire up to a
    // millisecond late and count that against the hub. A lane still busy
    // with its previous request when its next one is due sends it late, and
    // the latency counts from the due time (no coordinated omission).
    let begin = std::time::Instant::now() + Duration::from_millis(50);
    let mut inboxes = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..lanes {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        inboxes.push(tx);
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut conn = loadgen::Conn::open(addr).await?;
            let mut lat = Vec::new();
            while let Some(k) = rx.recv().await {
                let due = begin + interval * k as u32;
                let sent = std::time::Instant::now();
                let status = conn.send(&request).await?;
                if status == 201 {
                    lat.push((due.elapsed(), sent.elapsed()));
                }
            }
            Ok::<_, std::io::Error>(lat)
        }));
    }
    let pacer = std::thread::spawn(move || {
        for k in 0..n {
            let due = begin + interval * k as u32;
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            if inboxes[(k % lanes) as usize].send(k).is_err() {
                return;
            }
        }
    });
    let mut lat = Vec::with_capacity(n as usize);
    for l in workers {
        lat.extend(l.await??);
    }
    let _ = pacer.join();
    let answered = lat.len();
    // From the scheduled time (open loop: a stall cannot hide) and from when
    // the request was written.
    let (mut from_due, mut from_send): (Vec<Duration>, Vec<Duration>) = lat.into_iter().unzip();
    from_due.sort();
    from_send.sort();
    let ms = |v: &[Duration], p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    };
    println!(
        "api latency at {rate}/s offered, {when}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms from the scheduled time; p50 {:.2} ms, p99 {:.2} ms from the send ({answered} of {n} answered 201)",
        ms(&from_due, 0.50),
        ms(&from_due, 0.99),
        ms(&from_due, 1.0),
        ms(&from_send, 0.50),
        ms(&from_send, 0.99),
    );
    Ok(())
}
