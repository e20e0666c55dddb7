//! Telegram's real limits and no hidden waits: a private chat paced at one
//! message a second (not a group's 20 a minute) against a Bot API server
//! that enforces the documented limits; a 5xx costs the outbox's backoff,
//! not teloxide's fixed 10 s; the HTTP API listens before the Bot API is
//! asked anything; a command's reply goes through the outbox and survives
//! a 429.

use crate::common;
use common::TestDb;
use common::server::{TestHub, delivery};
use common::telegram_server::TelegramServer;
use hub::app::Options;
use hub::config::Config;
use serde_json::json;
use std::time::{Duration, Instant};

const CHIEF: i64 = 9001;

const CHIEF_TOML: &str = r#"
[[people]]
id = "chief"
role = "owner"
push = ["telegram", "console"]
identities = { telegram = "9001" }
"#;

async fn start(db: &TestDb, adapter_extra: &str) -> (TelegramServer, TestHub) {
    let tg = TelegramServer::start().await;
    tg.add_chats(&[CHIEF]);
    let hub = TestHub::start(
        db,
        &format!("{}{CHIEF_TOML}", tg.config(adapter_extra)),
        vec![],
    )
    .await;
    (tg, hub)
}

async fn urgent(hub: &TestHub, text: &str) -> String {
    let (s, b) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": "chief", "urgency": "urgent", "text": text}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().unwrap().to_string()
}

both_dbs!(
    a_private_chat_is_paced_at_one_message_a_second,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        tg.enforce_documented_limits();
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(urgent(&hub, &format!("storm #{n}")).await);
        }
        for id in &ids {
            let status = hub.settled(id).await;
            assert_eq!(delivery(&status, "telegram")["status"], "sent", "{status}");
        }
        let msgs = tg.messages(CHIEF);
        let texts: Vec<&str> = msgs.iter().map(|m| m.text.as_str()).collect();
        let expected: Vec<String> = (0..6).map(|n| format!("storm #{n}")).collect();
        assert_eq!(texts, expected);
        assert_eq!(tg.rate_limited(), 0, "{:?}", tg.rejections());
        // 5 gaps of a second: not 20/min (15 s), not faster than Telegram allows.
        let span = msgs[5].sent_at - msgs[0].sent_at;
        assert!(
            span >= Duration::from_millis(4900) && span < Duration::from_millis(6500),
            "{span:?}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    a_private_chat_is_not_held_to_the_group_rate,
    |db: &TestDb| async move {
        // Rates scaled up (10/s private) to keep the test short, with the
        // group limit at Telegram's 20/min: 25 messages to a person must
        // not wait for a minute to pass after the 20th (teloxide's
        // Throttle applied the group limit to private chats).
        let limits = "[adapters.telegram.limits]\nper_second = 30\nper_chat_per_second = 10\nper_group_per_minute = 20\n";
        let (tg, hub) = start(db, limits).await;
        let mut ids = Vec::new();
        for n in 0..25 {
            ids.push(urgent(&hub, &format!("alert #{n}")).await);
        }
        for id in &ids {
            hub.settled(id).await;
        }
        let msgs = tg.messages(CHIEF);
        assert_eq!(msgs.len(), 25);
        let span = msgs[24].sent_at - msgs[0].sent_at;
        assert!(
            span >= Duration::from_millis(2300) && span < Duration::from_secs(5),
            "{span:?}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    a_server_error_costs_the_outbox_backoff_not_ten_seconds,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        tg.fail_next("sendMessage", &[500]);
        let started = Instant::now();
        let id = urgent(&hub, "after a 500").await;
        let status = hub.settled(&id).await;
        let took = started.elapsed();
        let t = delivery(&status, "telegram");
        assert_eq!(t["status"], "sent", "{status}");
        assert_eq!(t["attempts"], 2, "{status}");
        assert_eq!(tg.calls("sendMessage").len(), 2);
        // base_backoff_ms = 20 in the tests' outbox: well under a second,
        // where teloxide-core's own sleep alone took 10 s.
        assert!(took < Duration::from_secs(3), "{took:?}");
        hub.stop().await;
    }
);

both_dbs!(
    a_command_reply_that_meets_a_429_still_arrives,
    |db: &TestDb| async move {
        let (tg, hub) = start(db, "").await;
        // Stricter than the adapter's 1/s: the reply right after a
        // notification is refused once (retry_after 1).
        tg.limit(CHIEF, 1, Duration::from_millis(1500), 1);
        let id = urgent(&hub, "first").await;
        hub.settled(&id).await;
        let cmd = tg.push_message(CHIEF, CHIEF, "/whoami");
        tg.wait_for("the reply to /whoami", 15, |t| t.messages(CHIEF).len() == 2)
            .await;
        let reply = &tg.messages(CHIEF)[1];
        assert!(reply.text.contains("chief"), "{}", reply.text);
        assert_eq!(reply.reply_to, cmd["message"]["message_id"].as_i64());
        assert_eq!(tg.rate_limited(), 1, "{:?}", tg.rejections());
        // It is recorded like any other message.
        let replies = hub
            .count("SELECT COUNT(*) FROM notifications WHERE kind = 'command.reply'")
            .await;
        assert_eq!(replies, 1);
        hub.stop().await;
    }
);

/// A free port on 127.0.0.1 for a hub whose address must be known before
/// its start returns.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_while_telegram_fails_at_start() {
    let db = TestDb::sqlite().await;
    let tg = TelegramServer::start().await;
    tg.add_chats(&[CHIEF]);
    // getMe hangs for 3 s and then fails with 500.
    tg.delay_next("getMe", Duration::from_secs(3));
    tg.fail_next("getMe", &[500]);
    let port = free_port();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{}\"\n[brief]\nenabled = false\n{}{CHIEF_TOML}\n{}",
        db.url(),
        tg.config(""),
        common::server::PEOPLE
    );
    let config = Config::from_toml(&toml).expect("test config");
    let starting = Instant::now();
    let start = tokio::spawn(hub::app::start(config, Options::default()));
    // The API answers while getMe is still held.
    let http = reqwest::Client::new();
    let mut answered = None;
    while starting.elapsed() < Duration::from_secs(2) {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            answered = Some((r.status().as_u16(), starting.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, at) = answered.expect("the API did not answer while Telegram was failing");
    assert!(status < 500 || status == 503, "healthz answered {status}");
    assert!(at < Duration::from_secs(2), "{at:?}");
    assert!(
        tg.calls("getMe").len() <= 1 && tg.messages(CHIEF).is_empty(),
        "getMe still held"
    );
    // The 500 is an outage, not a refusal: the start completes, and
    // registration goes on in the background.
    let running = start.await.unwrap().expect("the hub starts");
    tg.wait_for("getMe asked again", 10, |t| t.calls("getMe").len() >= 2)
        .await;
    running.shutdown().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_fails_the_start_naming_the_key() {
    let db = TestDb::sqlite().await;
    let tg = TelegramServer::start().await;
    let config = tg
        .config("")
        .replace(common::telegram_server::TOKEN, "999:not-the-token");
    let e = common::server::start_error(&db, &config).await;
    let shown = format!("{e:#}");
    assert!(
        shown.contains("Unauthorized") && shown.contains("adapters.telegram.token"),
        "{shown}"
    );
    db.finish().await;
}
