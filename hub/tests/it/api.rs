//! The agent API end to end: a real server, a real database (SQLite and
//! PostgreSQL), the real dispatcher and adapters.

use crate::common;
use adapters::SendError;
use common::TestDb;
use common::server::{ScriptedAdapter, TestHub, channel_statuses, delivery, make_key};
use routing::ChannelKind;
use serde_json::json;
use std::time::Duration;

both_dbs!(urgent_reaches_sse_and_console, |db: &TestDb| {
    async move {
        let mut hub = TestHub::start(db, "", vec![]).await;
        let mut feed = hub.running.as_ref().unwrap().web.subscribe();
        // The SSE endpoint itself streams the same event.
        let sse = hub
            .http
            .get(format!("{}/api/v1/events?recipient=ceo", hub.base))
            .bearer_auth(&hub.key)
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        let (status, body) = hub
            .post("/api/v1/notifications", json!({"to": "ceo", "urgency": "urgent", "title": "Prod down", "text": "db <unreachable> & co"}))
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["urgency"], "urgent");
        let line = hub.next_console().await;
        assert!(
            line.contains("to ceo: Prod down | db <unreachable> & co"),
            "{line}"
        );
        let ev = tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.recipient, "ceo");
        assert_eq!(ev.message.text, "db <unreachable> & co");
        let mut stream = sse.bytes_stream();
        use futures::StreamExt;
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&chunk);
        assert!(
            text.contains("event: message") && text.contains("Prod down"),
            "{text}"
        );
        let status = hub.settled(body["id"].as_str().unwrap()).await;
        let ds = status["deliveries"].as_array().unwrap();
        assert_eq!(ds.len(), 2);
        assert!(
            ds.iter()
                .all(|d| d["status"] == "sent" && d["platform_message_id"].is_string()),
            "{status}"
        );
        hub.stop().await;
    }
});

both_dbs!(
    info_is_held_for_the_digest_and_fyi_is_web_only,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, info) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "urgency": "info", "text": "weekly numbers"}),
            )
            .await;
        assert_eq!(s, 201);
        let info = hub.settled(info["id"].as_str().unwrap()).await;
        let channels = channel_statuses(&info);
        assert_eq!(channels, vec![("web", "sent"), ("email", "held")]);
        let (_, fyi) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "urgency": "fyi", "text": "build green"}),
            )
            .await;
        let fyi = hub.settled(fyi["id"].as_str().unwrap()).await;
        let chans: Vec<&str> = fyi["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["channel"].as_str().unwrap())
            .collect();
        assert_eq!(chans, vec!["web"]);
        hub.stop().await;
    }
);

