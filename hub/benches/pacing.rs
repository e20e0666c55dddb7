//! Pacing benchmark: how close each platform adapter, driven by the real
//! hub (HTTP API → outbox → dispatcher → adapter), sends to the platform's
//! documented limits, against the test servers with those limits enforced
//! strictly (tests/src/*_server.rs answer 429 beyond them). For each case:
//! N messages to one chat, and to many chats; the achieved rate measured by
//! the server from the first message's arrival to the last's, against the
//! documented rate, and the number of 429s. Target: ≥ 95 % with 0 × 429.
//!
//!   cargo bench -p orkhub --bench pacing
//!
//! Knob: ORKHUB_BENCH_PACING_SCALE (default 1) multiplies every N. The
//! two-instance rows run on PostgreSQL: ORKHUB_BENCH_PG (an admin URL),
//! else postgres://postgres@127.0.0.1:5432/postgres.
//! Takes about 80 s: the limits are real (1 message a second, 20 a minute).

// Only part of the shared helper is used here.
#[allow(dead_code)]
#[path = "common/db.rs"]
mod db;

use hub::app::{Options, Running};
use hub::config::Config;
use serde_json::json;
use std::time::{Duration, Instant};
use test_servers::discord_server::DiscordServer;
use test_servers::slack_server::{BOT_TOKEN, SlackServer};
use test_servers::telegram_server::TelegramServer;

/// What one case measured.
struct Row {
    platform: &'static str,
    case: String,
    messages: usize,
    /// Arrival times at the server, in order.
    arrivals: Vec<Instant>,
    /// For a per-chat limit over many chats: each chat's arrivals, whose
    /// rates add up (the chats run side by side).
    per_chat: Option<Vec<Vec<Instant>>>,
    /// The documented limit for this case, in messages per second.
    limit: f64,
    limit_text: &'static str,
    rejected: usize,
}

impl Row {
    fn print(&self) {
        let span = match (self.arrivals.first(), self.arrivals.last()) {
            (Some(a), Some(b)) => b.duration_since(*a).as_secs_f64(),
            _ => 0.0,
        };
        let rate_of = |a: &[Instant]| match (a.first(), a.last()) {
            (Some(f), Some(l)) if l > f => {
                (a.len() - 1) as f64 / l.duration_since(*f).as_secs_f64()
            }
            _ => 0.0,
        };
        let rate = match &self.per_chat {
            Some(chats) => chats.iter().map(|c| rate_of(c)).sum(),
            None => rate_of(&self.arrivals),
        };
        println!(
            "| {} | {} | {} | {:.3}/s over {:.1} s | {} | {:.1} % | {} |",
            self.platform,
            self.case,
            self.messages,
            rate,
            span,
            self.limit_text,
            100.0 * rate / self.limit,
            self.rejected
        );
    }
}

struct Hub {
    running: Running,
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Hub {
    /// A hub on a database of its own.
    async fn start(extra: &str) -> anyhow::Result<(Hub, db::BenchDb)> {
        let db = db::BenchDb::create().await?;
        Ok((Hub::start_on(&db.url, extra, None).await?, db))
    }

    /// A hub on the database at `url`; with `key`, one made by another
    /// instance on the same database.
    async fn start_on(url: &str, extra: &str, key: Option<&str>) -> anyhow::Result<Hub> {
        // A fast poll only shortens the first claim; pacing is the adapters'.
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n[log]\nlevel = \"warn\"\n\
             [brief]\nenabled = false\n[outbox]\npoll_interval_ms = 50\nconcurrency = 64\n{extra}\n\
             [[agents]]\nid = \"bench\"\n"
        );
        let config = Config::from_toml(&toml)?;
        let running = hub::app::start(config, Options::default()).await?;
        let key = match key {
            Some(k) => k.to_string(),
            None => {
                let (id, key, hash) = hub::api::auth::generate_key();
                let scopes: Vec<String> = hub::api::auth::SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                running
                    .store
                    .insert_key(&id, "bench", &hash, &scopes, None, "bench")
                    .await?;
                key
            }
        };
        Ok(Hub {
            base: format!("http://{}", running.addr),
            running,
            key,
            http: reqwest::Client::new(),
        })
    }

    /// Post `n` messages to each channel, round robin (chat 0's first,
    /// chat 1's first, …), as agents would.
    async fn post(&self, channels: &[String], n: usize) -> anyhow::Result<()> {
        self.post_from(channels, 0..n).await
    }

