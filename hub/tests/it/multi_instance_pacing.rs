//! Pacing kept across instances on one PostgreSQL: two real `orkhub`
//! processes send through one Telegram bot to a Bot API server that
//! enforces Telegram's documented limits (1/s in a private chat, 30/s
//! bot-wide; 429 beyond them). The limits hold for both instances
//! together — 0 × 429 — and neither is left unused: the achieved rate is at
//! least 95 % of the limit. Each instance alone paced in-process; together
//! they sent at twice the bot-wide rate, and a chat's queue taken over by
//! the other instance started without waiting for the last send.
//!
//! PostgreSQL only: SQLite is the single-instance engine.

use crate::common;
use common::TestDb;
use common::binary::Instance;
use common::telegram_server::TelegramServer;
use std::time::{Duration, Instant};

/// The private chat both instances take turns sending to.
const PRIVATE: i64 = 9100;
/// Private chats sent to side by side, and messages to each.
const MANY: i64 = 60;
const PER_CHAT: usize = 5;

fn chat(c: i64) -> i64 {
    20_000 + c
}

fn config(db: &TestDb, tg: &TelegramServer) -> String {
    let mut people = format!(
        "[[people]]\nid = \"solo\"\npush = [\"telegram\"]\nidentities = {{ telegram = \"{PRIVATE}\" }}\n"
    );
    for c in 0..MANY {
        people.push_str(&format!(
            "[[people]]\nid = \"p{c}\"\npush = [\"telegram\"]\nidentities = {{ telegram = \"{}\" }}\n",
            chat(c)
        ));
    }
    // The default Telegram limits; enough queues side by side to fill the
    // bot-wide budget; a lease well beyond any wait for a send slot.
    format!(
        "[database]\nurl = \"{}\"\n\
         [outbox]\nlease_secs = 30\npoll_interval_ms = 50\nconcurrency = 64\n\
         [brief]\nenabled = false\n{}\n\
         [[people]]\nid = \"ceo\"\nrole = \"owner\"\npush = [\"console\"]\n{people}\
         [[agents]]\nid = \"builder\"\n",
        db.url(),
        tg.config(""),
    )
}

/// Messages per second between the first and the last of `at`.
fn rate(at: &[Instant]) -> f64 {
    let span = at[at.len() - 1] - at[0];
    (at.len() - 1) as f64 / span.as_secs_f64()
}

struct Client {
    http: reqwest::Client,
    key: String,
}