both_dbs!(
    bad_input_is_refused_and_writes_nothing,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let url = format!("{}/api/v1/notifications", hub.base);
        let raw = |body: &'static str| {
            hub.http
                .post(&url)
                .bearer_auth(&hub.key)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let r = raw("{\"to\": \"ceo\",").await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("malformed JSON"));
        let (s, b) = hub
            .post("/api/v1/notifications", json!({"to": "ceo", "text": 5}))
            .await;
        assert_eq!(s, 422);
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with("text:"),
            "{b}"
        );
        let (s, b) = hub
            .post("/api/v1/notifications", json!({"text": "x"}))
            .await;
        assert_eq!(s, 422);
        assert!(
            b["error"]["message"].as_str().unwrap().contains("`to`"),
            "{b}"
        );
        let (s, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "text": "x", "urgency": "asap"}),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("urgency:"),
            "{b}"
        );
        let (s, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "nobody", "text": "x"}),
            )
            .await;
        assert_eq!(s, 404);
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("\"nobody\"")
        );
        let (s, b) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "nowhere", "text": "x"}),
            )
            .await;
        assert_eq!(s, 404);
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("\"nowhere\"")
        );
        let r = hub
            .http
            .post(&url)
            .json(&json!({"to": "ceo", "text": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let (s, _) = hub
            .post_with(
                "/api/v1/notifications",
                "ork_dead_beef",
                json!({"to": "ceo", "text": "x"}),
                None,
            )
            .await;
        assert_eq!(s, 401);
        let narrow = make_key(hub.store(), &["costs:write"]).await;
        let (s, b) = hub
            .post_with(
                "/api/v1/notifications",
                &narrow,
                json!({"to": "ceo", "text": "x"}),
                None,
            )
            .await;
        assert_eq!(s, 403);
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("notifications:write")
        );
        let big = "x".repeat(70_000);
        let (s, _) = hub
            .post("/api/v1/notifications", json!({"to": "ceo", "text": big}))
            .await;
        assert_eq!(s, 413);
        // A NUL in any string is refused (PostgreSQL text cannot hold one,
        // and it would fail the whole batch it was committed with); and so
        // is a body that is not JSON.
        let (s, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "text": "bad \u{0}"}),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains("NUL"),
            "{b}"
        );
        let r = hub
            .http
            .post(&url)
            .bearer_auth(&hub.key)
            .header("content-type", "text/plain")
            .body(r#"{"to": "ceo", "text": "x"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        assert_eq!(hub.store().notification_count().await.unwrap(), 0);
        // The text "\u0000" (a backslash, then u0000) is just text.
        let (s, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "urgency": "fyi", "text": "literally \\u0000"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        hub.stop().await;
    }
);

both_dbs!(
    idempotency_key_returns_the_first_answer,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let body = json!({"to": "ceo", "urgency": "fyi", "text": "once"});
        let (s1, a) = hub
            .post_with("/api/v1/notifications", &hub.key, body.clone(), Some("k-1"))
            .await;
        let (s2, b) = hub
            .post_with("/api/v1/notifications", &hub.key, body.clone(), Some("k-1"))
            .await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(a["id"], b["id"]);
        // Concurrent retries of the same key still make one notification.
        let (r1, r2) = tokio::join!(
            hub.post_with("/api/v1/notifications", &hub.key, body.clone(), Some("k-2")),
            hub.post_with("/api/v1/notifications", &hub.key, body.clone(), Some("k-2"))
        );
        assert_eq!(r1.1["id"], r2.1["id"]);
        let (s, e) = hub
            .post_with(
                "/api/v1/notifications",
                &hub.key,
                json!({"to": "ceo", "text": "other"}),
                Some("k-1"),
            )
            .await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(hub.store().notification_count().await.unwrap(), 2);
        hub.stop().await;
    }
);

both_dbs!(
    repeats_within_the_dedupe_window_are_suppressed,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let n =
            json!({"to": "ceo", "urgency": "urgent", "text": "disk full", "dedupe_key": "disk"});
        let (_, first) = hub.post("/api/v1/notifications", n.clone()).await;
        let (_, second) = hub.post("/api/v1/notifications", n.clone()).await;
        let (_, other) = hub.post("/api/v1/notifications", json!({"to": "dana", "urgency": "urgent", "text": "disk full", "dedupe_key": "disk"})).await;
        assert_eq!(first["duplicate"], false);
        assert_eq!(second["duplicate"], true);
        assert_eq!(second["deliveries"].as_array().unwrap().len(), 0);
        assert_eq!(other["duplicate"], false, "another person is not a repeat");
        hub.stop().await;
    }
);

