//! Decisions and tasks on the agent API, end to end on SQLite and PostgreSQL:
//! a decision goes to its approvers with Approve/Deny buttons, a resolution
//! over the API edits every delivered copy, and the task actions share the
//! chat commands' rules.

use crate::common;
use common::TestDb;
use common::server::{TestHub, make_key};
use serde_json::json;
use std::time::Duration;

/// An extra approver for `deploy` decisions, pushed on the console only.
const OPS: &str = r##"
[approvers]
"deploy" = ["ops"]

[[people]]
id = "ops"
role = "member"
push = ["console"]

[[agents]]
id = "reviewer"
"##;

async fn next_feed(
    feed: &mut tokio::sync::broadcast::Receiver<adapters::web::FeedEvent>,
) -> adapters::web::FeedEvent {
    tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("feed event within 5 s")
        .expect("feed open")
}

both_dbs!(
    decision_reaches_approvers_and_resolution_edits_every_copy,
    |db: &TestDb| async move {
        let mut hub = TestHub::start(db, OPS, vec![]).await;
        let mut feed = hub.running.as_ref().unwrap().web.subscribe();
        let (s, created) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "Ship v2 to production?", "options": ["ship", "wait"]}),
            )
            .await;
        assert_eq!(s, 201, "{created}");
        assert_eq!(created["status"], "pending");
        let id = created["id"].as_i64().unwrap();
        let notes = created["notifications"].as_array().unwrap();
        assert_eq!(
            notes.len(),
            2,
            "owner ceo and deploy approver ops: {created}"
        );
        assert!(notes.iter().all(|n| n["urgency"] == "urgent"), "{created}");

        // Each approver gets it on the web feed with Approve/Deny buttons...
        let mut recipients = Vec::new();
        for _ in 0..2 {
            let ev = next_feed(&mut feed).await;
            assert!(!ev.edited);
            assert_eq!(
                ev.message.title.as_deref(),
                Some(format!("Decision #{id}: deploy").as_str())
            );
            let labels: Vec<&str> = ev
                .message
                .buttons
                .iter()
                .map(|b| b.label.as_str())
                .collect();
            assert_eq!(labels, ["Approve", "Deny"]);
            assert!(
                ev.message
                    .buttons
                    .iter()
                    .all(|b| !b.token.is_empty() && b.token.len() <= 64)
            );
            recipients.push(ev.recipient);
        }
        recipients.sort();
        assert_eq!(recipients, ["ceo", "ops"]);
        // ... and on the console.
        // (Two chats are sent to side by side: either may come first.)
        let lines = [hub.next_console().await, hub.next_console().await];
        for who in ["ceo", "ops"] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("deliver") && l.contains(&format!("to {who}: Decision #"))),
                "{lines:?}"
            );
        }
        for n in notes {
            let st = hub.settled(n["id"].as_str().unwrap()).await;
            assert_eq!(st["notification"]["kind"], "decision.requested", "{st}");
        }
        let (with_id,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE decision_id = $1")
                .bind(id)
                .fetch_one(hub.store().pool())
                .await
                .unwrap();
        assert_eq!(with_id, 2);

        let (s, shown) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(s, 200, "{shown}");
        assert_eq!(shown["status"], "pending");
        assert_eq!(shown["requested_by"], "agent:builder");
        assert!(shown["decided_by"].is_null());

        // The requesting agent can't answer its own request.
        let (s, own) = hub
            .post(
                &format!("/api/v1/decisions/{id}/resolve"),
                json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(s, 403, "{own}");
        let reviewer = hub.key_for("reviewer", &["decisions:resolve"]).await;
        let (s, resolved) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &reviewer,
                json!({"outcome": "approve", "reasoning": "tests are green"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{resolved}");
        assert_eq!(resolved["status"], "approved");
        assert_eq!(resolved["decided_by"], "agent:reviewer");
        assert_eq!(
            resolved["edits"], 4,
            "web and console for each approver: {resolved}"
        );

        // Every delivered copy is edited to show the outcome, without buttons.
        let mut edited = Vec::new();
        for _ in 0..2 {
            let ev = next_feed(&mut feed).await;
            assert!(ev.edited, "{ev:?}");
            assert!(ev.message.buttons.is_empty());
            let footer = ev.message.footer.clone().unwrap_or_default();
            assert!(
                footer.starts_with("Approved by agent:reviewer at "),
                "{footer}"
            );
            assert!(footer.ends_with(": tests are green"), "{footer}");
            edited.push(ev.recipient);
        }
        edited.sort();
        assert_eq!(edited, ["ceo", "ops"]);
        for _ in 0..2 {
            let line = hub.next_console().await;
            assert!(
                line.contains("[console] edit #") && line.contains("Approved by agent:reviewer"),
                "{line}"
            );
        }
        let mut sent = 0;
        for _ in 0..200 {
            sent = hub.count("SELECT COUNT(*) FROM deliveries WHERE op = 'edit' AND status = 'sent' AND target_message_id IS NOT NULL").await;
            if sent == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(sent, 4);
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM notifications WHERE kind = 'decision.resolved'")
                .await,
            2
        );

        // A second resolution is refused and changes nothing.
        let (s, again) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &reviewer,
                json!({"outcome": "deny", "reasoning": "no"}),
                None,
            )
            .await;
        assert_eq!(s, 409, "{again}");
        assert!(
            again["error"]["message"]
                .as_str()
                .unwrap()
                .contains("agent:reviewer"),
            "{again}"
        );
        let (_, after) = hub.get(&format!("/api/v1/decisions/{id}")).await;
        assert_eq!(after["status"], "approved");
        assert_eq!(after["reasoning"], "tests are green");
        assert_eq!(after["decided_at"], resolved["decided_at"]);
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM deliveries WHERE op = 'edit'")
                .await,
            4,
            "no second round of edits"
        );
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM audit_log WHERE action = 'decision.resolve'")
                .await,
            1
        );
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM audit_log WHERE action = 'decision.create'")
                .await,
            1
        );
        hub.stop().await;
    }
);

