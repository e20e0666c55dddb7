//! The dispatcher's scheduling: a slow or paced chat holds up only itself,
//! a platform's rate limit is waited out however long it lasts (within
//! `max_throttled_secs`), a claim is never sent on after its lease, and
//! stopping finishes the send in hand and puts the rest back.
use crate::common;
use adapters::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use commands::RichMessage;
use common::TestDb;
use common::server::{ScriptedAdapter, TestHub};
use routing::ChannelKind;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A platform that takes `delay` for every send (a paced chat, a slow API),
/// recording each message when it has gone out.
struct SlowAdapter {
    delay: Duration,
    sent: Mutex<Vec<(String, Instant)>>,
    /// The message each send was to go under, by text.
    threads: Mutex<Vec<(String, Option<String>)>>,
    started: tokio::sync::Notify,
}

impl SlowAdapter {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(SlowAdapter {
            delay,
            sent: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            started: tokio::sync::Notify::new(),
        })
    }

    fn texts(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[async_trait]
impl Adapter for SlowAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }
    async fn send(&self, to: &Destination, m: &RichMessage) -> Result<Sent, SendError> {
        self.started.notify_one();
        self.threads
            .lock()
            .unwrap()
            .push((m.text.clone(), to.thread.clone()));
        tokio::time::sleep(self.delay).await;
        let mut sent = self.sent.lock().unwrap();
        sent.push((m.text.clone(), Instant::now()));
        Ok(Sent {
            platform_message_id: Some(format!("m{}", sent.len())),
        })
    }
    async fn edit(&self, _: &Destination, _: &str, _: &RichMessage) -> Result<(), SendError> {
        Ok(())
    }
}

async fn notify(hub: &TestHub, to: &str, text: &str) -> String {
    let (status, body) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": to, "urgency": "urgent", "text": text}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The one delivery of notification `id` on `channel`.
async fn delivery(hub: &TestHub, id: &str, channel: &str) -> serde_json::Value {
    let (_, body) = hub.get(&format!("/api/v1/notifications/{id}")).await;
    body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("no {channel} delivery in {body}"))
}

both_dbs!(
    a_slow_chat_does_not_hold_up_anyone_else,
    |db: &TestDb| async move {
        // dana's messages go to a Telegram chat that takes 1.5 s a message.
        let slow = SlowAdapter::new(Duration::from_millis(1500));
        let mut hub = TestHub::start(db, "", vec![slow.clone()]).await;
        for i in 0..3 {
            notify(&hub, "dana", &format!("slow {i}")).await;
        }
        tokio::time::timeout(Duration::from_secs(5), slow.started.notified())
            .await
            .expect("the slow chat is being sent to");
        let posted = Instant::now();
        notify(&hub, "ceo", "prod is down").await;
        let line = tokio::time::timeout(Duration::from_secs(5), hub.console.recv())
            .await
            .unwrap()
            .unwrap();
        let waited = posted.elapsed();
        assert!(line.contains("prod is down"), "{line}");
        assert!(
            waited < Duration::from_millis(1000),
            "the CEO's urgent message waited {waited:?} behind another chat's sends"
        );
        assert!(
            slow.texts().len() < 3,
            "it went out while the slow chat was still busy"
        );
        // The slow chat still gets everything, in order.
        for _ in 0..100 {
            if slow.texts().len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(slow.texts(), vec!["slow 0", "slow 1", "slow 2"]);
        hub.stop().await;
    }
);

both_dbs!(
    a_rate_limit_is_waited_out_beyond_max_attempts,
    |db: &TestDb| async move {
        // The test hub allows 3 attempts; the platform answers 429 five times.
        let limited = || {
            Err(SendError::Transient {
                reason: "429 Too Many Requests".into(),
                retry_after: Some(Duration::from_millis(30)),
            })
        };
        let tg = ScriptedAdapter::new(ChannelKind::Telegram, (0..5).map(|_| limited()).collect());
        let hub = TestHub::start(db, "", vec![tg.clone()]).await;
        let id = notify(&hub, "dana", "after the rate limit").await;
        hub.settled(&id).await;
        let d = delivery(&hub, &id, "telegram").await;
        assert_eq!(d["status"], "sent", "{d}");
        assert_eq!(d["attempts"], 6, "five 429s and the send: {d}");
        assert_eq!(tg.delivered(), vec!["after the rate limit"]);
        hub.stop().await;
    }
);

both_dbs!(
    a_rate_limit_that_never_ends_is_dead_after_max_throttled_secs,
    |db: &TestDb| async move {
        let limited = || {
            Err(SendError::Transient {
                reason: "429 Too Many Requests".into(),
                retry_after: Some(Duration::from_millis(100)),
            })
        };
        let tg = ScriptedAdapter::new(ChannelKind::Telegram, (0..100).map(|_| limited()).collect());
        let hub = TestHub::start(db, "[outbox]\nmax_throttled_secs = 1\n", vec![tg.clone()]).await;
        let id = notify(&hub, "dana", "never gets through").await;
        hub.settled(&id).await;
        let d = delivery(&hub, &id, "telegram").await;
        assert_eq!(d["status"], "dead", "{d}");
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .contains("still rate limited"),
            "{d}"
        );
        // Its next channel (console) got it instead.
        let console = delivery(&hub, &id, "console").await;
        assert_eq!(console["status"], "sent");
        hub.stop().await;
    }
);

