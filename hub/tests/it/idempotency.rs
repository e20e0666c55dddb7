//! Idempotency-Key on the POSTs that do not go through ingest: costs, tasks,
//! decisions. A retry returns the first answer and does nothing again.

use crate::common;
use common::TestDb;
use common::server::TestHub;
use serde_json::json;

both_dbs!(a_retried_cost_is_recorded_once, |db: &TestDb| async move {
    let hub = TestHub::start(db, "", vec![]).await;
    let cost = json!({"model": "gpt-x", "tokens_in": 10, "tokens_out": 5, "usd": 0.25});
    let (s1, first) = hub
        .post_with("/api/v1/costs", &hub.key, cost.clone(), Some("cost-1"))
        .await;
    assert_eq!(s1, 201, "{first}");
    let res = hub
        .http
        .post(format!("{}/api/v1/costs", hub.base))
        .bearer_auth(&hub.key)
        .header("Idempotency-Key", "cost-1")
        .json(&cost)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(again, first, "the first answer, replayed");
    assert_eq!(hub.count("SELECT COUNT(*) FROM costs").await, 1);

    // Without the key, a second post is a second cost.
    let (s, _) = hub.post("/api/v1/costs", cost.clone()).await;
    assert_eq!(s, 201);
    assert_eq!(hub.count("SELECT COUNT(*) FROM costs").await, 2);

    // The same key for a different request is refused, and writes nothing.
    let (s, e) = hub
        .post_with(
            "/api/v1/costs",
            &hub.key,
            json!({"model": "gpt-x", "usd": 9.0}),
            Some("cost-1"),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["code"], "idempotency_key_reused");
    assert_eq!(hub.count("SELECT COUNT(*) FROM costs").await, 2);
    hub.stop().await;
});

both_dbs!(
    concurrent_retries_of_a_task_create_make_one_task,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let body = json!({"title": "Ship the login page"});
        let posts =
            (0..8).map(|_| hub.post_with("/api/v1/tasks", &hub.key, body.clone(), Some("task-7")));
        let answers = futures::future::join_all(posts).await;
        let created: Vec<&serde_json::Value> = answers
            .iter()
            .filter(|(s, _)| *s == 201)
            .map(|(_, b)| b)
            .collect();
        assert!(!created.is_empty(), "{answers:?}");
        assert!(
            answers.iter().all(|(s, _)| *s == 201 || *s == 409),
            "a retry either replays or is told to wait: {answers:?}"
        );
        assert!(
            created.iter().all(|b| b["id"] == created[0]["id"]),
            "{answers:?}"
        );
        assert_eq!(hub.count("SELECT COUNT(*) FROM tasks").await, 1);
        // Once answered, a retry replays.
        let (s, again) = hub
            .post_with("/api/v1/tasks", &hub.key, body, Some("task-7"))
            .await;
        assert_eq!(s, 201);
        assert_eq!(again["id"], created[0]["id"]);
        hub.stop().await;
    }
);

both_dbs!(
    a_request_refused_before_auth_reserves_nothing,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, _) = hub
            .post_with(
                "/api/v1/tasks",
                "ork_nobody_secret",
                json!({"title": "x"}),
                Some("k1"),
            )
            .await;
        assert_eq!(s, 401);
        assert_eq!(hub.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
        // A client error is an answer too: the retry gets the same 422.
        let (s, e1) = hub
            .post_with("/api/v1/tasks", &hub.key, json!({"title": ""}), Some("k2"))
            .await;
        assert_eq!(s, 422, "{e1}");
        let (s, e2) = hub
            .post_with("/api/v1/tasks", &hub.key, json!({"title": ""}), Some("k2"))
            .await;
        assert_eq!(s, 422);
        assert_eq!(e1, e2);
        assert_eq!(hub.count("SELECT COUNT(*) FROM tasks").await, 0);
        hub.stop().await;
    }
);