impl Client {
    async fn post(&self, port: u16, to: &str, text: &str) {
        let r = self
            .http
            .post(format!("http://127.0.0.1:{port}/api/v1/notifications"))
            .bearer_auth(&self.key)
            .json(&serde_json::json!({"to": to, "urgency": "urgent", "text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }
}

async fn wait_until(what: &str, secs: u64, instances: &[Instance], done: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !done() {
        if Instant::now() > until {
            for i in instances {
                eprintln!("--- instance on {}:\n{}", i.port, i.log_tail(30));
            }
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_telegrams_limits_together() {
    let db = TestDb::postgres().await;
    let tg = TelegramServer::start().await;
    let mut chats: Vec<i64> = (0..MANY).map(chat).collect();
    chats.push(PRIVATE);
    tg.add_chats(&chats);
    tg.enforce_documented_limits();
    let cfg = config(&db, &tg);
    let mut instances = vec![Instance::new(&cfg), Instance::new(&cfg)];
    let client = Client {
        http: reqwest::Client::new(),
        key: instances[0].key(),
    };
    for i in instances.iter_mut() {
        i.serve().await;
    }
    let ports = [instances[0].port, instances[1].port];

    // One private chat, its messages accepted by the two instances in
    // turn, three at a time: each batch is posted the moment the one
    // before it arrived, so the other instance takes the chat's queue over
    // right after the last send.
    let mut sent = 0;
    for round in 0..4 {
        for k in 0..3 {
            let text = format!("solo r{round} #{k}");
            client.post(ports[round % 2], "solo", &text).await;
        }
        sent += 3;
        wait_until("a round to arrive", 20, &instances, || {
            tg.messages(PRIVATE).len() >= sent
        })
        .await;
    }
    let solo = tg.sent_at(PRIVATE);
    assert_eq!(solo.len(), 12);
    assert_eq!(tg.rate_limited(), 0, "{:?}", tg.rejections());
    let solo_rate = rate(&solo);
    eprintln!("one private chat, 2 instances: {solo_rate:.3}/s (limit 1/s)");
    assert!(
        (0.95..=1.0).contains(&solo_rate),
        "{solo_rate:.3}/s in one private chat"
    );

    // Sixty private chats, every other message to the other instance:
    // both send side by side, within one bot-wide budget of 30/s.
    for k in 0..PER_CHAT {
        for c in 0..MANY {
            let port = ports[(k + c as usize) % 2];
            client
                .post(port, &format!("p{c}"), &format!("many #{k}"))
                .await;
        }
    }
    let total = MANY as usize * PER_CHAT;
    let count = || (0..MANY).map(|c| tg.messages(chat(c)).len()).sum::<usize>();
    wait_until("every message to arrive", 60, &instances, || {
        count() >= total
    })
    .await;
    // A duplicate or a late 429's retry would show here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(), total);
    assert_eq!(tg.rate_limited(), 0, "{:?}", tg.rejections());
    let mut all: Vec<Instant> = (0..MANY).flat_map(|c| tg.sent_at(chat(c))).collect();
    all.sort();
    let many_rate = rate(&all);
    eprintln!("{MANY} private chats, 2 instances: {many_rate:.2}/s (limit 30/s bot-wide)");
    assert!(
        (28.5..=30.0).contains(&many_rate),
        "{many_rate:.2}/s over {MANY} chats"
    );
    drop(instances);
    db.finish().await;
}

/// The slot arithmetic on its own: a key's slots come `interval` apart
/// whoever asks, keys do not hold each other up, and SQLite (one instance)
/// has no shared slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_slots_are_spaced_per_key_by_the_database() {
    let db = TestDb::postgres().await;
    let store = db.store();
    let interval_us = 200_000;
    assert_eq!(
        store
            .take_send_slot("t:chat:1", interval_us, 1)
            .await
            .unwrap(),
        0
    );
    let second = store
        .take_send_slot("t:chat:1", interval_us, 1)
        .await
        .unwrap();
    let third = store
        .take_send_slot("t:chat:1", interval_us, 1)
        .await
        .unwrap();
    // Taken a moment after the first: almost a whole interval to wait,
    // and the third one more.
    assert!((100_000..=interval_us).contains(&second), "{second}");
    assert!(
        (second + 100_000..=second + interval_us).contains(&third),
        "{third}"
    );
    assert_eq!(
        store
            .take_send_slot("t:chat:2", interval_us, 1)
            .await
            .unwrap(),
        0
    );
    // A key whose last slot has passed starts again from now.
    tokio::time::sleep(Duration::from_micros((third + interval_us) as u64 + 50_000)).await;
    assert_eq!(
        store
            .take_send_slot("t:chat:1", interval_us, 1)
            .await
            .unwrap(),
        0
    );
    // A bucket: three slots at once, the fourth when the window has passed.
    for _ in 0..3 {
        assert_eq!(
            store
                .take_send_slot("d:ch:1", interval_us, 3)
                .await
                .unwrap(),
            0
        );
    }
    let fourth = store
        .take_send_slot("d:ch:1", interval_us, 3)
        .await
        .unwrap();
    assert!((100_000..=interval_us).contains(&fourth), "{fourth}");
    db.finish().await;

    let lite = TestDb::sqlite().await;
    let e = lite
        .store()
        .take_send_slot("t:chat:1", 1_000, 1)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("PostgreSQL"), "{e}");
    lite.finish().await;
}
