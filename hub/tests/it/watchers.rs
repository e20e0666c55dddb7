//! Watchers on a schedule (issue 22): SLA escalation along the chain with a
//! controlled clock, budget thresholds once each, anomalies told when they
//! appear and when they clear, each cron tick run once across two instances
//! on PostgreSQL, and the real cron scheduler firing a tick.

use crate::common;
use chrono::{DateTime, Duration, Utc};
use common::TestDb;
use common::server::TestHub;
use hub::store::NewCost;
use hub::watch::{Watch, WatchJob};
use serde_json::json;

/// ops approves deploys and is managed by lead; adm is an admin; ceo (the
/// owner, from the common config) is last. The scheduler is off: the tests
/// run ticks themselves at the instants they choose.
const CHAIN: &str = r##"
[watchers]
enabled = false

[[watchers.sla]]
kind = "decision"
within_minutes = 60

[approvers]
"deploy" = ["ops"]

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

[[agents]]
id = "reviewer"

[[agents]]
id = "spender"
daily_budget_usd = 20.0

[[projects]]
id = "apps"
budget_usd = 100.0
"##;

/// (recipient, urgency, kind) of every watcher notification of `kinds`
/// (a LIKE pattern), in the order they were stored.
async fn told(hub: &TestHub, kinds: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT recipient_id, urgency, kind FROM notifications WHERE kind LIKE $1 \
         ORDER BY created_at, id",
    )
    .bind(kinds)
    .fetch_all(hub.store().pool())
    .await
    .expect("read notifications")
}

fn watch(hub: &TestHub) -> &Watch {
    &hub.running.as_ref().expect("running").watch
}