both_dbs!(old_answers_are_pruned, |db: &TestDb| {
    let store = db.store().clone();
    async move {
        // Keys as both paths store them: reserved by the API layer, and
        // written by ingest with its commit.
        for k in ["old-1", "old-2", "old-3", "new-1"] {
            store.reserve_idempotent("builder", k, "h").await.unwrap();
            store
                .finish_idempotent("builder", k, 201, "{}")
                .await
                .unwrap();
        }
        let ingest = hub::store::IdempotencyRecord {
            agent_id: "builder".into(),
            key: "new-2".into(),
            request_hash: "h".into(),
            status_code: 201,
            response_body: "{}".into(),
        };
        store.insert_batch(&[], &[], &[ingest]).await.unwrap();
        let now = hub::store::now_ms();
        let day = 24 * 60 * 60 * 1000;
        sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE key LIKE 'old-%'")
            .bind(now - day - 1_000)
            .execute(store.pool())
            .await
            .unwrap();
        // In batches of 2: the loop goes on until nothing older is left.
        let deleted = store.prune_idempotency_keys(now - day, 2).await.unwrap();
        assert_eq!(deleted, 3);
        assert_eq!(store.idempotency_key_count().await.unwrap(), 2);
        for k in ["new-1", "new-2"] {
            assert!(
                store.stored_response("builder", k).await.unwrap().is_some(),
                "{k} is kept"
            );
        }
        assert_eq!(store.prune_idempotency_keys(now - day, 2).await.unwrap(), 0);
        // A pruned key is free again.
        assert_eq!(
            store
                .reserve_idempotent("builder", "old-1", "h2")
                .await
                .unwrap(),
            hub::store::Reservation::Reserved
        );
    }
});

both_dbs!(
    the_pruning_task_runs_until_stopped,
    |db: &TestDb| async move {
        // A running hub (for its /metrics) and the task as `orkhub serve` runs it.
        let hub = TestHub::start(db, "", vec![]).await;
        let store = hub.store().clone();
        store
            .reserve_idempotent("builder", "stale", "h")
            .await
            .unwrap();
        sqlx::query("UPDATE idempotency_keys SET created_at = 0")
            .execute(store.pool())
            .await
            .unwrap();
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task = hub::ingest::prune::spawn(
            store.clone(),
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_millis(20),
            stopping,
        );
        for _ in 0..100 {
            if store.idempotency_key_count().await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(store.idempotency_key_count().await.unwrap(), 0);
        stop.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("stops when told")
            .unwrap();
        let metrics = hub.metrics().await;
        assert!(
            metrics.contains("orkhub_idempotency_keys_pruned_total"),
            "{metrics}"
        );
        hub.stop().await;
    }
);

both_dbs!(
    replayed_notifications_and_messages_say_so,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        for (path, body) in [
            (
                "/api/v1/notifications",
                json!({"to": "ceo", "urgency": "fyi", "text": "once"}),
            ),
            (
                "/api/v1/messages",
                json!({"channel": "eng", "text": "once"}),
            ),
        ] {
            let key = format!("replay-{path}");
            let send = || {
                hub.http
                    .post(format!("{}{path}", hub.base))
                    .bearer_auth(&hub.key)
                    .header("Idempotency-Key", &key)
                    .json(&body)
                    .send()
            };
            let first = send().await.unwrap();
            assert_eq!(first.status(), 201);
            assert!(
                first.headers().get("idempotent-replayed").is_none(),
                "{path}: the first answer is not a replay"
            );
            let first: serde_json::Value = first.json().await.unwrap();
            let again = send().await.unwrap();
            assert_eq!(again.status(), 201);
            assert_eq!(
                again
                    .headers()
                    .get("idempotent-replayed")
                    .map(|v| v.as_bytes()),
                Some(&b"true"[..]),
                "{path}"
            );
            assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first);
        }
        // Two at once: one does the work, the other (in the same ingest
        // batch or the next) is the replay, and says so.
        let send = || {
            hub.http
                .post(format!("{}/api/v1/notifications", hub.base))
                .bearer_auth(&hub.key)
                .header("Idempotency-Key", "together")
                .json(&json!({"to": "ceo", "urgency": "fyi", "text": "twice at once"}))
                .send()
        };
        let (a, b) = tokio::join!(send(), send());
        let replayed: Vec<bool> = [a.unwrap(), b.unwrap()]
            .iter()
            .map(|r| r.headers().contains_key("idempotent-replayed"))
            .collect();
        assert_eq!(replayed.iter().filter(|r| **r).count(), 1, "{replayed:?}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM notifications").await, 3);
        hub.stop().await;
    }
);