both_dbs!(
    a_claim_is_not_sent_on_after_its_lease,
    |db: &TestDb| async move {
        // A 2 s lease and 300 ms a message: one claim of eight messages
        // cannot all go out before the lease runs low; the rest are put
        // back and claimed again, and each goes out once, in order.
        let slow = SlowAdapter::new(Duration::from_millis(300));
        let hub = TestHub::start(db, "[outbox]\nlease_secs = 2\n", vec![slow.clone()]).await;
        let mut ids = Vec::new();
        for i in 0..8 {
            ids.push(notify(&hub, "dana", &format!("m{i}")).await);
        }
        for id in &ids {
            hub.settled(id).await;
        }
        let expected: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
        assert_eq!(slow.texts(), expected, "each once, in order");
        for id in &ids {
            let d = delivery(&hub, id, "telegram").await;
            assert_eq!(
                (d["status"].as_str(), d["attempts"].as_i64()),
                (Some("sent"), Some(1)),
                "{d}"
            );
        }
        hub.stop().await;
    }
);

both_dbs!(
    stopping_finishes_the_send_in_hand_and_puts_the_rest_back,
    |db: &TestDb| async move {
        let slow = SlowAdapter::new(Duration::from_millis(800));
        let hub = TestHub::start(db, "", vec![slow.clone()]).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(notify(&hub, "dana", &format!("m{i}")).await);
        }
        tokio::time::timeout(Duration::from_secs(5), slow.started.notified())
            .await
            .expect("the first send started");
        let store = hub.store().clone();
        hub.stop().await;
        // The send in hand finished and is recorded; the others were never
        // tried and wait, untouched, for the next start.
        assert_eq!(slow.texts(), vec!["m0"]);
        let reopened = hub::store::Store::open(&db.url(), 2).await.unwrap();
        let mut states = Vec::new();
        for id in &ids {
            let (_, deliveries) = reopened.notification(id).await.unwrap().unwrap();
            let tg = deliveries
                .into_iter()
                .find(|d| d.channel == "telegram")
                .unwrap();
            states.push((tg.status, tg.attempts));
        }
        assert_eq!(
            states,
            vec![
                ("sent".into(), 1),
                ("pending".into(), 0),
                ("pending".into(), 0)
            ]
        );
        drop(store);
        reopened.close().await;
    }
);

both_dbs!(
    a_reply_claimed_with_the_message_it_answers_goes_under_it,
    |db: &TestDb| async move {
        let slow = SlowAdapter::new(Duration::from_millis(500));
        let hub = TestHub::start(db, "", vec![slow.clone()]).await;
        // While the chat is busy with m0, the question and its follow-up
        // queue up behind it and are then claimed together.
        notify(&hub, "dana", "m0").await;
        tokio::time::timeout(Duration::from_secs(5), slow.started.notified())
            .await
            .expect("m0 is being sent");
        let question = notify(&hub, "dana", "question").await;
        let (status, body) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "dana", "urgency": "urgent", "text": "follow-up", "reply_to": question}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        hub.settled(body["id"].as_str().unwrap()).await;
        let question_message = delivery(&hub, &question, "telegram").await["platform_message_id"]
            .as_str()
            .unwrap()
            .to_string();
        let threads = slow.threads.lock().unwrap().clone();
        assert_eq!(
            threads,
            vec![
                ("m0".to_string(), None),
                ("question".to_string(), None),
                ("follow-up".to_string(), Some(question_message)),
            ]
        );
        hub.stop().await;
    }
);