async fn decision(hub: &TestHub, context: &str) -> (i64, DateTime<Utc>) {
    let (s, created) = hub
        .post(
            "/api/v1/decisions",
            json!({"kind": "deploy", "context": context}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (at,): (i64,) = sqlx::query_as("SELECT created_at FROM decisions WHERE id = $1")
        .bind(id)
        .fetch_one(hub.store().pool())
        .await
        .expect("decision row");
    (id, DateTime::from_timestamp_millis(at).expect("time"))
}

fn row(to: &str, urgency: &str, kind: &str) -> (String, String, String) {
    (to.into(), urgency.into(), kind.into())
}

both_dbs!(
    unanswered_decision_escalates_to_manager_admins_owners_and_stops_when_resolved,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let w = watch(&hub);
        let (id, created) = decision(&hub, "Ship v2?").await;
        let deadline = created + Duration::minutes(60);

        // Within the SLA: nothing.
        assert!(
            w.tick(WatchJob::SlaCheck, deadline - Duration::minutes(5))
                .await
                .unwrap()
        );
        assert!(told(&hub, "sla.%").await.is_empty());

        // Breached: the responsible approver, pushed (urgent).
        assert!(
            w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(1))
                .await
                .unwrap()
        );
        let step0 = vec![row("ops", "urgent", "sla.breach")];
        assert_eq!(told(&hub, "sla.%").await, step0);
        // The same tick again is not run; a later tick in the same interval tells no one.
        assert!(
            !w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(1))
                .await
                .unwrap()
        );
        assert!(
            w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(30))
                .await
                .unwrap()
        );
        assert_eq!(told(&hub, "sla.%").await, step0);

        // One, two, three intervals unanswered: manager, admins, owners, urgent.
        for (after, who) in [(61, "lead"), (121, "adm"), (181, "ceo")] {
            w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(after))
                .await
                .unwrap();
            assert_eq!(
                told(&hub, "sla.%").await.last(),
                Some(&row(who, "urgent", "sla.escalation")),
                "after {after} minutes"
            );
        }
        assert_eq!(told(&hub, "sla.%").await.len(), 4);
        // The chain ends with the owners.
        w.tick(WatchJob::SlaCheck, deadline + Duration::minutes(500))
            .await
            .unwrap();
        assert_eq!(told(&hub, "sla.%").await.len(), 4);
        // Each step is audited on the decision.
        let audit = hub
            .store()
            .audit_for(&format!("decision:{id}"))
            .await
            .unwrap();
        let steps = audit.iter().filter(|(_, a, _)| a == "sla.escalate").count();
        assert_eq!(steps, 4, "{audit:?}");

        // A second decision: told to ops, then lead; resolved, the chain stops.
        let (id2, created2) = decision(&hub, "Roll back?").await;
        let deadline2 = created2 + Duration::minutes(60);
        // (Offsets clear of the first decision's ticks: each 5-minute tick
        // runs once, whatever it finds.)
        for after in [16, 76] {
            w.tick(WatchJob::SlaCheck, deadline2 + Duration::minutes(after))
                .await
                .unwrap();
        }
        assert_eq!(told(&hub, "sla.%").await.len(), 6);
        let reviewer = hub.key_for("reviewer", &["decisions:resolve"]).await;
        let (s, resolved) = hub
            .post_with(
                &format!("/api/v1/decisions/{id2}/resolve"),
                &reviewer,
                json!({"outcome": "deny"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{resolved}");
        for after in [136, 196, 256] {
            w.tick(WatchJob::SlaCheck, deadline2 + Duration::minutes(after))
                .await
                .unwrap();
        }
        assert_eq!(
            told(&hub, "sla.%").await.len(),
            6,
            "resolved: no more steps"
        );

        // The share within SLA, judged now: the second was answered in time,
        // the first is still open and not late yet (by the real clock).
        let since =
            (created - Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (s, sla) = hub.get(&format!("/api/v1/sla?since={since}")).await;
        assert_eq!(s, 200, "{sla}");
        assert_eq!(
            sla["kinds"],
            json!([{"kind": "decision", "within_sla": 1, "breached": 0, "open": 1, "share_within": 1.0}])
        );
        hub.stop().await;
    }
);

both_dbs!(
    budget_thresholds_are_crossed_once_each_per_period,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let w = watch(&hub);
        let noon = Utc::now()
            .date_naive()
            .and_hms_opt(12, 0, 0)
            .expect("noon")
            .and_utc();
        let cost = |agent: &str, project: Option<&str>, usd: f64| NewCost {
            agent_id: agent.into(),
            project_id: project.map(str::to_string),
            task_id: None,
            model: "m".into(),
            tokens_in: 0,
            tokens_out: 0,
            usd,
            at: (noon - Duration::hours(1)).timestamp_millis(),
        };
        let store = hub.store();
        let mut tick = noon;
        let mut check = || {
            tick += Duration::minutes(5);
            w.tick(WatchJob::BudgetCheck, tick)
        };

        store
            .insert_cost(&cost("spender", None, 15.0))
            .await
            .unwrap();
        assert!(check().await.unwrap());
        assert!(told(&hub, "budget.%").await.is_empty(), "75 %: no alert");

        // 82 %: one info alert to the owner; not repeated.
        store
            .insert_cost(&cost("spender", None, 1.4))
            .await
            .unwrap();
        check().await.unwrap();
        check().await.unwrap();
        let at80 = vec![row("ceo", "info", "budget.threshold")];
        assert_eq!(told(&hub, "budget.%").await, at80);

        // $25.40 of $20.00: the 100 % alert, urgent, once.
        store
            .insert_cost(&cost("spender", None, 9.0))
            .await
            .unwrap();
        check().await.unwrap();
        check().await.unwrap();
        let all = told(&hub, "budget.%").await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[1], row("ceo", "urgent", "budget.threshold"));
        let (body,): (String,) = sqlx::query_as(
            "SELECT body FROM notifications WHERE kind = 'budget.threshold' AND urgency = 'urgent'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(
            body,
            "spender has spent $25.40 of its $20.00 daily budget today (127 %)."
        );

        // A project over its monthly budget at once: both thresholds
        // recorded, one (urgent) alert.
        store
            .insert_cost(&cost("builder", Some("apps"), 100.0))
            .await
            .unwrap();
        check().await.unwrap();
        check().await.unwrap();
        let all = told(&hub, "budget.%").await;
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[2], row("ceo", "urgent", "budget.threshold"));
        let (recorded,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM budget_alerts WHERE subject = 'project:apps'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(recorded, 2);
        hub.stop().await;
    }
);

