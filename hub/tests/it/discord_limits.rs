//! Discord's real limits: a channel's messages paced at its bucket (5 per
//! 5 s, refilled at once) against a stand-in that enforces it, and a 429's
//! stated wait honoured exactly — not retried early, and not held to a
//! fixed guess.

use crate::common;
use common::TestDb;
use common::discord_server::DiscordServer;
use common::server::{TestHub, delivery};
use serde_json::json;
use std::time::Duration;

const OPS: u64 = 820_000_000_000_000_001;

const CHANNEL_TOML: &str = r#"
[[channels]]
id = "ops"
bindings = { discord = "820000000000000001" }
"#;

async fn start(db: &TestDb) -> (DiscordServer, TestHub) {
    let server = DiscordServer::start(&[OPS]).await;
    let hub = TestHub::start(db, &format!("{}{CHANNEL_TOML}", server.config("")), vec![]).await;
    (server, hub)
}

/// [`TestHub::settled`] for deliveries that wait on pacing longer than its
/// 5 s.
async fn settled_within(hub: &TestHub, id: &str, limit: Duration) -> serde_json::Value {
    let until = std::time::Instant::now() + limit;
    loop {
        let (_, body) = hub.get(&format!("/api/v1/notifications/{id}")).await;
        let busy = body["deliveries"].as_array().is_some_and(|ds| {
            ds.iter()
                .any(|d| d["status"] == "pending" || d["status"] == "sending")
        });
        if !busy {
            return body;
        }
        assert!(
            std::time::Instant::now() < until,
            "{id} did not settle: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn to_ops(hub: &TestHub, text: &str) -> String {
    let (s, b) = hub
        .post("/api/v1/messages", json!({"channel": "ops", "text": text}))
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().unwrap().to_string()
}

both_dbs!(
    a_channel_is_paced_at_its_bucket_without_429s,
    |db: &TestDb| async move {
        let (server, hub) = start(db).await;
        server.enforce_documented_limits();
        let mut ids = Vec::new();
        for n in 0..7 {
            ids.push(to_ops(&hub, &format!("deploy step {n}")).await);
        }
        for id in &ids {
            let status = settled_within(&hub, id, Duration::from_secs(15)).await;
            assert_eq!(delivery(&status, "discord")["status"], "sent", "{status}");
        }
        let posted = server.messages(OPS);
        let texts: Vec<String> = posted.iter().map(|p| p.content.clone()).collect();
        let expected: Vec<String> = (0..7).map(|n| format!("deploy step {n}")).collect();
        assert_eq!(texts, expected);
        assert_eq!(server.rate_limited(), 0, "{:?}", server.rejections());
        // Five at once, the sixth when the bucket refills (5 s): not one a
        // second after the first five (which Discord answers with 429s).
        let gap = posted[5].at - posted[4].at;
        assert!(gap >= Duration::from_millis(4500), "{gap:?}");
        let burst = posted[4].at - posted[0].at;
        assert!(burst < Duration::from_millis(1500), "{burst:?}");
        hub.stop().await;
    }
);

both_dbs!(
    a_long_retry_after_is_honoured_exactly,
    |db: &TestDb| async move {
        let (server, hub) = start(db).await;
        // One message per 3 s, then 429 {"retry_after": 3.0} without a
        // `code` (serenity could not read it).
        server.limit(OPS, 1, Duration::from_secs(3), 3.0);
        let first = to_ops(&hub, "first").await;
        hub.settled(&first).await;
        let second = to_ops(&hub, "second").await;
        let status = settled_within(&hub, &second, Duration::from_secs(10)).await;
        assert_eq!(delivery(&status, "discord")["status"], "sent", "{status}");
        let rejections = server.rejections();
        assert_eq!(rejections.len(), 1, "not retried early: {rejections:?}");
        let posted = server.messages(OPS);
        assert_eq!(posted.len(), 2);
        let waited = posted[1].at - rejections[0].at;
        // Exactly the stated 3 s (plus the outbox's poll), not a fixed 5 s.
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_millis(4000),
            "{waited:?}"
        );
        hub.stop().await;
    }
);
