//! The API's ingest and outbound webhooks: each new notification is a
//! `notification.created` event built by the database from the stored row
//! (same fields as the API shows), a repeat is none, a webhook created
//! while the hub runs gets the next ones (SQLite remembers that none was
//! active and must forget it), and on PostgreSQL a batch takes the order
//! lock only when some webhook is active.

use crate::common;
use common::TestDb;
use common::receiver::Receiver;
use common::server::TestHub;
use serde_json::json;
use std::time::{Duration, Instant};

/// The order lock's key (store/webhooks.rs, ORDER_LOCK: "orkwhko").
const ORDER_LOCK: i64 = 0x6f726b77686b6f;

const SENDER: &str = "[webhook_sender]\npoll_interval_ms = 20\ntimeout_secs = 1\nlease_secs = 5\nallow_private_targets = true\n";

both_dbs!(
    a_webhook_created_while_running_gets_each_new_notification_as_an_event,
    |db: &TestDb| async move {
        let rx = Receiver::start().await;
        let hub = TestHub::start(db, SENDER, vec![]).await;
        // Nothing subscribed yet: accepted, no event anywhere.
        let (s, before) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "text": "before"}),
            )
            .await;
        assert_eq!(s, 201, "{before}");

        let (s, created) = hub
            .post(
                "/api/v1/webhooks",
                json!({"url": rx.url("/n"), "events": ["notification.*"]}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        let text = "line one\n\"quoted\" \\ back — ünïcode <b>";
        let (s, first) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "kind": "deploy.failed", "title": "Deploy", "text": text, "dedupe_key": "d1"}),
            )
            .await;
        assert_eq!(s, 201, "{first}");
        // A repeat of the same dedupe key: stored as a duplicate, no event.
        let (s, repeat) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "kind": "deploy.failed", "text": "again", "dedupe_key": "d1"}),
            )
            .await;
        assert_eq!(s, 201, "{repeat}");
        assert_eq!(repeat["duplicate"], true);
        let (s, last) = hub
            .post(
                "/api/v1/notifications",
                json!({"to": "ceo", "text": "last"}),
            )
            .await;
        assert_eq!(s, 201, "{last}");

        let calls = rx.wait_for("/n", 2).await;
        let ids: Vec<String> = calls
            .iter()
            .map(|c| c.json()["data"]["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids,
            [first["id"].as_str().unwrap(), last["id"].as_str().unwrap()],
            "the new notifications after the webhook, in order; not the one before, not the repeat"
        );
        let id = first["id"].as_str().unwrap();
        let (s, stored) = hub.get(&format!("/api/v1/notifications/{id}")).await;
        assert_eq!(s, 200, "{stored}");
        let n = &stored["notification"];
        let event = calls[0].json();
        assert_eq!(
            event["id"],
            format!("evt_{}", id.strip_prefix("n_").unwrap()),
            "the event's ID is the notification's"
        );
        assert_eq!(calls[0].event_id, event["id"].as_str().unwrap());
        assert_eq!(event["type"], "notification.created");
        assert_eq!(
            event["created_at"], n["created_at"],
            "the notification's time, as the API writes times"
        );
        assert_eq!(
            event["data"],
            json!({
                "id": id,
                "source": n["source"],
                "kind": "deploy.failed",
                "urgency": n["urgency"],
                "recipient": {"kind": "person", "id": "ceo"},
                "project": null,
                "title": "Deploy",
                "text": text,
            })
        );
        // Give a stray third call a moment to show up.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rx.calls("/n").len(), 2);
        hub.stop().await;
    }
);

/// With no webhook active, an ingest batch does not take the order lock:
/// it does not wait behind another transaction that holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_ingest_waits_for_no_lock_when_no_webhook_is_active() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    // Another transaction holds the order lock (as a fan-out would) ...
    let mut holder = store.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ORDER_LOCK)
        .execute(&mut *holder)
        .await
        .unwrap();
    // ... and a batch goes in meanwhile.
    let n = common::stored_notification("n_nolock".into(), "b".into());
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(5),
        store.insert_ingest_batch(&[n], &[], &[], &[]),
    )
    .await;
    assert!(
        matches!(res, Ok(Ok(()))),
        "the batch waited for the order lock with no webhook active: {res:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    holder.rollback().await.unwrap();
    assert_eq!(store.notification_count().await.unwrap(), 1);
    drop(store);
    db.finish().await;
}
