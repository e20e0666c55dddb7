//! Outbound webhooks end to end: a real hub, a real HTTP receiver on
//! 127.0.0.1, real databases. Signatures, retries and dead, 410, order per
//! endpoint, the timeout, redirects, the SSRF check, the API, and two
//! instances on one PostgreSQL sending each event once.

use crate::common;
use common::TestDb;
use common::receiver::{Receiver, Reply};
use common::server::TestHub;
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "test-webhook-secret";
const SECRET_ENV: &str = "ORKHUB_TEST_WEBHOOK_SECRET";

/// The secret's variable, set once per test process before any hub reads it.
fn secret_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, to the same value, before the first hub of this
    // process starts; nothing else writes this variable.
    ONCE.call_once(|| unsafe { std::env::set_var(SECRET_ENV, SECRET) });
}

/// `[[webhooks]]` to `url`, with fast retries, and the sender polling often.
fn hook(id: &str, url: &str, events: &[&str], max_attempts: u32) -> String {
    secret_env();
    format!(
        "[[webhooks]]\nid = \"{id}\"\nurl = \"{url}\"\nevents = {}\nsecret_env = \"{SECRET_ENV}\"\nmax_attempts = {max_attempts}\nbase_backoff_ms = 20\nmax_backoff_ms = 100\n",
        serde_json::to_string(events).unwrap()
    )
}

const SENDER: &str = "[webhook_sender]\npoll_interval_ms = 20\ntimeout_secs = 1\nlease_secs = 5\n";

async fn new_task(hub: &TestHub, title: &str) -> i64 {
    let (status, t) = hub.post("/api/v1/tasks", json!({"title": title})).await;
    assert_eq!(status, 201, "{t}");
    t["id"].as_i64().unwrap()
}