both_dbs!(
    transient_failures_are_retried_in_order_honouring_retry_after,
    |db: &TestDb| async move {
        let tg = ScriptedAdapter::new(
            ChannelKind::Telegram,
            vec![Err(SendError::Transient {
                reason: "429".into(),
                retry_after: Some(Duration::from_millis(300)),
            })],
        );
        let hub = TestHub::start(db, "", vec![tg.clone()]).await;
        let started = std::time::Instant::now();
        let mut ids = vec![];
        for i in 0..5 {
            let (s, b) = hub
                .post(
                    "/api/v1/notifications",
                    json!({"to": "dana", "urgency": "urgent", "text": format!("m{i}")}),
                )
                .await;
            assert_eq!(s, 201);
            ids.push(b["id"].as_str().unwrap().to_string());
        }
        for id in &ids {
            hub.settled(id).await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "retry_after was not honoured"
        );
        assert_eq!(
            tg.delivered(),
            vec!["m0", "m1", "m2", "m3", "m4"],
            "every message, in order"
        );
        let first = hub.settled(&ids[0]).await;
        let tgd = delivery(&first, "telegram");
        assert_eq!(
            (tgd["status"].as_str(), tgd["attempts"].as_i64()),
            (Some("sent"), Some(2))
        );
        hub.stop().await;
    }
);

both_dbs!(
    permanent_failure_falls_back_to_the_next_channel,
    |db: &TestDb| async move {
        let tg = ScriptedAdapter::new(
            ChannelKind::Telegram,
            vec![Err(SendError::permanent(
                "403 Forbidden: bot was blocked by the user",
            ))],
        );
        let mut hub = TestHub::start(db, "", vec![tg.clone()]).await;
        let (_, b) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "dana", "urgency": "urgent", "text": "are you there"}),
            )
            .await;
        let line = hub.next_console().await;
        assert!(line.contains("to dana: are you there"), "{line}");
        let st = hub.settled(b["id"].as_str().unwrap()).await;
        let ds = st["deliveries"].as_array().unwrap();
        let tgd = delivery(&st, "telegram");
        assert_eq!(tgd["status"], "dead");
        assert!(tgd["last_error"].as_str().unwrap().contains("blocked"));
        assert!(
            ds.iter()
                .any(|d| d["channel"] == "console" && d["status"] == "sent")
        );
        hub.stop().await;
    }
);

both_dbs!(
    out_of_attempts_is_dead_then_falls_back,
    |db: &TestDb| async move {
        let fail = || Err(SendError::transient("connection reset"));
        let tg = ScriptedAdapter::new(ChannelKind::Telegram, vec![fail(), fail(), fail()]);
        let hub = TestHub::start(db, "", vec![tg.clone()]).await;
        let st = hub.urgent_settled("dana", "x").await;
        let ds = st["deliveries"].as_array().unwrap();
        let tgd = delivery(&st, "telegram");
        assert_eq!(
            (tgd["status"].as_str(), tgd["attempts"].as_i64()),
            (Some("dead"), Some(3))
        );
        assert!(
            tgd["last_error"]
                .as_str()
                .unwrap()
                .contains("gave up after 3 attempts")
        );
        assert!(
            ds.iter()
                .any(|d| d["channel"] == "console" && d["status"] == "sent")
        );
        hub.stop().await;
    }
);

both_dbs!(
    messages_costs_heartbeats_and_metrics,
    |db: &TestDb| async move {
        let mut hub = TestHub::start(db, "", vec![]).await;
        let (s, _) = hub
            .post(
                "/api/v1/messages",
                json!({"channel": "eng", "text": "standup in 5"}),
            )
            .await;
        assert_eq!(s, 201);
        assert!(hub.next_console().await.contains("to #eng: standup in 5"));
        let (s, c) = hub.post("/api/v1/costs", json!({"model": "gpt-x", "tokens_in": 10, "tokens_out": 5, "usd": 0.25, "project": "website"})).await;
        assert_eq!(s, 201, "{c}");
        let (s, _) = hub
            .post("/api/v1/costs", json!({"model": "gpt-x", "usd": -1}))
            .await;
        assert_eq!(s, 422);
        let (s, _) = hub
            .post(
                "/api/v1/heartbeat",
                json!({"status": "idle", "note": "waiting"}),
            )
            .await;
        assert_eq!(s, 200);
        let hb = hub
            .store()
            .last_heartbeat("builder")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hb.1, "idle");
        let m = hub.metrics().await;
        assert!(m.contains("orkhub_http_requests_total"), "{m}");
        assert!(m.contains("orkhub_deliveries_total"), "{m}");
        // The live feed, published at commit, is counted like any send.
        assert!(
            m.lines().any(|l| l.starts_with("orkhub_deliveries_total")
                && l.contains("adapter=\"web\"")
                && l.contains("outcome=\"sent\"")),
            "{m}"
        );
        assert!(m.contains("orkhub_outbox_depth"), "{m}");
        let h = hub
            .http
            .get(format!("{}/healthz", hub.base))
            .send()
            .await
            .unwrap();
        assert_eq!(h.status(), 200);
        hub.stop().await;
    }
);