both_dbs!(
    bad_decision_input_writes_nothing,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, b) = hub
            .post("/api/v1/decisions", json!({"kind": " ", "context": "x"}))
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with("kind"),
            "{b}"
        );
        let (s, b) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": ""}),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("context"),
            "{b}"
        );
        let (s, b) = hub
            .post("/api/v1/decisions", json!({"kind": "deploy"}))
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains("context"),
            "{b}"
        );
        let (s, b) = hub
            .post(
                "/api/v1/decisions",
                json!({"kind": "deploy", "context": "x", "task_id": 999}),
            )
            .await;
        assert_eq!(s, 404, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains("999"),
            "{b}"
        );
        let read_only = make_key(hub.store(), &["decisions:read"]).await;
        let (s, b) = hub
            .post_with(
                "/api/v1/decisions",
                &read_only,
                json!({"kind": "deploy", "context": "x"}),
                None,
            )
            .await;
        assert_eq!(s, 403, "{b}");
        let (s, b) = hub
            .post_with(
                "/api/v1/decisions/1/resolve",
                &read_only,
                json!({"outcome": "approve"}),
                None,
            )
            .await;
        assert_eq!(s, 403, "{b}");
        let (s, b) = hub.get("/api/v1/decisions/12345").await;
        assert_eq!(s, 404, "{b}");
        let (s, b) = hub
            .post(
                "/api/v1/decisions/12345/resolve",
                json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(s, 404, "{b}");
        let (s, b) = hub
            .post(
                "/api/v1/decisions/12345/resolve",
                json!({"outcome": "maybe"}),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM decisions").await, 0);
        assert_eq!(hub.count("SELECT COUNT(*) FROM notifications").await, 0);
        assert_eq!(hub.count("SELECT COUNT(*) FROM button_tokens").await, 0);
        assert_eq!(
            hub.count("SELECT COUNT(*) FROM audit_log WHERE resource LIKE 'decision%'")
                .await,
            0
        );
        hub.stop().await;
    }
);