both_dbs!(
    an_anomaly_is_told_when_detected_and_when_cleared_not_at_every_scan,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let w = watch(&hub);
        let now = Utc::now();
        // builder has an active task and has never sent a heartbeat: silent.
        sqlx::query(
            "INSERT INTO tasks (title, status, priority, assignee_kind, assignee_id, created_by, created_at, updated_at) \
             VALUES ('Ship', 'assigned', 'medium', 'agent', 'builder', 'ceo', $1, $1)",
        )
        .bind(now.timestamp_millis())
        .execute(hub.store().pool())
        .await
        .unwrap();
        let mut at = now;
        for _ in 0..3 {
            at += Duration::minutes(15);
            w.tick(WatchJob::AnomalyScan, at).await.unwrap();
        }
        let detected = vec![row("ceo", "urgent", "anomaly.detected")];
        assert_eq!(told(&hub, "anomaly.%").await, detected);
        let (title,): (String,) =
            sqlx::query_as("SELECT title FROM notifications WHERE kind = 'anomaly.detected'")
                .fetch_one(hub.store().pool())
                .await
                .unwrap();
        assert_eq!(
            title,
            "Anomaly: builder is silent (never sent a heartbeat) with 1 active task"
        );

        // A heartbeat (ten minutes after the last scan): cleared, told once.
        hub.store()
            .heartbeat(
                "builder",
                "active",
                None,
                (at + Duration::minutes(10)).timestamp_millis(),
            )
            .await
            .unwrap();
        for _ in 0..2 {
            at += Duration::minutes(15);
            w.tick(WatchJob::AnomalyScan, at).await.unwrap();
        }
        let all = told(&hub, "anomaly.%").await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[1], row("ceo", "info", "anomaly.cleared"));
        hub.stop().await;
    }
);