    /// Post messages `range` to each channel, round robin.
    async fn post_from(
        &self,
        channels: &[String],
        range: std::ops::Range<usize>,
    ) -> anyhow::Result<()> {
        for i in range {
            for c in channels {
                let r = self
                    .http
                    .post(format!("{}/api/v1/messages", self.base))
                    .bearer_auth(&self.key)
                    .json(&json!({"channel": c, "text": format!("{c} #{i}")}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().as_u16() == 201, "post: {}", r.status());
            }
        }
        Ok(())
    }

    async fn stop(self) {
        self.running.shutdown().await;
    }
}

/// Wait until `count()` reaches `n` (or `limit` passes).
async fn until(n: usize, limit: Duration, count: impl Fn() -> usize) {
    let end = Instant::now() + limit;
    while count() < n && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `[[channels]]` tables binding `ids` on `platform`, named c0, c1, ….
fn channels(platform: &str, ids: &[String]) -> (String, Vec<String>) {
    let mut toml = String::new();
    let mut names = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        toml.push_str(&format!(
            "[[channels]]\nid = \"c{i}\"\nbindings = {{ {platform} = \"{id}\" }}\n"
        ));
        names.push(format!("c{i}"));
    }
    (toml, names)
}

fn sorted(mut v: Vec<Instant>) -> Vec<Instant> {
    v.sort();
    v
}

async fn telegram(scale: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    // (case, chat IDs, messages per chat, documented rate)
    let private = 9001i64;
    let group = -1001234567890i64;
    let many: Vec<i64> = (1..=60).map(|i| 10_000 + i).collect();
    let cases: Vec<(&str, Vec<i64>, usize, f64, &'static str)> = vec![
        ("one private chat", vec![private], 15 * scale, 1.0, "1/s"),
        (
            "one supergroup",
            vec![group],
            6 * scale,
            1.0 / 3.0,
            "20/min",
        ),
        ("60 private chats", many, 5 * scale, 30.0, "30/s bot-wide"),
    ];
    for (case, chats, n, limit, limit_text) in cases {
        let tg = TelegramServer::start().await;
        tg.add_chats(&chats);
        tg.enforce_documented_limits();
        let ids: Vec<String> = chats.iter().map(|c| c.to_string()).collect();
        let (toml, names) = channels("telegram", &ids);
        let (hub, _db) = Hub::start(&format!("{}{toml}", tg.config(""))).await?;
        hub.post(&names, n).await?;
        let total = n * chats.len();
        let count = || chats.iter().map(|c| tg.messages(*c).len()).sum::<usize>();
        until(total, Duration::from_secs(120), count).await;
        let arrivals = sorted(chats.iter().flat_map(|c| tg.sent_at(*c)).collect());
        rows.push(Row {
            platform: "Telegram",
            case: case.to_string(),
            messages: arrivals.len(),
            arrivals,
            limit,
            limit_text,
            per_chat: None,
            rejected: tg.rate_limited(),
        });
        hub.stop().await;
    }
    Ok(rows)
}

/// Two instances on one PostgreSQL (`ORKHUB_BENCH_PG`, else the local
/// server) sending through one bot: Telegram's limits kept for both
/// together through the send slots in the database.
async fn telegram_two_instances(scale: usize) -> anyhow::Result<Vec<Row>> {
    let admin = std::env::var("ORKHUB_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut rows = Vec::new();
    let private = 9001i64;
    let many: Vec<i64> = (1..=60).map(|i| 10_000 + i).collect();
    let cases: Vec<(&str, Vec<i64>, usize, f64, &'static str)> = vec![
        (
            "one private chat, 2 instances",
            vec![private],
            15 * scale,
            1.0,
            "1/s",
        ),
        (
            "60 private chats, 2 instances",
            many,
            5 * scale,
            30.0,
            "30/s bot-wide",
        ),
    ];
    for (case, chats, n, limit, limit_text) in cases {
        let db = db::BenchDb::postgres(&admin).await?;
        let tg = TelegramServer::start().await;
        tg.add_chats(&chats);
        tg.enforce_documented_limits();
        let ids: Vec<String> = chats.iter().map(|c| c.to_string()).collect();
        let (toml, names) = channels("telegram", &ids);
        let extra = format!("{}{toml}", tg.config(""));
        let a = Hub::start_on(&db.url, &extra, None).await?;
        let b = Hub::start_on(&db.url, &extra, Some(&a.key)).await?;
        let hubs = [&a, &b];
        let count = || chats.iter().map(|c| tg.messages(*c).len()).sum::<usize>();
        if chats.len() == 1 {
            // Rounds of 3, to each instance in turn, each posted when the
            // one before arrived: the chat's queue changes instance.
            for (round, start) in (0..n).step_by(3).enumerate() {
                let end = (start + 3).min(n);
                hubs[round % 2].post_from(&names, start..end).await?;
                until(end, Duration::from_secs(30), count).await;
            }
        } else {
            for i in 0..n {
                for (c, name) in names.iter().enumerate() {
                    hubs[(i + c) % 2]
                        .post_from(std::slice::from_ref(name), i..i + 1)
                        .await?;
                }
            }
        }
        let total = n * chats.len();
        until(total, Duration::from_secs(120), count).await;
        let arrivals = sorted(chats.iter().flat_map(|c| tg.sent_at(*c)).collect());
        rows.push(Row {
            platform: "Telegram",
            case: case.to_string(),
            messages: arrivals.len(),
            arrivals,
            limit,
            limit_text,
            per_chat: None,
            rejected: tg.rate_limited(),
        });
        a.stop().await;
        b.stop().await;
        db.drop_database().await?;
    }
    Ok(rows)
}

async fn discord(scale: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let one = vec![820_000_000_000_000_001u64];
    let many: Vec<u64> = (1..=20).map(|i| 820_000_000_000_001_000 + i).collect();
    let cases: Vec<(&str, Vec<u64>, usize, f64, &'static str)> = vec![
        // 5k + 1 messages: k whole buckets between the first and the last.
        ("one channel", one, 15 * scale + 1, 1.0, "5 per 5 s"),
        ("20 channels", many, 5 * scale, 50.0, "50/s bot-wide"),
    ];
    for (case, chans, n, limit, limit_text) in cases {
        let server = DiscordServer::start(&chans).await;
        server.enforce_documented_limits();
        let ids: Vec<String> = chans.iter().map(|c| c.to_string()).collect();
        let (toml, names) = channels("discord", &ids);
        let (hub, _db) = Hub::start(&format!("{}{toml}", server.config(""))).await?;
        hub.post(&names, n).await?;
        let total = n * chans.len();
        let count = || {
            chans
                .iter()
                .map(|c| server.messages(*c).len())
                .sum::<usize>()
        };
        until(total, Duration::from_secs(120), count).await;
        let arrivals = sorted(
            chans
                .iter()
                .flat_map(|c| server.messages(*c).into_iter().map(|m| m.at))
                .collect(),
        );
        rows.push(Row {
            platform: "Discord",
            case: case.to_string(),
            messages: arrivals.len(),
            arrivals,
            limit,
            limit_text,
            per_chat: None,
            rejected: server.rate_limited(),
        });
        hub.stop().await;
    }
    Ok(rows)
}

async fn slack(scale: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let cases: Vec<(&str, Vec<String>, usize, f64, &'static str)> = vec![
        ("one channel", vec!["C100".into()], 10 * scale, 1.0, "1/s"),
        (
            "10 channels",
            (0..10).map(|i| format!("C2{i:02}")).collect(),
            5 * scale,
            10.0,
            "1/s per channel",
        ),
    ];
    for (case, chans, n, limit, limit_text) in cases {
        let refs: Vec<&str> = chans.iter().map(String::as_str).collect();
        let server = SlackServer::start(&refs).await;
        server.limit_per_second(1);
        let (toml, names) = channels("slack", &chans);
        let extra = format!(
            "[adapters.slack]\nenabled = true\nbot_token = \"{BOT_TOKEN}\"\nsigning_secret = \"bench-secret\"\napi_url = \"{}\"\n{toml}",
            server.api_url()
        );
        let (hub, _db) = Hub::start(&extra).await?;
        hub.post(&names, n).await?;
        let total = n * chans.len();
        until(total, Duration::from_secs(120), || server.posted().len()).await;
        let calls = server.calls("chat.postMessage");
        let arrivals = sorted(
            calls
                .iter()
                .filter(|c| c.outcome == "ok")
                .map(|c| c.at)
                .collect(),
        );
        let per_chat = (chans.len() > 1).then(|| {
            let mut by: std::collections::HashMap<String, Vec<Instant>> = Default::default();
            for c in calls.iter().filter(|c| c.outcome == "ok") {
                let ch = c.body["channel"].as_str().unwrap_or("").to_string();
                by.entry(ch).or_default().push(c.at);
            }
            by.into_values().map(sorted).collect()
        });
        rows.push(Row {
            platform: "Slack",
            per_chat,
            case: case.to_string(),
            messages: arrivals.len(),
            arrivals,
            limit,
            limit_text,
            rejected: calls.iter().filter(|c| c.outcome == "429").count(),
        });
        hub.stop().await;
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scale: usize = std::env::var("ORKHUB_BENCH_PACING_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    println!("| platform | case | messages | achieved | documented | of limit | 429s |");
    println!("|---|---|---|---|---|---|---|");
    for row in telegram(scale).await? {
        row.print();
    }
    for row in telegram_two_instances(scale).await? {
        row.print();
    }
    for row in discord(scale).await? {
        row.print();
    }
    for row in slack(scale).await? {
        row.print();
    }
    Ok(())
}