both_dbs!(
    tasks_api_shares_the_command_rules,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let (s, t) = hub
        .post(
            "/api/v1/tasks",
            json!({"title": "Fix «login»", "priority": "high", "project": "website", "capabilities": ["rust"]}),
        )
        .await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["status"], "created");
        assert_eq!(t["priority"], "high");
        assert_eq!(t["created_by"], "agent:builder");
        let id = t["id"].as_i64().unwrap();

        let (s, a) = hub
            .post(
                &format!("/api/v1/tasks/{id}/assign"),
                json!({"to": "@dana"}),
            )
            .await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(a["result"], "assigned");
        assert_eq!(a["task"]["status"], "assigned");
        for (to, status) in [
            ("start", "in_progress"),
            ("review", "review"),
            ("done", "completed"),
        ] {
            let (s, m) = hub
                .post(
                    &format!("/api/v1/tasks/{id}/move"),
                    json!({"to": to, "note": "ok"}),
                )
                .await;
            assert_eq!(s, 200, "{to}: {m}");
            assert_eq!(m["task"]["status"], status, "{m}");
        }
        let (s, shown) = hub.get(&format!("/api/v1/tasks/{id}")).await;
        assert_eq!(s, 200, "{shown}");
        assert_eq!(shown["task"]["status"], "completed");
        let (s, listed) = hub
            .get("/api/v1/tasks?status=completed&project=website")
            .await;
        assert_eq!(s, 200, "{listed}");
        let ids: Vec<i64> = listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [id]);

        // An illegal move is refused with the moves that are allowed.
        let (_, second) = hub
            .post("/api/v1/tasks", json!({"title": "Write docs"}))
            .await;
        let second = second["id"].as_i64().unwrap();
        let (s, e) = hub
            .post(
                &format!("/api/v1/tasks/{second}/move"),
                json!({"to": "review"}),
            )
            .await;
        assert_eq!(s, 409, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("can't move to `review`") && msg.contains("assigned"),
            "{msg}"
        );
        let (s, e) = hub
            .post(
                &format!("/api/v1/tasks/{second}/move"),
                json!({"to": "sideways"}),
            )
            .await;
        assert_eq!(s, 422, "{e}");
        let (s, e) = hub
            .post(
                &format!("/api/v1/tasks/{second}/assign"),
                json!({"to": "@nobody"}),
            )
            .await;
        assert_eq!(s, 404, "{e}");

        // Dependencies: refused on itself, accepted otherwise; a finished
        // dependency makes the task ready.
        let (s, e) = hub
            .post(
                &format!("/api/v1/tasks/{second}/deps"),
                json!({"needs": second}),
            )
            .await;
        assert_eq!(s, 422, "{e}");
        let (s, d) = hub
            .post(
                &format!("/api/v1/tasks/{second}/deps"),
                json!({"needs": id}),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        assert_eq!(d["promoted"]["status"], "ready", "{d}");
        let (s, e) = hub
            .post(&format!("/api/v1/tasks/{id}/deps"), json!({"needs": 4242}))
            .await;
        assert_eq!(s, 404, "{e}");

        // Scopes and bad input.
        let read_only = make_key(hub.store(), &["tasks:read"]).await;
        let (s, e) = hub
            .post_with("/api/v1/tasks", &read_only, json!({"title": "nope"}), None)
            .await;
        assert_eq!(s, 403, "{e}");
        let (s, e) = hub.post("/api/v1/tasks", json!({"title": "   "})).await;
        assert_eq!(s, 422, "{e}");
        let (s, e) = hub
            .post("/api/v1/tasks", json!({"title": "x", "project": "nowhere"}))
            .await;
        assert_eq!(s, 404, "{e}");
        let (s, e) = hub.get("/api/v1/tasks/777").await;
        assert_eq!(s, 404, "{e}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM tasks").await, 2);
        hub.stop().await;
    }
);

both_dbs!(
    a_decision_is_recorded_only_with_its_requests,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, OPS, vec![]).await;
        let body = json!({"kind": "deploy", "context": "Ship v3?"});
        // Its requests cannot be written: 503, and nothing was recorded, so
        // the Idempotency-Key is free for the retry.
        common::break_deliveries(db, "1 = 1").await;
        let (s, failed) = hub
            .post_with("/api/v1/decisions", &hub.key, body.clone(), Some("ship-v3"))
            .await;
        assert_eq!(s, 503, "{failed}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM decisions").await, 0);
        assert_eq!(hub.count("SELECT COUNT(*) FROM notifications").await, 0);
        assert_eq!(hub.count("SELECT COUNT(*) FROM button_tokens").await, 0);
        common::heal_deliveries(db).await;

        let (s, created) = hub
            .post_with("/api/v1/decisions", &hub.key, body.clone(), Some("ship-v3"))
            .await;
        assert_eq!(s, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        // The answer comes after one commit holding the decision and a
        // request with its deliveries for each approver.
        let (notes,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM notifications WHERE decision_id = $1 AND kind = 'decision.requested'",
        )
        .bind(id)
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(notes, 2, "ceo and ops");
        let (copies,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.decision_id = $1",
        )
        .bind(id)
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(copies, 4, "web and console for each");
        let answered: Vec<&str> = created["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["to"].as_str().unwrap())
            .collect();
        assert_eq!(answered, ["ceo", "ops"], "{created}");

        // The retry gets the first answer; still one decision.
        let (s, again) = hub
            .post_with("/api/v1/decisions", &hub.key, body, Some("ship-v3"))
            .await;
        assert_eq!(s, 201, "{again}");
        assert_eq!(again["id"], created["id"]);
        assert_eq!(hub.count("SELECT COUNT(*) FROM decisions").await, 1);
        hub.stop().await;
    }
);

both_dbs!(
    an_escalated_assignment_reaches_the_admins,
    |db: &TestDb| async move {
        // An assignment no agent fits becomes a decision for the admins; it
        // is sent like any other (before, the API path never sent it).
        let hub = TestHub::start(db, "", vec![]).await;
        let (_, t) = hub
            .post(
                "/api/v1/tasks",
                json!({"title": "Tune the GPU kernels", "capabilities": ["cuda"]}),
            )
            .await;
        let id = t["id"].as_i64().unwrap();
        let (s, a) = hub
            .post(&format!("/api/v1/tasks/{id}/assign"), json!({"to": "auto"}))
            .await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(a["result"], "escalated", "{a}");
        let decision = a["decision"]["id"].as_i64().unwrap();
        let (to,): (String,) = sqlx::query_as(
            "SELECT recipient_id FROM notifications WHERE decision_id = $1 AND kind = 'decision.requested'",
        )
        .bind(decision)
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(to, "ceo", "the owner");
        hub.stop().await;
    }
);