both_dbs!(
    info_for_someone_without_an_email_is_held_on_a_push_channel,
    |db: &TestDb| async move {
        // dana has no email and the default digest channel (email): her
        // info items are held for a digest on her first push channel that
        // has an address (telegram), not dropped to web-only.
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, info) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "dana", "urgency": "info", "text": "weekly numbers"}),
            )
            .await;
        assert_eq!(s, 201, "{info}");
        let channels = channel_statuses(&info);
        assert_eq!(channels, [("web", "sent"), ("telegram", "held")], "{info}");
        let (address,): (String,) = sqlx::query_as(
            "SELECT address FROM deliveries WHERE status = 'held' AND person_id = 'dana'",
        )
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(address, "555");
        hub.stop().await;
    }
);

both_dbs!(
    a_cost_on_an_unknown_task_is_refused,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, e) = hub
            .post(
                "/api/v1/costs",
                json!({"model": "gpt-x", "usd": 0.5, "task_id": 4242}),
            )
            .await;
        assert_eq!(s, 404, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains("task_id") && msg.contains("4242"), "{msg}");
        let n = hub.count("SELECT COUNT(*) FROM costs").await;
        assert_eq!(n, 0, "nothing written");
        let (_, t) = hub.post("/api/v1/tasks", json!({"title": "Train"})).await;
        let (s, c) = hub
            .post(
                "/api/v1/costs",
                json!({"model": "gpt-x", "usd": 0.5, "task_id": t["id"]}),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        hub.stop().await;
    }
);

/// Block every write to the notifications table until the connection is
/// dropped (SQLite: the database's write lock; PostgreSQL: a table lock).
async fn block_notification_writes(db: &TestDb) -> sqlx::AnyConnection {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&db.url()).await.unwrap();
    let statements: &[&str] = match db {
        TestDb::Sqlite { .. } => &["BEGIN IMMEDIATE"],
        TestDb::Postgres { .. } => &["BEGIN", "LOCK TABLE notifications IN EXCLUSIVE MODE"],
    };
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn
}