/// Poll a webhook's delivery log until `done` holds for it.
async fn log_until(
    hub: &TestHub,
    webhook: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = hub
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await;
        assert_eq!(status, 200, "{body}");
        let ds = body["deliveries"].as_array().unwrap().clone();
        if done(&ds) {
            return ds;
        }
        assert!(Instant::now() < deadline, "log of {webhook}: {ds:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_dbs!(
    signed_events_arrive_in_the_order_recorded,
    |db: &TestDb| async move {
        let rx = Receiver::start().await;
        let toml = format!(
            "{SENDER}{}",
            hook("ops", &rx.url("/ops"), &["task.*", "cost.recorded"], 3)
        );
        let hub = TestHub::start(db, &toml, vec![]).await;
        let a = new_task(&hub, "first").await;
        let (s, _) = hub
            .post(&format!("/api/v1/tasks/{a}/move"), json!({"to": "block"}))
            .await;
        assert_eq!(s, 200);
        let (s, _) = hub
            .post("/api/v1/costs", json!({"model": "m", "usd": 0.25}))
            .await;
        assert_eq!(s, 201);
        // Not subscribed: a notification is not sent to this webhook.
        let (s, _) = hub
            .post("/api/v1/notifications", json!({"to": "ceo", "text": "hi"}))
            .await;
        assert_eq!(s, 201);
        let calls = rx.wait_for("/ops", 3).await;
        let types: Vec<String> = calls.iter().map(|c| c.event_type()).collect();
        assert_eq!(types, ["task.created", "task.moved", "cost.recorded"]);
        let now = chrono::Utc::now().timestamp();
        for c in &calls {
            assert!(
                adapters::webhook::verify_signature(
                    SECRET.as_bytes(),
                    &c.signature,
                    c.body.as_bytes(),
                    now,
                    300
                ),
                "signature {:?} does not verify",
                c.signature
            );
            assert!(!adapters::webhook::verify_signature(
                b"another secret",
                &c.signature,
                c.body.as_bytes(),
                now,
                300
            ));
            let body = c.json();
            assert_eq!(body["id"].as_str().unwrap(), c.event_id);
            assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(calls[0].json()["data"]["task"]["id"], a);
        assert_eq!(calls[1].json()["data"]["from"], "created");
        assert_eq!(calls[1].json()["data"]["task"]["status"], "blocked");
        assert_eq!(calls[2].json()["data"]["usd"], 0.25);
        let log = log_until(&hub, "ops", |ds| {
            ds.len() == 3 && ds.iter().all(|d| d["status"] == "sent")
        })
        .await;
        assert_eq!(log[0]["event_type"], "cost.recorded", "newest first");
        assert_eq!(log[0]["last_status_code"], 200);
        hub.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_after_max_attempts() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    rx.script("/down", vec![], Reply::Status(500));
    let toml = format!(
        "{SENDER}{}",
        hook("down", &rx.url("/down"), &["task.created"], 3)
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    new_task(&hub, "never arrives").await;
    let log = log_until(&hub, "down", |ds| {
        ds.first().is_some_and(|d| d["status"] == "dead")
    })
    .await;
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 500);
    let calls = rx.calls("/down");
    assert_eq!(calls.len(), 3, "exactly max_attempts calls");
    assert!(calls.iter().all(|c| c.event_id == calls[0].event_id));
    // Backoff: the retries were spread out, not sent back to back.
    assert!(calls[2].at - calls[0].at >= Duration::from_millis(20));
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_webhook() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    rx.script("/gone", vec![], Reply::Status(410));
    let toml = format!(
        "{SENDER}{}{}",
        hook("gone", &rx.url("/gone"), &["task.created"], 3),
        hook("witness", &rx.url("/witness"), &["task.created"], 3)
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    new_task(&hub, "one").await;
    rx.wait_for("/gone", 1).await;
    log_until(&hub, "gone", |ds| {
        ds.first().is_some_and(|d| d["status"] == "dead")
    })
    .await;
    let (_, w) = hub.get("/api/v1/webhooks/gone").await;
    assert_eq!(w["status"], "gone");
    new_task(&hub, "two").await;
    // The witness got both tasks: the gone webhook was asked only once.
    rx.wait_for("/witness", 2).await;
    assert_eq!(rx.calls("/gone").len(), 1);
    // Nothing more is queued for it, and the 410 was not retried.
    let log = log_until(&hub, "gone", |_| true).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["attempts"], 1, "410 is not retried");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_at_a_time_per_endpoint_and_in_order_across_a_retry() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    rx.script(
        "/ordered",
        vec![Reply::Status(503), Reply::Status(429)],
        Reply::Status(200),
    );
    let toml = format!(
        "{SENDER}{}",
        hook("ordered", &rx.url("/ordered"), &["task.created"], 5)
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(new_task(&hub, &format!("t{i}")).await);
    }
    let calls = rx.wait_for("/ordered", 10).await;
    let task_ids: Vec<i64> = calls
        .iter()
        .map(|c| c.json()["data"]["task"]["id"].as_i64().unwrap())
        .collect();
    // The first event three times (503, 429, 200), then the rest in order:
    // the later ones waited behind it.
    let mut want = vec![ids[0], ids[0]];
    want.extend(&ids);
    assert_eq!(task_ids, want);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_is_cut_at_the_timeout_and_a_redirect_is_not_followed() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    rx.script(
        "/slow",
        vec![Reply::Slow(Duration::from_secs(4))],
        Reply::Status(200),
    );
    rx.script("/moved", vec![], Reply::Redirect(rx.url("/elsewhere")));
    let toml = format!(
        "{SENDER}{}{}",
        hook("slow", &rx.url("/slow"), &["task.created"], 3),
        hook("moved", &rx.url("/moved"), &["task.created"], 2)
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    let started = Instant::now();
    new_task(&hub, "x").await;
    let log = log_until(&hub, "slow", |ds| {
        ds.first().is_some_and(|d| d["status"] == "sent")
    })
    .await;
    // Cut after timeout_secs (1 s), retried, sent — long before the 4 s answer.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(log[0]["attempts"], 2);
    let log = log_until(&hub, "moved", |ds| {
        ds.first().is_some_and(|d| d["status"] == "dead")
    })
    .await;
    assert_eq!(log[0]["last_status_code"], 302);
    assert!(
        log[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("not followed"),
        "{log:?}"
    );
    assert_eq!(rx.calls("/moved").len(), 2);
    assert!(
        rx.calls("/elsewhere").is_empty(),
        "the redirect was followed"
    );
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_webhooks_may_not_target_the_hubs_network_unless_allowed() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    let hub = TestHub::start(&db, SENDER, vec![]).await;
    for url in [
        rx.url("/x"),
        "http://localhost:9/".into(),
        "http://169.254.169.254/latest".into(),
        "http://[::1]:9/".into(),
    ] {
        let (status, body) = hub
            .post(
                "/api/v1/webhooks",
                json!({"url": url, "events": ["task.*"]}),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allow_private_targets"),
            "{body}"
        );
    }
    let (_, list) = hub.get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]), "nothing written");
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_over_the_api_list_log_redeliver_and_delete() {
    let db = TestDb::sqlite().await;
    let rx = Receiver::start().await;
    let toml = format!(
        "{}allow_private_targets = true\n{}",
        SENDER,
        hook("declared", &rx.url("/declared"), &["agent.status"], 3)
    );
    let hub = TestHub::start(&db, &toml, vec![]).await;
    // Bad input: named, nothing written.
    for (body, names) in [
        (json!({"url": rx.url("/a"), "events": ["task"]}), "events"),
        (json!({"url": rx.url("/a"), "events": []}), "events"),
        (json!({"url": "ftp://x/", "events": ["task.*"]}), "url"),
        (
            json!({"url": rx.url("/a"), "events": ["*"], "max_attempts": 0}),
            "max_attempts",
        ),
        (
            json!({"url": rx.url("/a"), "events": ["*"], "extra": 1}),
            "extra",
        ),
    ] {
        let (status, answer) = hub.post("/api/v1/webhooks", body).await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(names),
            "{answer}"
        );
    }
    // Without the scope.
    let key = hub.key_for("builder", &["tasks:write"]).await;
    let (status, _) = hub
        .post_with(
            "/api/v1/webhooks",
            &key,
            json!({"url": rx.url("/a"), "events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(status, 403);

    let (status, created) = hub
        .post(
            "/api/v1/webhooks",
            json!({"url": rx.url("/api"), "events": ["task.created", "decision.*"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(created["source"], "api");
    assert_eq!(created["max_attempts"], 3);
    let (_, list) = hub.get("/api/v1/webhooks").await;
    let ids: Vec<&str> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        !list.to_string().contains(&secret),
        "the secret is shown once only"
    );

    new_task(&hub, "for the api hook").await;
    let first = rx.wait_for("/api", 1).await.remove(0);
    let now = chrono::Utc::now().timestamp();
    assert!(adapters::webhook::verify_signature(
        secret.as_bytes(),
        &first.signature,
        first.body.as_bytes(),
        now,
        300
    ));
    let log = log_until(&hub, &id, |ds| {
        ds.first().is_some_and(|d| d["status"] == "sent")
    })
    .await;
    let delivery = log[0]["id"].as_i64().unwrap();
    let (status, again) = hub
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["id"].as_i64().unwrap(), delivery);
    let calls = rx.wait_for("/api", 2).await;
    assert_eq!(calls[1].event_id, calls[0].event_id, "the same event again");
    assert_eq!(calls[1].body, calls[0].body);
    let (status, _) = hub
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/999999/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);

    // A heartbeat that changes the agent's status reaches the declared hook.
    let (status, _) = hub
        .post("/api/v1/heartbeat", json!({"status": "idle"}))
        .await;
    assert_eq!(status, 200);
    let hb = rx.wait_for("/declared", 1).await;
    assert_eq!(
        hb[0].json()["data"],
        json!({"agent": "builder", "status": "idle", "note": null})
    );

    let res = hub
        .http
        .delete(format!("{}/api/v1/webhooks/declared", hub.base))
        .bearer_auth(&hub.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        422,
        "a config webhook is removed in config.toml"
    );
    let res = hub
        .http
        .delete(format!("{}/api/v1/webhooks/{id}", hub.base))
        .bearer_auth(&hub.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, _) = hub.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(status, 404);
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_send_each_event_once_in_order() {
    let db = TestDb::postgres().await;
    let rx = Receiver::start().await;
    let toml = format!(
        "{SENDER}{}",
        hook("shared", &rx.url("/shared"), &["task.created"], 3)
    );
    let a = TestHub::start(&db, &toml, vec![]).await;
    let b = TestHub::start(&db, &toml, vec![]).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let hub = if i % 2 == 0 { &a } else { &b };
        ids.push(new_task(hub, &format!("t{i}")).await);
    }
    let calls = rx.wait_for("/shared", 40).await;
    // Both senders polled meanwhile; give a double a moment to show up by
    // waiting until every delivery is recorded sent.
    log_until(&a, "shared", |ds| {
        ds.len() == 40 && ds.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let calls_after = rx.calls("/shared");
    assert_eq!(
        calls_after.len(),
        40,
        "each event once: {}",
        calls_after.len()
    );
    let got: Vec<i64> = calls
        .iter()
        .map(|c| c.json()["data"]["task"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids, "in the order recorded");
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// On PostgreSQL a delivery's ID is taken when its row is made, but
/// transactions commit in their own order. Without the order lock, a
/// transaction B that starts after A but commits first gets its event
/// claimed (and sent) while A's earlier one is still uncommitted: out of
/// order. With it, B's fan-out waits for A's commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_later_transaction_waits_for_an_earlier_ones_commit() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    store
        .sync_config_webhooks(&[hub::store::NewSubscription {
            id: "o".into(),
            url: "http://192.0.2.1/".into(),
            secret: "s".into(),
            events: vec!["*".into()],
            max_attempts: 3,
            base_backoff_ms: 10,
            max_backoff_ms: 10,
            created_by: "test".into(),
        }])
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let first = hub::store::WebhookEvent::new("task.created", json!({"n": 1}), now);
    let first_id = first.id.clone();
    let mut a = store.pool().begin().await.unwrap();
    store
        .queue_webhook_events_in(&mut a, &[first])
        .await
        .unwrap();
    let later = store.clone();
    let b = tokio::spawn(async move {
        let mut tx = later.pool().begin().await?;
        let second = hub::store::WebhookEvent::new("task.created", json!({"n": 2}), now);
        later
            .queue_webhook_events_in(&mut tx, &[second])
            .await
            .unwrap();
        tx.commit().await
    });
    // B either commits (no order lock) or is seen waiting for the lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting > 0 || b.is_finished() {
            break;
        }
        assert!(Instant::now() < deadline, "B neither committed nor waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !b.is_finished(),
        "B committed while A, recorded earlier, was open"
    );
    let now = chrono::Utc::now().timestamp_millis();
    let claimed = store.claim_webhooks(now, now + 5_000, 10).await.unwrap();
    assert!(
        claimed.is_empty(),
        "nothing committed, nothing to send: {claimed:?}"
    );
    a.commit().await.unwrap();
    b.await.unwrap().unwrap();
    let claimed = store.claim_webhooks(now, now + 5_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "one in flight per webhook");
    assert_eq!(claimed[0].event_id, first_id, "A's event first");
    drop(store);
    db.finish().await;
}
