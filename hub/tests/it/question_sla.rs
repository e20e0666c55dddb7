//! Questions under SLA (issue 22): a question past its deadline — its own
//! `deadline_minutes` over the rule's — is told to the person asked, pushed
//! at once (urgent, not held for the digest), then escalates to their
//! manager, the admins and the owners one interval apart; answering stops
//! the chain, and `GET /api/v1/sla` reports `question`.

use crate::common;
use chrono::{DateTime, Duration, Utc};
use common::TestDb;
use common::server::TestHub;
use hub::watch::{Watch, WatchJob};
use serde_json::json;

/// ops is managed by lead; adm is an admin; ceo (the owner, from the common
/// config) is last. The rule's 60 minutes are overridden by each question's
/// own 30; steps are 20 minutes apart.
const CHAIN: &str = r##"
[watchers]
enabled = false

[[watchers.sla]]
kind = "question"
within_minutes = 60
escalate_every_minutes = 20

[[people]]
id = "ops"
role = "member"
push = ["console"]
manager = "lead"

[[people]]
id = "lead"
role = "member"
push = ["console"]

[[people]]
id = "adm"
role = "admin"
push = ["console"]
"##;

fn watch(hub: &TestHub) -> &Watch {
    &hub.running.as_ref().expect("running").watch
}

/// (recipient, urgency, kind) of every SLA notification, in order.
async fn told(hub: &TestHub) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT recipient_id, urgency, kind FROM notifications WHERE kind LIKE 'sla.%' \
         ORDER BY created_at, id",
    )
    .fetch_all(hub.store().pool())
    .await
    .expect("read notifications")
}

fn row(to: &str, urgency: &str, kind: &str) -> (String, String, String) {
    (to.into(), urgency.into(), kind.into())
}

/// Ask ops a question with its own 30-minute deadline: its id and deadline.
async fn ask(hub: &TestHub, text: &str) -> (i64, DateTime<Utc>) {
    let (s, q) = hub
        .post(
            "/api/v1/questions",
            json!({"text": text, "to": "ops", "permission_level": "human-required",
                   "deadline_minutes": 30}),
        )
        .await;
    assert_eq!(s, 201, "{q}");
    let id = q["id"].as_i64().expect("id");
    let (at,): (i64,) = sqlx::query_as("SELECT deadline_at FROM questions WHERE id = $1")
        .bind(id)
        .fetch_one(hub.store().pool())
        .await
        .expect("question row");
    (id, DateTime::from_timestamp_millis(at).expect("time"))
}

async fn escalations(hub: &TestHub, id: i64) -> usize {
    let audit = hub
        .store()
        .audit_for(&format!("question:{id}"))
        .await
        .expect("audit");
    audit.iter().filter(|(_, a, _)| a == "sla.escalate").count()
}

both_dbs!(
    an_unanswered_question_escalates_by_its_own_deadline_and_stops_when_answered,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let w = watch(&hub);
        let (q1, deadline) = ask(&hub, "Which region for the EU launch?").await;
        let (q2, _) = ask(&hub, "May I rotate the keys?").await;

        // Before its own deadline: nothing. (Ticks at least 5 minutes
        // apart: each claims its cron slot, every 5 minutes, and a second
        // tick in the same slot is not run — 3 minutes before failed
        // whenever the wall clock put both ticks in one slot.)
        w.tick(WatchJob::SlaCheck, deadline - Duration::minutes(5))
            .await
            .unwrap();
        assert!(told(&hub).await.is_empty());

        // Past its own 30 minutes (the rule's 60 are not up): the person
        // asked is told, urgent.
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(1))
            .await
            .unwrap();
        let step0 = vec![
            row("ops", "urgent", "sla.breach"),
            row("ops", "urgent", "sla.breach"),
        ];
        assert_eq!(told(&hub).await, step0);
        let (title,): (String,) = sqlx::query_as(
            "SELECT title FROM notifications WHERE kind = 'sla.breach' ORDER BY created_at, id LIMIT 1",
        )
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
        assert_eq!(
            title,
            format!(
                "SLA breach: question #{q1} from builder (\u{201c}Which region for the EU launch?\u{201d}) is late by 1 minute"
            )
        );

        // One interval: the manager, for both.
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(21))
            .await
            .unwrap();
        assert_eq!(told(&hub).await.len(), 4);
        assert_eq!(told(&hub).await[3], row("lead", "urgent", "sla.escalation"));

        // The second is answered: its chain stops there.
        commands::answer_question(
            hub.backend(),
            &commands::Actor::system(),
            q2,
            "Yes, tonight.",
            commands::AnswerVia::Command,
        )
        .await
        .expect("answered");

        // Two and three intervals: the admins, then the owners (the first only).
        for (after, who) in [(41, "adm"), (61, "ceo")] {
            w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(after))
                .await
                .unwrap();
            assert_eq!(
                told(&hub).await.last(),
                Some(&row(who, "urgent", "sla.escalation")),
                "after {after} minutes"
            );
        }
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(300))
            .await
            .unwrap();
        assert_eq!(told(&hub).await.len(), 6, "the chain ends with the owners");
        assert_eq!(escalations(&hub, q1).await, 4);
        assert_eq!(escalations(&hub, q2).await, 2, "answered: no more steps");

        // The share within SLA, judged now (by the real clock): the second
        // was answered within its 30 minutes, the first is open, not late yet.
        let (s, sla) = hub.get("/api/v1/sla").await;
        assert_eq!(s, 200, "{sla}");
        assert_eq!(
            sla["kinds"],
            json!([{"kind": "question", "within_sla": 1, "breached": 0, "open": 1, "share_within": 1.0}])
        );
        hub.stop().await;
    }
);

