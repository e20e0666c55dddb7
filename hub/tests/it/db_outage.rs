//! A database outage under a running hub, made with a TCP proxy between the
//! hub and PostgreSQL that the test cuts and restores (the shared server
//! keeps running). The API says the database is unavailable — 503
//! `unavailable` with Retry-After, not "invalid" — and sends made while
//! their outcome could not be recorded are not sent again once it is back,
//! although their lease ran out meanwhile.
//!
//! PostgreSQL only: an embedded SQLite file has no connection to lose.

use crate::common;

use adapters::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use commands::RichMessage;
use common::TestDb;
use common::server::PEOPLE;
use common::tcp_proxy::TcpProxy;
use hub::app::{Options, Running};
use hub::config::Config;
use routing::ChannelKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The console adapter's stand-in: each send takes `delay`, and every text
/// sent is kept in order.
struct SlowConsole {
    delay: Duration,
    sent: Mutex<Vec<String>>,
    /// Cut the database from inside the send after this many, before it
    /// counts: the outage then always begins with a send in hand (cut from
    /// the test's side, it could fall between two claims, and nothing was
    /// in hand to send during it).
    cut_after: (usize, Arc<TcpProxy>),
}

#[async_trait]
impl Adapter for SlowConsole {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }
    async fn send(&self, _: &Destination, m: &RichMessage) -> Result<Sent, SendError> {
        tokio::time::sleep(self.delay).await;
        let mut sent = self.sent.lock().unwrap();
        let (after, proxy) = &self.cut_after;
        if sent.len() == *after {
            proxy.cut();
        }
        sent.push(m.text.clone());
        Ok(Sent {
            platform_message_id: Some(format!("c{}", sent.len())),
        })
    }
    async fn edit(&self, _: &Destination, _: &str, _: &RichMessage) -> Result<(), SendError> {
        Ok(())
    }
}

/// A hub whose database is reached through `proxy`.
async fn start(
    db: &TestDb,
    proxy: &TcpProxy,
    outbox: &str,
    adapters: Vec<Arc<dyn Adapter>>,
) -> (Running, String) {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n[outbox]\n{outbox}\n[brief]\nenabled = false\n{PEOPLE}",
        proxy.url(&db.url())
    );
    let config = Config::from_toml(&toml).expect("test config");
    let running = hub::app::start(
        config,
        Options {
            console_output: None,
            extra_adapters: adapters,
        },
    )
    .await
    .expect("hub starts");
    let key = common::server::make_key(&running.store, common::server::ALL_SCOPES).await;
    (running, key)
}

async fn notify(
    http: &reqwest::Client,
    running: &Running,
    key: &str,
    text: &str,
) -> reqwest::Response {
    http.post(format!("http://{}/api/v1/notifications", running.addr))
        .bearer_auth(key)
        .json(&serde_json::json!({"to": "ceo", "urgency": "urgent", "text": text}))
        .send()
        .await
        .expect("the API answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_does_not_answer_is_503_unavailable_with_retry_after() {
    let db = TestDb::postgres().await;
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let (running, key) = start(&db, &proxy, "poll_interval_ms = 50", vec![]).await;
    let http = reqwest::Client::new();
    // The key is known (and cached) before the outage.
    assert_eq!(notify(&http, &running, &key, "before").await.status(), 201);

    proxy.cut();
    let started = Instant::now();
    let res = notify(&http, &running, &key, "during").await;
    assert_eq!(res.status(), 503);
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not store the notification")
            && message.contains("database is unavailable"),
        "{message}"
    );
    assert!(!message.contains("invalid"), "{message}");
    // Bounded by the pool's acquire timeout, not left hanging.
    assert!(started.elapsed() < Duration::from_secs(15));

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = notify(&http, &running, &key, "after").await.status();
        if status == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after the outage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.shutdown().await;
    db.finish().await;
}

/// 150 messages to one chat at 25 ms a send; the database goes away for
/// 12 s (the lease is 2 s) while the dispatcher is sending. Every message
/// arrives exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_lease_sends_nothing_twice() {
    const N: usize = 150;
    let db = TestDb::postgres().await;
    let proxy = Arc::new(TcpProxy::start("127.0.0.1:5432").await);
    const CUT_AFTER: usize = 30;
    let console = Arc::new(SlowConsole {
        delay: Duration::from_millis(25),
        sent: Mutex::new(Vec::new()),
        cut_after: (CUT_AFTER, proxy.clone()),
    });
    let (running, key) = start(
        &db,
        &proxy,
        "lease_secs = 2\npoll_interval_ms = 50\nbase_backoff_ms = 50\nmax_backoff_ms = 200",
        vec![console.clone()],
    )
    .await;
    let http = reqwest::Client::new();
    for i in 0..N {
        let res = notify(&http, &running, &key, &format!("m{i:03}")).await;
        assert_eq!(res.status(), 201);
    }
    let sent = || console.sent.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The console cuts the database in its send after the 30th.
    while sent() <= CUT_AFTER {
        assert!(Instant::now() < deadline, "sending did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_cut = CUT_AFTER;
    // Longer than the pool's 10 s wait for a connection too: every write
    // waiting for one fails and is retried, as when a database stays down.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let during = sent() - at_cut;
    proxy.restore();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE status <> 'sent'")
                .fetch_one(db.store().pool())
                .await
                .unwrap();
        if left == 0 && sent() >= N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} deliveries not sent, {} sends",
            sent()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything sent twice would arrive late: give it time to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let texts = console.sent.lock().unwrap().clone();
    let expected: Vec<String> = (0..N).map(|i| format!("m{i:03}")).collect();
    assert!(
        during > 0,
        "nothing was sent during the outage: the test proves nothing"
    );
    assert_eq!(
        texts.len(),
        N,
        "{} sends for {N} messages ({during} during the outage)",
        texts.len()
    );
    assert_eq!(texts, expected, "each once, in order");
    running.shutdown().await;
    db.finish().await;
}