both_dbs!(
    a_full_ingest_queue_answers_503_with_retry_after,
    |db: &TestDb| async move {
        // One request in the writer (stuck on the lock), one waiting: the
        // rest are refused at once instead of waiting for room.
        let hub = TestHub::start(db, "[ingest]\nqueue = 1\nmax_batch = 1\n", vec![]).await;
        let lock = block_notification_writes(db).await;
        let url = format!("{}/api/v1/notifications", hub.base);
        let requests: Vec<_> = (0..8)
            .map(|i| {
                let req = hub
                    .http
                    .post(&url)
                    .bearer_auth(&hub.key)
                    .json(&json!({"to": "ceo", "urgency": "fyi", "text": format!("n{i}")}))
                    .send();
                tokio::spawn(async move {
                    let res = req.await.unwrap();
                    let status = res.status().as_u16();
                    let retry = res
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string());
                    let body: serde_json::Value = res.json().await.unwrap();
                    (status, retry, body)
                })
            })
            .collect();
        // The refusals come while the writer is still stuck.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let finished = requests.iter().filter(|r| r.is_finished()).count();
        assert!(
            finished >= 6,
            "only {finished} of 8 answered while the queue was full"
        );
        drop(lock);
        let mut accepted = 0;
        let mut refused = 0;
        for r in requests {
            let (status, retry, body) = r.await.unwrap();
            match status {
                201 => accepted += 1,
                503 => {
                    refused += 1;
                    assert_eq!(retry.as_deref(), Some("1"), "{body}");
                    assert_eq!(body["error"]["code"], "busy", "{body}");
                    assert!(
                        body["error"]["message"]
                            .as_str()
                            .unwrap()
                            .contains("ingest.queue"),
                        "{body}"
                    );
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(refused >= 6, "{refused} refused");
        assert_eq!(accepted + refused, 8);
        assert_eq!(
            hub.store().notification_count().await.unwrap(),
            accepted as i64,
            "every accepted request is stored, no refused one is"
        );
        // Both show on /metrics.
        let metrics = hub.metrics().await;
        assert!(
            metrics.contains("orkhub_ingest_refused_total{reason=\"queue_full\"}"),
            "{metrics}"
        );
        assert!(metrics.contains("orkhub_ingest_queue_depth"), "{metrics}");
        hub.stop().await;
    }
);

/// Read SSE events (id, event name, data) from a stream until `n` arrived.
async fn sse_events<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buf: &mut String,
    n: usize,
) -> Vec<(String, String, serde_json::Value)> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while out.len() < n {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !event.is_empty() {
                out.push((id, event, serde_json::from_str(&data).unwrap_or_default()));
            }
        }
        if out.len() >= n {
            break;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} feed events arrived", out.len()))
            .expect("stream open")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    out
}

both_dbs!(
    the_feed_resumes_after_the_last_event_id,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let connect = |last: Option<String>| {
            let mut req = hub
                .http
                .get(format!("{}/api/v1/events?recipient=ceo", hub.base))
                .bearer_auth(&hub.key);
            if let Some(id) = last {
                req = req.header("Last-Event-ID", id);
            }
            req.send()
        };
        let fyi = |text: &str, to: &str| {
            hub.post(
                "/api/v1/notifications",
                json!({"to": to, "urgency": "fyi", "text": text}),
            )
        };
        let first = connect(None).await.unwrap();
        assert_eq!(first.status(), 200);
        let (mut stream, mut buf) = (first.bytes_stream(), String::new());
        fyi("one", "ceo").await;
        let seen = sse_events(&mut stream, &mut buf, 1).await;
        assert_eq!(seen[0].2["message"]["text"], "one");
        let last_id = seen[0].0.clone();
        drop(stream);

        // While the viewer is away (past the replay's slack, so "one" is
        // not replayed because of it either): two for ceo, one for dana.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        fyi("two", "ceo").await;
        fyi("for dana", "dana").await;
        fyi("three", "ceo").await;

        let back = connect(Some(last_id)).await.unwrap();
        assert_eq!(back.status(), 200);
        let (mut stream, mut buf) = (back.bytes_stream(), String::new());
        let replayed = sse_events(&mut stream, &mut buf, 2).await;
        let texts: Vec<&str> = replayed
            .iter()
            .map(|e| e.2["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["two", "three"], "{replayed:?}");
        assert!(replayed.iter().all(|e| e.1 == "message"));
        // Then the live feed, each event once.
        fyi("four", "ceo").await;
        let live = sse_events(&mut stream, &mut buf, 1).await;
        assert_eq!(live[0].2["message"]["text"], "four", "{live:?}");

        // Resuming from a replayed event's id continues after it.
        let back = connect(Some(replayed[1].0.clone())).await.unwrap();
        let (mut stream, mut buf) = (back.bytes_stream(), String::new());
        let rest = sse_events(&mut stream, &mut buf, 1).await;
        assert_ne!(rest[0].2["message"]["text"], "three", "{rest:?}");

        // An id this feed never sent is refused, naming the header.
        let bad = connect(Some("yesterday".into())).await.unwrap();
        assert_eq!(bad.status(), 400);
        let e: serde_json::Value = bad.json().await.unwrap();
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Last-Event-ID"),
            "{e}"
        );
        hub.stop().await;
    }
);
