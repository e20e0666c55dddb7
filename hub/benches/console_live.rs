//! Live inbox benchmark (issue 21): 200 browsers on the console's live
//! inbox while 2,000 `fyi` notifications arrive. The hub runs in this
//! process; 200 sessions are signed in with login links (one person's: each
//! notification is for them, so every stream must show every one), each
//! opens the console's EventSource stream (`/console/events` with its
//! session cookie), and 2,000 `fyi` notifications are posted through the
//! API (8 at a time). Reported: events received on all streams (the target
//! is streams × notifications, 400,000), `lagged` events (a stream that fell
//! behind the hub's buffer), the time from the first post to the last event
//! on the last stream, the latency from a post's request to its event on a
//! stream (p50 / p99 / max over every stream's copy: an upper bound of
//! commit → stream, as the commit lies in between), and the process's RSS
//! before the streams open, with them open, at the end of the posting and
//! after they close. The RSS is the hub's and this client's together (one
//! process; the client keeps a counter per stream and one timestamp per
//! notification).
//!
//!   cargo bench -p orkhub --bench console_live             # SQLite
//!   ORKHUB_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p orkhub --bench console_live
//!
//! Knobs: ORKHUB_BENCH_STREAMS (200), ORKHUB_BENCH_NOTIFICATIONS (2000),
//! ORKHUB_BENCH_POSTERS (8).

// The same allocator as the orkhub binary, so the figures are the hub's.
#[global_allocator]
static ALLOCATOR: hub::allocator::Mimalloc = hub::allocator::Mimalloc;

#[path = "common/cpu.rs"]
#[allow(dead_code)] // only its machine speed here
mod cpu;
#[path = "common/db.rs"]
mod db;