/// Two hubs on one PostgreSQL run every watcher's tick at the same instant:
/// each tick runs on one of them only, and its notification goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cron_tick_runs_once_across_two_instances_on_postgres() {
    let db = TestDb::postgres().await;
    let a = TestHub::start(&db, CHAIN, vec![]).await;
    let b = TestHub::start(&db, CHAIN, vec![]).await;
    let (_, created) = decision(&a, "Ship v3?").await;
    let tick = created + Duration::minutes(61);
    a.store()
        .insert_cost(&NewCost {
            agent_id: "spender".into(),
            project_id: None,
            task_id: None,
            model: "m".into(),
            tokens_in: 0,
            tokens_out: 0,
            usd: 17.0,
            at: (tick - Duration::minutes(1)).timestamp_millis(),
        })
        .await
        .unwrap();
    for job in WatchJob::ALL {
        // The second instance fires a moment later: the same scheduled tick.
        let (x, y) = tokio::join!(
            watch(&a).tick(job, tick),
            watch(&b).tick(job, tick + Duration::milliseconds(700)),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(
            x ^ y,
            "{}: exactly one instance runs it ({x}, {y})",
            job.name()
        );
    }
    assert_eq!(
        told(&a, "sla.%").await,
        vec![row("ops", "urgent", "sla.breach")]
    );
    assert_eq!(
        told(&a, "budget.%").await,
        vec![row("ceo", "info", "budget.threshold")]
    );
    let (runs,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM scheduled_runs WHERE job LIKE 'watch:%'")
            .fetch_one(a.store().pool())
            .await
            .unwrap();
    assert_eq!(runs, 3);
    // A restarted (or late) instance does not run a past tick again.
    assert!(!watch(&b).tick(WatchJob::SlaCheck, tick).await.unwrap());
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// The real scheduler: with `budget_check` every second, an agent over its
/// budget is told about without anyone running a tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_scheduler_runs_the_watchers() {
    let db = TestDb::sqlite().await;
    let config = CHAIN.replace(
        "[watchers]\nenabled = false\n",
        "[watchers]\nbudget_check = \"* * * * * *\"\nsla_check = \"0 0 0 1 1 *\"\nanomaly_scan = \"0 0 0 1 1 *\"\n",
    );
    let hub = TestHub::start(&db, &config, vec![]).await;
    hub.store()
        .insert_cost(&NewCost {
            agent_id: "spender".into(),
            project_id: None,
            task_id: None,
            model: "m".into(),
            tokens_in: 0,
            tokens_out: 0,
            usd: 21.0,
            at: Utc::now().timestamp_millis(),
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = told(&hub, "budget.%").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(seen, vec![row("ceo", "urgent", "budget.threshold")]);
    hub.stop().await;
    db.finish().await;
}

/// The first instant of the budget day after the one `at` falls in: the
/// next midnight in Kyiv (the budgets' zone in these tests, the first
/// owner's).
fn next_kyiv_midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    let kyiv = chrono_tz::Europe::Kyiv;
    let next_day = at.with_timezone(&kyiv).date_naive() + Duration::days(1);
    chrono::TimeZone::from_local_datetime(&kyiv, &next_day.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Now, or `margin` before the next budget day if that comes sooner: a
/// time from which `margin` later is still the same budget day, and that
/// day is today's.
fn settled_in_kyiv_day(margin: Duration) -> DateTime<Utc> {
    let now = Utc::now();
    now.min(next_kyiv_midnight(now) - margin)
}

both_dbs!(
    an_agent_over_budget_is_paused_until_the_owners_let_it_continue,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let w = watch(&hub);
        let spender = hub.key_for("spender", &["costs:write"]).await;
        let me = || async {
            let res = hub
                .http
                .get(format!("{}/api/v1/agents/me", hub.base))
                .bearer_auth(&spender)
                .send()
                .await
                .expect("agents/me");
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.expect("json")
        };
        // The ticks below run up to 10 minutes after `now`: all in the
        // budgets' day of the costs (it failed when run in the 10 minutes
        // before midnight in Kyiv, 22:00 UTC).
        let now = settled_in_kyiv_day(Duration::minutes(15));
        let cost = |usd: f64| NewCost {
            agent_id: "spender".into(),
            project_id: None,
            task_id: None,
            model: "m".into(),
            tokens_in: 0,
            tokens_out: 0,
            usd,
            at: now.timestamp_millis(),
        };
        // Exactly at the budget: not over it.
        hub.store().insert_cost(&cost(20.0)).await.unwrap();
        w.tick(WatchJob::BudgetCheck, now).await.unwrap();
        let at = me().await;
        assert_eq!(at["paused"], false, "{at}");
        assert_eq!(at["today_usd"], 20.0);

        hub.store().insert_cost(&cost(5.4)).await.unwrap();
        for m in [5, 10] {
            w.tick(WatchJob::BudgetCheck, now + Duration::minutes(m))
                .await
                .unwrap();
        }
        // One decision to the owners (and admins), asked once.
        let asked: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, context, status FROM decisions WHERE kind = 'budget'")
                .fetch_all(hub.store().pool())
                .await
                .unwrap();
        assert_eq!(asked.len(), 1, "{asked:?}");
        let (id, context, status) = asked[0].clone();
        assert_eq!(
            context,
            "let spender continue today over budget ($25.40 of $20.00)?"
        );
        assert_eq!(status, "pending");
        let paused = me().await;
        assert_eq!(paused["paused"], true, "{paused}");
        assert_eq!(paused["decision_id"], id);
        assert_eq!(paused["daily_budget_usd"], 20.0);
        assert_eq!(paused["today_usd"], 25.4);

        // Approved: today's limit is raised; the agent continues.
        let reviewer = hub.key_for("reviewer", &["decisions:resolve"]).await;
        let (s, resolved) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &reviewer,
                json!({"outcome": "approve"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{resolved}");
        let going = me().await;
        assert_eq!(going["paused"], false, "{going}");
        assert_eq!(going["limit_today_usd"], 40.0);
        hub.stop().await;
    }
);

both_dbs!(
    a_denied_agent_stays_paused_for_the_day,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CHAIN, vec![]).await;
        let now = Utc::now();
        hub.store()
            .insert_cost(&NewCost {
                agent_id: "spender".into(),
                project_id: None,
                task_id: None,
                model: "m".into(),
                tokens_in: 0,
                tokens_out: 0,
                usd: 30.0,
                at: now.timestamp_millis(),
            })
            .await
            .unwrap();
        watch(&hub).tick(WatchJob::BudgetCheck, now).await.unwrap();
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM decisions WHERE kind = 'budget'")
            .fetch_one(hub.store().pool())
            .await
            .unwrap();
        let reviewer = hub.key_for("reviewer", &["decisions:resolve"]).await;
        let (s, _) = hub
            .post_with(
                &format!("/api/v1/decisions/{id}/resolve"),
                &reviewer,
                json!({"outcome": "deny"}),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let spender = hub.key_for("spender", &["costs:write"]).await;
        let me: serde_json::Value = hub
            .http
            .get(format!("{}/api/v1/agents/me", hub.base))
            .bearer_auth(&spender)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["paused"], true, "{me}");
        assert_eq!(me["decision_status"], "denied");
        // The budgets' day is the first owner's (ceo: Europe/Kyiv).
        let tomorrow = next_kyiv_midnight(now);
        assert_eq!(
            me["paused_until"]
                .as_str()
                .map(|t| t.parse::<DateTime<Utc>>().unwrap()),
            Some(tomorrow)
        );
        hub.stop().await;
    }
);