both_dbs!(
    a_first_breach_notice_is_pushed_now_not_left_for_the_digest,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let (_, deadline) = ask(&hub, "Ship on Friday?").await;
        watch(&hub)
            .tick(WatchJob::SlaCheck, deadline + Duration::minutes(1))
            .await
            .unwrap();
        // ops pushes to the console: the breach is a console delivery due
        // now, not a digest entry (what `info` would have made it).
        let deliveries: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.channel, d.status FROM deliveries d JOIN notifications n \
             ON n.id = d.notification_id WHERE n.kind = 'sla.breach' ORDER BY d.channel",
        )
        .fetch_all(hub.store().pool())
        .await
        .unwrap();
        assert!(
            deliveries
                .iter()
                .any(|(c, s)| c == "console" && s != "held"),
            "{deliveries:?}"
        );
        assert!(
            deliveries.iter().all(|(_, s)| s != "held"),
            "nothing waits for the digest: {deliveries:?}"
        );
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let mut hub = hub;
            loop {
                let l = hub.console.recv().await.expect("console open");
                if l.contains("SLA breach") {
                    return (l, hub);
                }
            }
        })
        .await
        .expect("the breach reached ops's console at once");
        assert!(line.0.contains("Ship on Friday?"), "{}", line.0);
        line.1.stop().await;
    }
);

both_dbs!(
    without_a_question_rule_only_questions_with_their_own_deadline_are_watched,
    |db: &TestDb| async move {
        // No `question` rule: the decision rule alone.
        let config = CHAIN.replace(
            "kind = \"question\"\nwithin_minutes = 60\nescalate_every_minutes = 20",
            "kind = \"decision\"\nwithin_minutes = 60",
        );
        let hub = TestHub::start(db, &config, vec![]).await;
        let (s, plain) = hub
            .post(
                "/api/v1/questions",
                json!({"text": "No deadline?", "to": "ops", "permission_level": "human-required"}),
            )
            .await;
        assert_eq!(s, 201, "{plain}");
        let (id, deadline) = ask(&hub, "Thirty minutes?").await;
        let w = watch(&hub);
        // Past its own 30 minutes: told; each step then waits those 30 minutes.
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(told(&hub).await, vec![row("ops", "urgent", "sla.breach")]);
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(16))
            .await
            .unwrap();
        assert_eq!(told(&hub).await.len(), 1, "not yet the next step");
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(31))
            .await
            .unwrap();
        assert_eq!(
            told(&hub).await.last(),
            Some(&row("lead", "urgent", "sla.escalation"))
        );
        // The question without a deadline is never judged: days later only
        // the first question's chain moves (straight to the step the time
        // has reached, the owners).
        w.tick(WatchJob::SlaCheck, deadline + Duration::days(3))
            .await
            .unwrap();
        let all = told(&hub).await;
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[2], row("ceo", "urgent", "sla.escalation"));
        assert_eq!(escalations(&hub, id).await, 3);
        assert_eq!(escalations(&hub, plain["id"].as_i64().unwrap()).await, 0);
        hub.stop().await;
    }
);