use hub::config::Config;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// This process's resident set (the hub's and the client's), in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What the streams saw, shared by their tasks.
struct Seen {
    events: AtomicU64,
    lagged: AtomicU64,
    /// When each notification's POST was sent (indexed by its number).
    sent: Vec<OnceLock<Instant>>,
    /// Post → event on a stream, in microseconds, every stream's copy.
    latencies: Mutex<Vec<u64>>,
    last: Mutex<Option<Instant>>,
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
    let streams: usize = env("ORKHUB_BENCH_STREAMS", 200);
    let notes: usize = env("ORKHUB_BENCH_NOTIFICATIONS", 2000);
    let posters: usize = env("ORKHUB_BENCH_POSTERS", 8);
    println!(
        "engine: {engine}; machine speed now: SHA-256 {:.0} MB/s on one core",
        cpu::machine_speed()
    );
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\nmax_connections = 8\n\
         [log]\nlevel = \"warn\"\n[brief]\nenabled = false\n[watchers]\nenabled = false\n\
         [adapters.console]\nenabled = false\n\
         [[people]]\nid = \"ceo\"\nrole = \"owner\"\n[[agents]]\nid = \"bench\"\n"
    );
    let running = hub::app::start(Config::from_toml(&toml)?, hub::app::Options::default()).await?;
    let base = format!("http://{}", running.addr);
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
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()?;
    let rss_idle = rss_mb();

    // 200 sessions, each from its own one-time link.
    let mut cookies = Vec::with_capacity(streams);
    for _ in 0..streams {
        let link = running.state.console.links.mint("ceo").await?;
        let token = link
            .split("token=")
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("no token in {link}"))?
            .to_string();
        let res = http
            .post(format!("{base}/console/login"))
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or_else(|| anyhow::anyhow!("signing in set no cookie ({})", res.status()))?
            .to_string();
        cookies.push(cookie);
    }

    let seen = Arc::new(Seen {
        events: AtomicU64::new(0),
        lagged: AtomicU64::new(0),
        sent: (0..notes).map(|_| OnceLock::new()).collect(),
        latencies: Mutex::new(Vec::with_capacity(streams * notes)),
        last: Mutex::new(None),
    });
    // Each stream reads until it has every notification or the hub stops.
    let mut readers = Vec::with_capacity(streams);
    for cookie in &cookies {
        let res = http
            .get(format!("{base}/console/events"))
            .header("cookie", cookie)
            .header("accept", "text/event-stream")
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "/console/events: {}",
            res.status()
        );
        readers.push(tokio::spawn(read_stream(res, seen.clone(), notes)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_open = rss_mb();
    println!("{engine}: {streams} sessions signed in, {streams} streams open");

    // 2,000 fyi notifications, `posters` at a time.
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut post_tasks = Vec::new();
    for _ in 0..posters {
        let (http, base, key, next, seen) = (
            http.clone(),
            base.clone(),
            key.clone(),
            next.clone(),
            seen.clone(),
        );
        post_tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                if k >= notes {
                    return Ok::<(), anyhow::Error>(());
                }
                let _ = seen.sent[k].set(Instant::now());
                let res = http
                    .post(format!("{base}/api/v1/notifications"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({
                        "to": "ceo", "urgency": "fyi", "kind": "report",
                        "title": "live", "text": format!("live #{k}#")
                    }))
                    .send()
                    .await?;
                anyhow::ensure!(res.status().as_u16() == 201, "POST: {}", res.status());
            }
        }));
    }
    for t in post_tasks {
        t.await??;
    }
    let posted = started.elapsed();
    let rss_posted = rss_mb();
    // Every stream has them all, or 60 s passed.
    let wait = tokio::time::timeout(Duration::from_secs(60), async {
        for r in readers {
            let _ = r.await;
        }
    })
    .await;
    let events = seen.events.load(Ordering::Relaxed);
    let lagged = seen.lagged.load(Ordering::Relaxed);
    let last = seen.last.lock().unwrap().map(|t| t - started);
    let rss_done = rss_mb();
    running.shutdown().await;
    drop(cookies);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_mb();

    let mut lat = std::mem::take(&mut *seen.latencies.lock().unwrap());
    lat.sort_unstable();
    let at = |q: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "{engine}: {notes} fyi posted in {:.2} s ({:.0}/s); events received {events} of {} ({}), lagged events {lagged}{}",
        posted.as_secs_f64(),
        notes as f64 / posted.as_secs_f64(),
        streams * notes,
        if events as usize == streams * notes {
            "all"
        } else {
            "MISSING SOME"
        },
        if wait.is_err() {
            "; gave up waiting after 60 s"
        } else {
            ""
        }
    );
    println!(
        "{engine}: first post → last event on the last stream {:.2} s",
        last.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    println!(
        "{engine}: post → event on a stream, ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    println!(
        "{engine}: RSS MB: before the streams {rss_idle:.0}, streams open {rss_open:.0}, after posting {rss_posted:.0}, all received {rss_done:.0}, hub stopped {rss_after:.0}"
    );
    Ok(())
}

/// Count this stream's notifications (`live #k#` in a `message` event's
/// data) until it has `want`, recording each one's latency.
async fn read_stream(mut res: reqwest::Response, seen: Arc<Seen>, want: usize) {
    let mut buf: Vec<u8> = Vec::new();
    let mut got = 0;
    while got < want {
        let chunk = match res.chunk().await {
            Ok(Some(c)) => c,
            _ => return,
        };
        buf.extend_from_slice(&chunk);
        // Whole lines only; the rest waits for the next chunk.
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        let now = Instant::now();
        for line in buf[..end].split(|b| *b == b'\n') {
            if line.starts_with(b"event: lagged") {
                seen.lagged.fetch_add(1, Ordering::Relaxed);
            }
            if !line.starts_with(b"data:") {
                continue;
            }
            let text = String::from_utf8_lossy(line);
            let Some(k) = text
                .split("live #")
                .nth(1)
                .and_then(|r| r.split('#').next())
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            got += 1;
            seen.events.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = seen.sent.get(k).and_then(|s| s.get()) {
                let us = now.saturating_duration_since(*sent).as_micros() as u64;
                seen.latencies.lock().unwrap().push(us);
            }
        }
        buf.drain(..=end);
        *seen.last.lock().unwrap() = Some(now);
    }
}
