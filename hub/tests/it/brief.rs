//! The daily brief end to end: exact figures from a seeded database in the
//! JSON of GET /api/v1/brief, bad requests, the LLM summary against an
//! OpenAI-compatible server on 127.0.0.1 (success, error, timeout), the
//! scheduled send through the outbox without a double send across a
//! restart, and the chat `brief` command.

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::TestDb;
use common::openai_server::{KEY, Mode, OpenAiServer};
use common::server::{ScriptedAdapter, TestHub};
use common::smtp_server::SmtpServer;
use common::telegram_server::TelegramServer;
use hub::brief::job::BriefJob;
use hub::schedule::DailyJob;
use hub::store::{BulkValue as V, Store};
use serde_json::Value;
use std::sync::Arc;

/// The brief under test: ceo (Europe/Kyiv, 09:00) on 10 July 2025, so its
/// cut-off is 06:00 UTC and "today" began at 21:00 UTC on 9 July.
fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 10, 6, 0, 0).unwrap()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    ms(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
}

const AGENTS: &str = r#"
[[agents]]
id = "coder"
daily_budget_usd = 10.0
[[agents]]
id = "ops"
daily_budget_usd = 2.0
[[projects]]
id = "app"
name = "The App"
budget_usd = 100.0
"#;

/// Known rows around the cut-off; every figure asserted below follows from them.
async fn seed(store: &Store) {
    let u = until();
    let h = |n: i64| ms(u - Duration::hours(n));
    let task = |id: i64,
                title: &str,
                status: &str,
                priority: &str,
                assignee: Option<(&str, &str)>,
                due: Option<i64>,
                created: i64,
                completed: Option<i64>| {
        vec![
            V::Int(id),
            V::Text(title.into()),
            V::Text(status.into()),
            V::Text(priority.into()),
            assignee.map_or(V::NullText, |a| V::Text(a.0.into())),
            assignee.map_or(V::NullText, |a| V::Text(a.1.into())),
            due.map_or(V::NullInt, V::Int),
            V::Text("ceo".into()),
            V::Int(created),
            V::Int(created),
            completed.map_or(V::NullInt, V::Int),
        ]
    };
    insert_tasks(
        store,
        &[
            // Overdue (due 1 July), mine.
            task(
                1,
                "Old <promise>",
                "in_progress",
                "medium",
                Some(("person", "ceo")),
                Some(utc(2025, 7, 1, 0, 0)),
                utc(2025, 6, 1, 0, 0),
                None,
            ),
            // Overdue (due 9 July), urgent and 6 h old: an SLA breach; coder is on it.
            task(
                2,
                "Fix prod",
                "in_progress",
                "urgent",
                Some(("agent", "coder")),
                Some(utc(2025, 7, 9, 0, 0)),
                h(6),
                None,
            ),
            // Due today: not overdue.
            task(
                3,
                "Due today",
                "ready",
                "low",
                None,
                Some(utc(2025, 7, 10, 0, 0)),
                utc(2025, 6, 1, 0, 0),
                None,
            ),
            // Completed in the window; its old due date does not count.
            task(
                4,
                "Finished",
                "completed",
                "medium",
                None,
                Some(utc(2025, 6, 1, 0, 0)),
                utc(2025, 5, 1, 0, 0),
                Some(h(2)),
            ),
            // High but 2 h old: within its SLA; mine, not overdue.
            task(
                5,
                "High fresh",
                "assigned",
                "high",
                Some(("person", "ceo")),
                None,
                h(2),
                None,
            ),
            // High and 25 h old: a breach; builder holds it.
            task(
                6,
                "High stale",
                "assigned",
                "high",
                Some(("agent", "builder")),
                None,
                h(25),
                None,
            ),
            // Created after the cut-off: not in this brief's activity.
            task(
                7,
                "Future",
                "created",
                "medium",
                None,
                None,
                ms(u + Duration::hours(1)),
                None,
            ),
        ],
    )
    .await;
    // Through the API's own insert, which also keeps the daily roll-up the
    // brief reads whole days from.
    let costs = [
        ("coder", Some("app"), 4.0, h(1)),                        // today
        ("coder", Some("app"), 14.0, utc(2025, 7, 5, 12, 0)),     // week + month
        ("coder", Some("app"), 27.0, utc(2025, 7, 1, 0, 0)),      // month only
        ("coder", Some("app"), 50.0, ms(u + Duration::hours(1))), // after the cut-off
        ("ops", None, 3.0, h(2)),                                 // today
        ("ops", None, 0.5, utc(2025, 7, 9, 21, 30)),              // 00:30 Kyiv: today
        ("ops", None, 2.0, utc(2025, 7, 9, 20, 0)),               // 23:00 Kyiv: yesterday
        ("builder", None, 100.0, utc(2025, 6, 30, 20, 0)),        // 23:00 Kyiv 30 June: last month
    ];
    for (agent, project, usd, at) in costs {
        common::add_cost(store, agent, project, "m", usd, at).await;
    }
    let audit = |action: &str, at: i64| {
        vec![
            V::Int(at),
            V::Text("ceo".into()),
            V::Text(action.into()),
            V::Text("task:1".into()),
            V::Text("{}".into()),
            V::Text("chat".into()),
        ]
    };
    store
        .bulk_insert(
            "audit_log",
            &["at", "actor", "action", "resource", "details", "source"],
            &[
                audit("task.move", h(3)),
                audit("task.move", h(1)),
                audit("task.move", h(25)),
                audit("task.move", ms(u + Duration::minutes(1))),
                audit("task.assign", h(1)),
            ],
        )
        .await
        .unwrap();
    let decision = |kind: &str, status: &str, decided: Option<i64>, created: i64| {
        vec![
            V::Text(kind.into()),
            V::Text(format!("{kind} <now> & *then*")),
            V::Text(status.into()),
            V::Text("agent:coder".into()),
            decided.map_or(V::NullInt, V::Int),
            V::Int(created),
        ]
    };
    insert_decisions(
        store,
        &[
            decision("deploy", "pending", None, h(5)),
            decision("spend", "approved", Some(h(3)), h(30)),
            decision("hire", "denied", Some(h(25)), h(30)),
        ],
    )
    .await;
    let failure = |agent: &str, task: i64, reason: &str, at: i64| {
        vec![
            V::Text(agent.into()),
            V::Int(task),
            V::Text(reason.into()),
            V::Int(at),
        ]
    };
    store
        .bulk_insert(
            "agent_task_failures",
            &["agent_id", "task_id", "reason", "at"],
            &[
                failure("coder", 1, "tests fail", h(24)),
                failure("coder", 2, "tests fail", h(48)),
                failure("coder", 3, "flaky", h(24)),
                failure("ops", 1, "tests fail", h(24)),
                failure("coder", 4, "tests fail", h(8 * 24)), // before the 7 days
            ],
        )
        .await
        .unwrap();
    // A cycle between open tasks 1 and 3 (written around the command
    // layer, which would refuse it); 5 → 4 ends at a completed task, and
    // 4 ⇄ 6 runs through one.
    store
        .bulk_insert(
            "task_dependencies",
            &["task_id", "depends_on", "created_at"],
            &[
                vec![V::Int(1), V::Int(3), V::Int(h(50))],
                vec![V::Int(3), V::Int(1), V::Int(h(50))],
                vec![V::Int(5), V::Int(4), V::Int(h(50))],
                // A cycle through completed task 4: no longer blocks anyone.
                vec![V::Int(4), V::Int(6), V::Int(h(50))],
                vec![V::Int(6), V::Int(4), V::Int(h(50))],
            ],
        )
        .await
        .unwrap();
    store
        .heartbeat("coder", "active", None, ms(u - Duration::minutes(45)))
        .await
        .unwrap();
    store
        .heartbeat("ops", "active", Some("ok"), ms(u - Duration::minutes(10)))
        .await
        .unwrap();
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

async fn known_figures_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    seed(hub.store()).await;
    let (status, b) = hub.get("/api/v1/brief?date=2025-07-10&person=ceo").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["date"], "2025-07-10");
    assert_eq!(b["time_zone"], "Europe/Kyiv");
    assert_eq!(b["period"]["until"], "2025-07-10T06:00:00Z");
    assert_eq!(b["period"]["since"], "2025-07-09T06:00:00Z");
    assert_eq!(
        b["activity"],
        serde_json::json!({"tasks_created": 2, "tasks_completed": 1, "tasks_moved": 2, "decisions_made": 1})
    );
    assert_eq!(b["mine"], serde_json::json!({"open": 2, "overdue": 1}));
    assert_eq!(b["overdue"]["total"], 2);
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&b["overdue"]["tasks"]), vec![1, 2]);
    assert_eq!(b["overdue"]["tasks"][0]["title"], "Old <promise>");
    assert_eq!(b["sla_breaches"]["total"], 2);
    assert_eq!(ids(&b["sla_breaches"]["tasks"]), vec![6, 2]);

    let budget = &b["budget"];
    assert_eq!(f(&budget["today_usd"]), 7.5);
    assert_eq!(f(&budget["month_usd"]), 50.5);
    // 50.5 USD in 225 of July's 744 hours (Kyiv) → 166.9867 by month end.
    assert_eq!(f(&budget["month_forecast_usd"]), 166.9867);
    assert_eq!(f(&budget["month_budget_usd"]), 100.0);
    assert_eq!(f(&budget["month_used_pct"]), 50.5);
    assert_eq!(budget["over_daily_budget"], serde_json::json!(["ops"]));
    let agent = |id: &str| {
        budget["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent_id"] == id)
            .unwrap_or_else(|| panic!("agent {id} in {budget}"))
            .clone()
    };
    let coder = agent("coder");
    assert_eq!(
        (
            f(&coder["today_usd"]),
            f(&coder["month_usd"]),
            f(&coder["avg_7d_usd"]),
            f(&coder["today_pct"])
        ),
        (4.0, 45.0, 2.0, 40.0)
    );
    let ops = agent("ops");
    assert_eq!(
        (
            f(&ops["today_usd"]),
            f(&ops["month_usd"]),
            f(&ops["avg_7d_usd"]),
            f(&ops["today_pct"])
        ),
        (3.5, 5.5, 0.2857, 175.0)
    );
    assert_eq!(ops["over_budget"], true);
    assert_eq!(f(&agent("builder")["month_usd"]), 0.0, "last month's spend");
    let app = budget["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["project_id"] == "app")
        .unwrap()
        .clone();
    assert_eq!(
        (
            f(&app["month_usd"]),
            f(&app["used_pct"]),
            f(&app["forecast_usd"]),
            app["forecast_over"].clone()
        ),
        (45.0, 45.0, 148.8, Value::Bool(true))
    );

    assert_eq!(b["silent_agents"], serde_json::json!(["builder", "coder"]));
    assert_eq!(b["pending_decisions"]["total"], 1);
    assert_eq!(b["pending_decisions"]["decisions"][0]["kind"], "deploy");
    assert_eq!(b["pending_decisions"]["decisions"][0]["waiting_hours"], 5);
    let anomalies: Vec<(String, Value)> = b["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap().to_string(), a.clone()))
        .collect();
    assert_eq!(
        anomalies.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["spend_spike", "repeated_failure", "dependency_cycle"],
        "{}",
        b["anomalies"]
    );
    assert_eq!(anomalies[0].1["agent_id"], "ops");
    assert_eq!(anomalies[1].1["count"], 2);
    assert_eq!(
        anomalies[1].1["message"],
        "coder failed 2 times in 7 days: tests fail"
    );
    assert_eq!(anomalies[2].1["task_ids"], serde_json::json!([1, 3]));
    assert_eq!(b["summary"], Value::Null);

    // Without `person`: the first owner's brief, the same figures.
    let (status, again) = hub.get("/api/v1/brief?date=2025-07-10").await;
    assert_eq!(status, 200);
    assert_eq!(again["budget"], b["budget"]);
    hub.stop().await;
}
both_dbs!(known_figures, |db: &TestDb| known_figures_body(db));

/// The dependency edges the cycle check reads are kept between briefs
/// until a dependency changes (migration 0030's counter): a cycle opened
/// or closed by any writer — here plain SQL, as a script or another
/// instance would — is in the very next brief.
async fn a_dependency_change_is_in_the_next_brief_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    seed(hub.store()).await;
    let cycles = |b: &Value| -> Vec<Value> {
        b["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "dependency_cycle")
            .map(|a| a["task_ids"].clone())
            .collect()
    };
    let brief = || hub.get("/api/v1/brief?date=2025-07-10&person=ceo");
    let (status, b) = brief().await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(cycles(&b), vec![serde_json::json!([1, 3])]);

    // Break the cycle: the next brief has none.
    sqlx::query("DELETE FROM task_dependencies WHERE task_id = 3 AND depends_on = 1")
        .execute(hub.store().pool())
        .await
        .unwrap();
    let (_, b) = brief().await;
    assert!(cycles(&b).is_empty(), "{}", b["anomalies"]);

    // A new one between open tasks 2 and 3: seen at once.
    for (task, needs) in [(2, 3), (3, 2)] {
        sqlx::query(
            "INSERT INTO task_dependencies (task_id, depends_on, created_at) VALUES ($1, $2, 0)",
        )
        .bind(task)
        .bind(needs)
        .execute(hub.store().pool())
        .await
        .unwrap();
    }
    let (_, b) = brief().await;
    assert_eq!(cycles(&b), vec![serde_json::json!([2, 3])]);
    hub.stop().await;
}
both_dbs!(a_dependency_change_is_in_the_next_brief, |db: &TestDb| {
    a_dependency_change_is_in_the_next_brief_body(db)
});

/// Spend is summed from whole UTC days of the daily roll-up plus raw rows
/// at the edges: for people in zones whose midnight is not a UTC midnight
/// (whole, half and three-quarter hour offsets, both signs) every bucket
/// must equal the plain sum of the cost rows it covers.
async fn spend_equals_the_raw_rows_in_every_zone_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    let store = hub.store();
    let now = until();
    let mut rows = Vec::new();
    // Every 37 minutes for 45 days: some land minutes either side of every
    // local and UTC midnight. Eighths of a dollar sum exactly.
    let mut at = ms(now) - 45 * 86_400_000;
    let mut k = 0i64;
    while at < ms(now) + 3 * 3_600_000 {
        let agent = ["coder", "ops"][(k % 2) as usize];
        let project = (k % 3 != 0).then(|| "app".to_string());
        let usd = (k % 13 + 1) as f64 / 8.0;
        common::add_cost(store, agent, project.as_deref(), "m", usd, at).await;
        rows.push((agent, project, usd, at));
        at += 37 * 60_000;
        k += 1;
    }
    let cfg = briefs::BriefConfig::default();
    for zone in [
        "UTC",
        "Europe/Kyiv",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "America/St_Johns",
        "Pacific/Kiritimati",
    ] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let date = now.with_timezone(&tz).date_naive();
        let w = briefs::Window::new(
            "ceo",
            tz,
            date,
            chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            now,
            None,
            &cfg,
        )
        .unwrap();
        // A cost a millisecond before the range, of a project nobody else
        // has: where the range's first UTC day is read as the whole day
        // less its hours outside the range (St John's, Chatham,
        // Kiritimati), its sums are added and taken away again, and it
        // must not show as a row of $0.
        let ghost = format!("ghost-{zone}");
        common::add_cost(
            store,
            "ops",
            Some(&ghost),
            "m",
            1.0,
            ms(w.week_start).min(ms(w.month_start)) - 1,
        )
        .await;
        let input = store.brief_input(&w, 10).await.unwrap();
        assert!(
            !input
                .spend
                .iter()
                .any(|s| s.project_id.as_deref() == Some(ghost.as_str())),
            "{zone}: a row for spend outside the range"
        );
        let (day, week, month, cut) = (
            ms(w.day_start),
            ms(w.week_start),
            ms(w.month_start),
            ms(w.until),
        );
        for (agent, project) in [
            ("coder", Some("app")),
            ("coder", None),
            ("ops", Some("app")),
            ("ops", None),
        ] {
            let sum = |from: i64, to: i64| -> f64 {
                rows.iter()
                    .filter(|r| r.0 == agent && r.1.as_deref() == project)
                    // Up to the cut-off's millisecond included.
                    .filter(|r| r.3 >= from && r.3 < if to == cut { cut + 1 } else { to })
                    .map(|r| r.2)
                    .sum()
            };
            let got = input
                .spend
                .iter()
                .find(|s| s.agent_id == agent && s.project_id.as_deref() == project)
                .unwrap_or_else(|| panic!("{zone}: no spend row for {agent} {project:?}"));
            assert_eq!(
                got.today_usd,
                sum(day, cut),
                "{zone} {agent} {project:?} today"
            );
            assert_eq!(
                got.week_usd,
                sum(week, day),
                "{zone} {agent} {project:?} week"
            );
            assert_eq!(
                got.month_usd,
                sum(month, cut),
                "{zone} {agent} {project:?} month"
            );
        }
    }
    hub.stop().await;
}
both_dbs!(spend_equals_the_raw_rows_in_every_zone, |db: &TestDb| {
    spend_equals_the_raw_rows_in_every_zone_body(db)
});

async fn bad_requests_body(db: &TestDb) {
    let hub = TestHub::start(db, "", vec![]).await;
    for (query, needle) in [
        (
            "date=2025-13-01",
            "date: expected YYYY-MM-DD, got \"2025-13-01\"",
        ),
        ("date=yesterday", "date: expected YYYY-MM-DD"),
        ("date=2999-01-01", "date: 2999-01-01 is after today"),
    ] {
        let (status, body) = hub.get(&format!("/api/v1/brief?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {body}");
    }
    let (status, body) = hub.get("/api/v1/brief?person=nobody").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("nobody"));
    // A key without brief:read is refused.
    let key = common::server::make_key(hub.store(), &["tasks:read"]).await;
    let res = hub
        .http
        .get(format!("{}/api/v1/brief", hub.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    hub.stop().await;
}
both_dbs!(bad_requests, |db: &TestDb| bad_requests_body(db));

fn llm_toml(base: &str, timeout_ms: u64) -> String {
    format!(
        "[brief]\nenabled = false\n[brief.llm]\nenabled = true\nbase_url = \"{base}\"\nmodel = \"gpt-4o-mini\"\napi_key = \"{KEY}\"\ntimeout_ms = {timeout_ms}\nusd_per_1k_input = 0.15\nusd_per_1k_output = 0.6\n"
    )
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 10).unwrap()
}

async fn summary_cost(store: &Store) -> Vec<commands::CostLine> {
    store
        .cost_summary(
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            commands::CostBy::Agent,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.key == "orkhub-brief")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_summary_success_is_in_the_brief_and_costs_are_recorded() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Answer(
        "Two tasks are overdue <b>now</b>; ops is over budget.".into(),
        1200,
        80,
    ))
    .await;
    let hub = TestHub::start(&db, &(llm_toml(&llm.base, 5_000) + AGENTS), vec![]).await;
    seed(hub.store()).await;
    let state = &hub.running.as_ref().unwrap().state;
    let (brief, message) = state
        .brief
        .compose(hub.store(), "ceo", Some(day()), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        brief.summary.as_deref(),
        Some("Two tasks are overdue <b>now</b>; ops is over budget.")
    );
    // The model saw the brief's plain text, and the summary is escaped per format.
    let asked = llm.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["model"], "gpt-4o-mini");
    let prompt = asked[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("OVERDUE (2)"), "{prompt}");
    // The message carries the brief with its summary; Telegram renders it.
    match &message.document {
        Some(commands::message::Document::Brief(b)) => assert_eq!(b.summary, brief.summary),
        other => panic!("no brief in the message: {other:?}"),
    }
    let html = adapters::telegram::render::parts(&message, &Default::default())
        .unwrap()
        .concat();
    assert!(
        html.contains("<i>Two tasks are overdue &lt;b&gt;now&lt;/b&gt;; ops is over budget.</i>"),
        "{html}"
    );
    // Approve/Deny for the pending decision.
    let labels: Vec<&str> = message.buttons.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["Approve #1", "Deny #1"]);
    let lines = summary_cost(hub.store()).await;
    assert_eq!(lines.len(), 1, "one cost row for the summary");
    assert_eq!(lines[0].records, 1);
    assert!(
        (lines[0].cost_usd - (1.2 * 0.15 + 0.08 * 0.6)).abs() < 1e-9,
        "{lines:?}"
    );
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_error_sends_the_brief_without_a_summary() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Fail).await;
    let hub = TestHub::start(&db, &(llm_toml(&llm.base, 5_000) + AGENTS), vec![]).await;
    seed(hub.store()).await;
    let state = &hub.running.as_ref().unwrap().state;
    let (brief, message) = state
        .brief
        .compose(hub.store(), "ceo", Some(day()), Utc::now())
        .await
        .unwrap();
    // async-openai 0.43 retries 5xx and 429 itself (three retries, 100 ms
    // doubling): four requests, all well inside the timeout.
    assert_eq!(llm.requests().len(), 4, "the endpoint was asked");
    assert_eq!(brief.summary, None);
    assert!(message.text.contains("OVERDUE (2)"));
    assert!(
        summary_cost(hub.store()).await.is_empty(),
        "no cost without usage"
    );
    hub.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_timeout_sends_the_brief_on_time_without_a_summary() {
    let db = TestDb::sqlite().await;
    let llm = OpenAiServer::start(Mode::Slow(std::time::Duration::from_secs(5))).await;
    let hub = TestHub::start(&db, &(llm_toml(&llm.base, 300) + AGENTS), vec![]).await;
    seed(hub.store()).await;
    let state = &hub.running.as_ref().unwrap().state;
    let started = std::time::Instant::now();
    let (brief, _) = state
        .brief
        .compose(hub.store(), "ceo", Some(day()), Utc::now())
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(brief.summary, None);
    assert!(
        took < std::time::Duration::from_millis(2_000),
        "the brief waited {took:?} for a 300 ms timeout"
    );
    assert!(summary_cost(hub.store()).await.is_empty());
    hub.stop().await;
    db.finish().await;
}

/// A person whose 00:00 UTC brief is always due today.
const EARLY: &str = r#"
[brief]
enabled = true
[[people]]
id = "early"
role = "member"
time_zone = "UTC"
brief_time = "00:00"
push = ["console"]
"#;

async fn wait_for_briefs(store: &Store, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let ids = store.notification_ids("early", "brief").await.unwrap();
        if ids.len() >= n {
            return ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no brief for early");
}

async fn once_across_restart_body(db: &TestDb) {
    let mut hub = TestHub::start(db, EARLY, vec![]).await;
    let first = wait_for_briefs(hub.store(), 1).await;
    // The console got it, through the outbox, as the plain-text rendering.
    let mut printed = String::new();
    for _ in 0..200 {
        while let Ok(line) = hub.console.try_recv() {
            printed.push_str(&line);
        }
        if printed.contains("Brief for early") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(printed.contains("Brief for early"), "{printed}");
    assert!(printed.contains("ACTIVITY since"), "{printed}");
    // More ticks in the same process, even at once, queue nothing more.
    let state = hub.running.as_ref().unwrap().state.clone();
    let jobs: Vec<Arc<dyn hub::schedule::DailyJob>> = vec![Arc::new(hub::brief::job::BriefJob {
        service: state.brief.clone(),
        email_fallback: true,
    })];
    let job_hub = state.jobs();
    tokio::join!(
        hub::schedule::tick(&job_hub, &jobs),
        hub::schedule::tick(&job_hub, &jobs)
    );
    drop(state);
    hub.stop().await;
    // A restart on the same database: the slot is already claimed.
    let hub = TestHub::start(db, EARLY, vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    hub::schedule::tick(&state.jobs(), &jobs).await;
    drop(state);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = hub
        .store()
        .notification_ids("early", "brief")
        .await
        .unwrap();
    assert_eq!(after, first, "exactly one brief for the day");
    hub.stop().await;
}
both_dbs!(once_across_restart, |db: &TestDb| once_across_restart_body(
    db
));

async fn chat_brief_is_the_real_brief_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    seed(hub.store()).await;
    let person = commands::Person {
        id: "ceo".into(),
        display_name: "ceo".into(),
        role: commands::Role::Owner,
    };
    use commands::Backend;
    let m = hub.backend().brief(&person).await.unwrap();
    // Today's brief (not the seeded past day): what is open now.
    let text = m.plain_text();
    assert!(text.starts_with("Brief for ceo — "), "{text}");
    assert!(
        text.contains("You have 2 open tasks (1 overdue)."),
        "{text}"
    );
    // The owner may decide it: it leads the brief, under "Needs you".
    assert!(
        text.contains("NEEDS YOU (4)\n- Decision #1 deploy:"),
        "{text}"
    );
    // It carries the brief itself: each platform renders it as it sends it.
    assert!(
        matches!(&m.document, Some(commands::message::Document::Brief(b)) if b.person == "ceo"),
        "{:?}",
        m.document
    );
    assert_eq!(m.buttons.len(), 2);
    hub.stop().await;
}
both_dbs!(chat_brief_is_the_real_brief, |db: &TestDb| {
    chat_brief_is_the_real_brief_body(db)
});

// ---- The scheduled brief: once per slot, LLM once, fallbacks, concurrency ----

/// People whose 00:00 UTC brief is always due today. The hub's own
/// scheduler sends no briefs here ([brief] enabled = false); the tests run
/// their own job with its own settings.
fn people(ids: &[&str]) -> String {
    let mut out = "[brief]\nenabled = false\n".to_string();
    for id in ids {
        out.push_str(&format!(
            "[[people]]\nid = \"{id}\"\nrole = \"member\"\ntime_zone = \"UTC\"\nbrief_time = \"00:00\"\npush = [\"console\"]\n"
        ));
    }
    out
}

fn job_config(llm: Option<(&str, u64)>) -> briefs::BriefConfig {
    let mut cfg = briefs::BriefConfig {
        templates_dir: String::new(),
        ..Default::default()
    };
    if let Some((base, timeout_ms)) = llm {
        cfg.llm = briefs::LlmConfig {
            enabled: true,
            base_url: base.to_string(),
            api_key: KEY.into(),
            timeout_ms,
            usd_per_1k_input: 0.15,
            usd_per_1k_output: 0.6,
            ..Default::default()
        };
    }
    cfg
}

fn brief_job(cfg: &briefs::BriefConfig) -> Arc<BriefJob> {
    Arc::new(BriefJob {
        service: Arc::new(hub::brief::BriefService::new(cfg)),
        email_fallback: true,
    })
}

fn today_slot(person: &str) -> hub::schedule::Slot {
    hub::schedule::due_slot(person, chrono_tz::UTC, chrono::NaiveTime::MIN, Utc::now())
        .expect("a 00:00 UTC slot is always due")
}

/// A person's only brief as stored: its notification's message.
async fn stored_brief(store: &Store, person: &str) -> commands::RichMessage {
    let ids = store.notification_ids(person, "brief").await.unwrap();
    assert_eq!(ids.len(), 1, "{person}: {ids:?}");
    let row: (Option<String>, String, String) =
        sqlx::query_as("SELECT title, body, fields FROM notifications WHERE id = $1")
            .bind(&ids[0])
            .fetch_one(store.pool())
            .await
            .unwrap();
    let stored: Value = serde_json::from_str(&row.2).unwrap();
    assert!(stored.get("preformatted").is_none(), "{stored}");
    assert_eq!(stored["document"]["type"], "brief", "{stored}");
    hub::dispatch::message::stored_message(row.0, row.1, &row.2).0
}

async fn concurrent_runs_of_one_slot_ask_the_llm_once_body(db: &TestDb) {
    let llm = OpenAiServer::start(Mode::Slow(std::time::Duration::from_millis(400))).await;
    let hub = TestHub::start(db, &people(&["early"]), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    // Two instances' jobs (or two ticks) at the same slot at the same time.
    let (a, b) = (
        brief_job(&job_config(Some((&llm.base, 5_000)))),
        brief_job(&job_config(Some((&llm.base, 5_000)))),
    );
    let person = state.dir.person("early").unwrap();
    let slot = today_slot("early");
    let job_hub = state.jobs();
    let (ra, rb) = tokio::join!(
        a.run(&job_hub, person, &slot),
        b.run(&job_hub, person, &slot)
    );
    ra.unwrap();
    rb.unwrap();
    assert_eq!(llm.requests().len(), 1, "the LLM was asked once");
    let ids = hub
        .store()
        .notification_ids("early", "brief")
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "one brief");
    let lines = summary_cost(hub.store()).await;
    assert_eq!(lines.iter().map(|l| l.records).sum::<u64>(), 1, "one cost");
    // Later ticks find the slot done.
    a.run(&state.jobs(), person, &slot).await.unwrap();
    assert_eq!(llm.requests().len(), 1);
    drop(state);
    hub.stop().await;
}
both_dbs!(
    concurrent_runs_of_one_slot_ask_the_llm_once,
    |db: &TestDb| { concurrent_runs_of_one_slot_ask_the_llm_once_body(db) }
);

async fn a_broken_template_falls_back_and_the_llm_is_asked_once_body(db: &TestDb) {
    let llm = OpenAiServer::start(Mode::Answer("All calm.".into(), 100, 10)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("brief")).unwrap();
    std::fs::write(dir.path().join("brief/discord.md.hbs"), "{{no_such_field}}").unwrap();
    std::fs::write(
        dir.path().join("brief/telegram.html.hbs"),
        "<b>edited</b> {{trunc summary 100}}",
    )
    .unwrap();
    let mut cfg = job_config(Some((&llm.base, 5_000)));
    cfg.templates_dir = dir.path().display().to_string();
    let job = brief_job(&cfg);
    let hub = TestHub::start(db, &people(&["early"]), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let person = state.dir.person("early").unwrap();
    let slot = today_slot("early");
    // As the scheduler would: a run, then the next tick's run.
    job.run(&state.jobs(), person, &slot).await.unwrap();
    job.run(&state.jobs(), person, &slot).await.unwrap();
    assert_eq!(llm.requests().len(), 1);
    assert_eq!(
        summary_cost(hub.store())
            .await
            .iter()
            .map(|l| l.records)
            .sum::<u64>(),
        1
    );
    let m = stored_brief(hub.store(), "early").await;
    // As the adapters render it when they send it, from the same
    // directory: the broken format from the built-in template, the others
    // (edited or not) as usual, with the summary.
    let templates = adapters::template::Templates::new(Some(dir.path().to_path_buf()));
    let discord = adapters::discord::render::render(&m, &templates)
        .unwrap()
        .parts
        .concat();
    assert!(discord.starts_with("**Brief for early**"), "{discord}");
    assert!(discord.contains("*All calm.*"), "{discord}");
    let telegram = adapters::telegram::render::parts(&m, &templates).unwrap();
    assert_eq!(telegram, ["<b>edited</b> All calm."]);
    assert!(m.plain_text().contains("All calm."));
    drop(state);
    hub.stop().await;
}
both_dbs!(
    a_broken_template_falls_back_and_the_llm_is_asked_once,
    |db: &TestDb| { a_broken_template_falls_back_and_the_llm_is_asked_once_body(db) }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_briefed_concurrently() {
    // Each summary takes 1.5 s: one after the other, two people take 3 s.
    let llm = OpenAiServer::start(Mode::Slow(std::time::Duration::from_millis(1_500))).await;
    let db = TestDb::sqlite().await;
    let hub = TestHub::start(&db, &people(&["early", "also"]), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let mut cfg = job_config(Some((&llm.base, 5_000)));
    cfg.enabled = true;
    let jobs: Vec<Arc<dyn DailyJob>> = vec![brief_job(&cfg)];
    let started = std::time::Instant::now();
    hub::schedule::tick_at(&state.jobs(), &jobs, Utc::now()).await;
    let took = started.elapsed();
    for p in ["early", "also"] {
        assert_eq!(
            hub.store()
                .notification_ids(p, "brief")
                .await
                .unwrap()
                .len(),
            1,
            "{p}"
        );
    }
    assert!(
        took < std::time::Duration::from_millis(2_700),
        "briefs waited on each other: {took:?}"
    );
    drop(state);
    hub.stop().await;
    db.finish().await;
}

async fn the_next_brief_starts_where_the_last_one_ended_body(db: &TestDb) {
    let hub = TestHub::start(db, &people(&["early"]), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let person = state.dir.person("early").unwrap();
    // Yesterday's brief, built late (a catch-up): its window ends at its
    // own time, yesterday 00:00 UTC, long before it was claimed.
    let today = Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let due = yesterday.and_time(chrono::NaiveTime::MIN).and_utc();
    let slot = hub::schedule::Slot {
        person: "early".into(),
        date: yesterday,
        due_at: due,
    };
    brief_job(&job_config(None))
        .run(&state.jobs(), person, &slot)
        .await
        .unwrap();
    // A task created in between: after yesterday's window, before now.
    let created = ms(due) + 60_000;
    hub.store()
        .bulk_insert(
            "tasks",
            &[
                "title",
                "status",
                "priority",
                "created_by",
                "created_at",
                "updated_at",
            ],
            &[vec![
                V::Text("In the gap".into()),
                V::Text("created".into()),
                V::Text("low".into()),
                V::Text("early".into()),
                V::Int(created),
                V::Int(created),
            ]],
        )
        .await
        .unwrap();
    let (status, b) = hub.get("/api/v1/brief?person=early").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        b["period"]["since"],
        due.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    assert_eq!(b["activity"]["tasks_created"], 1, "{b}");
    drop(state);
    hub.stop().await;
}
both_dbs!(
    the_next_brief_starts_where_the_last_one_ended,
    |db: &TestDb| { the_next_brief_starts_where_the_last_one_ended_body(db) }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brief_whose_chat_channel_fails_goes_out_by_email() {
    let smtp = SmtpServer::start();
    let db = TestDb::sqlite().await;
    let extra = format!(
        "{}[brief]\nenabled = false\n[[people]]\nid = \"fay\"\nemail = \"fay@example.com\"\ntime_zone = \"UTC\"\nbrief_time = \"00:00\"\npush = [\"telegram\"]\nidentities = {{ telegram = \"77\" }}\n",
        smtp.toml()
    );
    let telegram = ScriptedAdapter::new(
        routing::ChannelKind::Telegram,
        vec![Err(adapters::SendError::permanent(
            "Forbidden: bot was blocked by the user",
        ))],
    );
    let hub = TestHub::start(&db, &extra, vec![telegram.clone()]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let person = state.dir.person("fay").unwrap();
    brief_job(&job_config(None))
        .run(&state.jobs(), person, &today_slot("fay"))
        .await
        .unwrap();
    let raw = smtp.wait_for(1).await.remove(0);
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        m.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("fay@example.com")
    );
    assert!(
        m.subject().unwrap().starts_with("Brief for fay"),
        "{:?}",
        m.subject()
    );
    assert!(m.body_text(0).unwrap().contains("ACTIVITY since"));
    assert_eq!(
        telegram.calls.lock().unwrap().len(),
        1,
        "telegram was tried first"
    );
    drop(state);
    hub.stop().await;
    db.finish().await;
}

// ---- A past date shows that day's state ----

async fn a_past_date_shows_that_days_state_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    let store = hub.store();
    let u = until();
    let h = |n: i64| ms(u - Duration::hours(n));
    let later = ms(u + Duration::hours(1));
    let task = |id: i64,
                title: &str,
                status: &str,
                due: Option<i64>,
                created: i64,
                completed: Option<i64>| {
        vec![
            V::Int(id),
            V::Text(title.into()),
            V::Text(status.into()),
            V::Text("urgent".into()),
            V::Text("person".into()),
            V::Text("ceo".into()),
            due.map_or(V::NullInt, V::Int),
            V::Text("ceo".into()),
            V::Int(created),
            V::Int(created),
            completed.map_or(V::NullInt, V::Int),
        ]
    };
    insert_tasks(
        store,
        &[
            // Open at the cut-off, overdue and past its SLA; done since.
            task(
                10,
                "Done later",
                "completed",
                Some(utc(2025, 7, 5, 0, 0)),
                h(30),
                Some(later),
            ),
            // Open at the cut-off (no due date); done since.
            task(12, "Done later too", "completed", None, h(1), Some(later)),
            // Did not exist yet at the cut-off.
            task(
                11,
                "Created later",
                "in_progress",
                Some(utc(2025, 7, 1, 0, 0)),
                later,
                None,
            ),
        ],
    )
    .await;
    let decision = |kind: &str, status: &str, decided: Option<i64>, created: i64| {
        vec![
            V::Text(kind.into()),
            V::Text("context".into()),
            V::Text(status.into()),
            V::Text("agent:coder".into()),
            decided.map_or(V::NullInt, V::Int),
            V::Int(created),
        ]
    };
    insert_decisions(
        store,
        &[
            decision("decided-later", "approved", Some(later), h(2)),
            decision("asked-later", "pending", None, later),
            decision("still-pending", "pending", None, h(1)),
        ],
    )
    .await;
    let (status, b) = hub.get("/api/v1/brief?date=2025-07-10&person=ceo").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        b["mine"],
        serde_json::json!({"open": 2, "overdue": 1}),
        "{b}"
    );
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        (b["overdue"]["total"].as_i64(), ids(&b["overdue"]["tasks"])),
        (Some(1), vec![10])
    );
    assert_eq!(
        (
            b["sla_breaches"]["total"].as_i64(),
            ids(&b["sla_breaches"]["tasks"])
        ),
        (Some(1), vec![10])
    );
    let kinds: Vec<&str> = b["pending_decisions"]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(b["pending_decisions"]["total"], 2);
    assert_eq!(kinds, ["decided-later", "still-pending"]);
    // Today's brief sees today's state: 11 is open and overdue, 10 and 12 done.
    let (_, now) = hub.get("/api/v1/brief?person=ceo").await;
    assert_eq!(ids(&now["overdue"]["tasks"]), vec![11]);
    assert_eq!(now["mine"], serde_json::json!({"open": 1, "overdue": 1}));
    assert_eq!(now["pending_decisions"]["total"], 2);
    hub.stop().await;
}
both_dbs!(a_past_date_shows_that_days_state, |db: &TestDb| {
    a_past_date_shows_that_days_state_body(db)
});

// ---- Config ----

#[test]
fn negative_or_non_finite_budgets_are_refused_naming_the_key() {
    for (toml, key) in [
        (
            "[[projects]]\nid = \"app\"\nbudget_usd = -1.0\n",
            "projects.app.budget_usd",
        ),
        (
            "[[agents]]\nid = \"coder\"\ndaily_budget_usd = -0.5\n",
            "agents.coder.daily_budget_usd",
        ),
        (
            "[[agents]]\nid = \"coder\"\ndaily_budget_usd = nan\n",
            "agents.coder.daily_budget_usd",
        ),
        (
            "[[projects]]\nid = \"app\"\nbudget_usd = inf\n",
            "projects.app.budget_usd",
        ),
    ] {
        let err = hub::config::Config::from_toml(toml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains("budget"), "{toml}: {err}");
    }
    assert!(
        hub::config::Config::from_toml(
            "[[projects]]\nid = \"app\"\nbudget_usd = 0.0\n[[agents]]\nid = \"a\"\ndaily_budget_usd = 2.5\n"
        )
        .is_ok()
    );
}

// ---- orkhub brief --preview: the built binary ----

struct Preview {
    code: i32,
    stdout: String,
    stderr: String,
}

fn preview(config: &std::path::Path, args: &[&str]) -> Preview {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orkhub"))
        .arg("--config")
        .arg(config)
        .arg("brief")
        .args(args)
        .env_remove("ORKHUB_CONFIG")
        .env_remove("ORKHUB_LOG")
        .env("ORKHUB_LOG", "error")
        .output()
        .expect("run orkhub");
    Preview {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Rows in every table a preview could write to.
async fn written(store: &Store) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "costs",
        "people",
        "preferences",
        "agents",
        "projects",
        "scheduled_runs",
        "notifications",
        "deliveries",
        "audit_log",
        "button_tokens",
    ] {
        let n: (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(store.pool())
                .await
                .unwrap_or((-1,));
        out.push(n.0);
    }
    out
}

async fn cli_preview_body(db: &TestDb) {
    let llm = OpenAiServer::start(Mode::Answer("Preview summary.".into(), 100, 10)).await;
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    seed(hub.store()).await;
    hub.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // People, agents and projects here differ from the database's: a
    // preview must not write them (the hub seeds at its start).
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[log]\nlevel = \"error\"\n[brief]\ntemplates_dir = \"\"\n[brief.llm]\nenabled = true\nbase_url = \"{}\"\napi_key = \"{KEY}\"\ntimeout_ms = 5000\nusd_per_1k_input = 0.15\n[[people]]\nid = \"newcomer\"\n[[agents]]\nid = \"new-agent\"\n",
            db.url(),
            llm.base
        ),
    )
    .unwrap();
    let store = Store::open(&db.url(), 2).await.unwrap();
    let before = written(&store).await;

    let text = preview(
        &config,
        &["--preview", "--person", "ceo", "--date", "2025-07-10"],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .starts_with("Brief for ceo — 2025-07-10 (Europe/Kyiv)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("OVERDUE (2)"), "{}", text.stdout);

    let json = preview(
        &config,
        &["--preview", "--format", "json", "--date", "2025-07-10"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let b: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (b["person"].as_str(), b["overdue"]["total"].as_i64()),
        (Some("ceo"), Some(2))
    );
    assert_eq!(f(&b["budget"]["month_forecast_usd"]), 166.9867);
    assert_eq!(b["summary"], Value::Null, "no LLM without --summary");

    let slack = preview(
        &config,
        &[
            "--preview",
            "--format",
            "slack-blocks",
            "--date",
            "2025-07-10",
        ],
    );
    assert_eq!(slack.code, 0, "{}", slack.stderr);
    assert!(
        serde_json::from_str::<Vec<Value>>(&slack.stdout).is_ok(),
        "{}",
        slack.stdout
    );

    // Read-only: nothing written, the LLM never asked.
    assert!(llm.requests().is_empty());
    assert_eq!(written(&store).await, before);

    let bad = preview(&config, &["--preview", "--format", "bogus"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("\"bogus\"")
            && bad.stderr.contains("slack-blocks")
            && bad.stderr.contains("json"),
        "{}",
        bad.stderr
    );
    let bad_date = preview(&config, &["--preview", "--date", "10/07/2025"]);
    assert_eq!(bad_date.code, 2, "{}", bad_date.stderr);
    assert!(
        bad_date.stderr.contains("YYYY-MM-DD"),
        "{}",
        bad_date.stderr
    );
    let future = preview(&config, &["--preview", "--date", "2999-01-01"]);
    assert_eq!(future.code, 1);
    assert!(
        future.stderr.contains("--date: 2999-01-01 is after today"),
        "{}",
        future.stderr
    );
    let nobody = preview(&config, &["--preview", "--person", "newcomer"]);
    assert_eq!(nobody.code, 1);
    assert!(
        nobody.stderr.contains("no person \"newcomer\""),
        "{}",
        nobody.stderr
    );
    assert_eq!(written(&store).await, before);

    // --summary opts in: one LLM call, its cost recorded.
    let with = preview(&config, &["--preview", "--summary", "--date", "2025-07-10"]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert!(with.stdout.contains("Preview summary."), "{}", with.stdout);
    assert_eq!(llm.requests().len(), 1);
    let after = written(&store).await;
    assert_eq!(after[0], before[0] + 1, "one cost row");
    assert_eq!(after[1..], before[1..]);
    store.close().await;
}
both_dbs!(cli_preview, |db: &TestDb| cli_preview_body(db));

#[test]
fn cli_preview_refuses_a_missing_database_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let db = dir.path().join("nowhere/hub.db");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let out = preview(&config, &["--preview"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no database at"), "{}", out.stderr);
    assert!(!db.exists());
}

// ---- Slot reservations (the brief claims its slot before building it) ----

async fn slot_reservations_body(db: &TestDb) {
    let store = db.store();
    let now = hub::store::now_ms();
    let n = notification_for("p");
    // Reserved: no one else gets it, and ticks see it as taken.
    assert!(
        store
            .reserve_slot("brief", "p:1", "a", now, now + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reserve_slot("brief", "p:1", "b", now, now + 60_000)
            .await
            .unwrap()
    );
    assert!(store.slot_done("brief", "p:1").await.unwrap());
    // Given back after a failure: free at once.
    store.release_slot("brief", "p:1", "b").await.unwrap();
    assert!(
        store.slot_done("brief", "p:1").await.unwrap(),
        "only its holder gives it back"
    );
    store.release_slot("brief", "p:1", "a").await.unwrap();
    assert!(!store.slot_done("brief", "p:1").await.unwrap());
    // A lease that ran out (its builder crashed) is taken over, and the
    // first holder can no longer complete it.
    assert!(
        store
            .reserve_slot("brief", "p:1", "a", now - 10_000, now - 1)
            .await
            .unwrap()
    );
    assert!(!store.slot_done("brief", "p:1").await.unwrap());
    assert!(
        store
            .reserve_slot("brief", "p:1", "b", now, now + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .queue_brief("p:1", "a", now, None, &n, &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .queue_brief("p:1", "b", now - 5, None, &n, &[])
            .await
            .unwrap()
    );
    // Done: never reserved again, whatever the clock says.
    assert!(
        !store
            .reserve_slot("brief", "p:1", "c", now + 10_000_000, now + 20_000_000)
            .await
            .unwrap()
    );
    assert!(store.slot_done("brief", "p:1").await.unwrap());
    assert_eq!(store.notification_ids("p", "brief").await.unwrap().len(), 1);
    assert_eq!(
        store.last_brief_until("p", now).await.unwrap(),
        Some(now - 5)
    );
}
both_dbs!(slot_reservations, |db: &TestDb| slot_reservations_body(db));

fn notification_for(person: &str) -> hub::store::NewNotification {
    hub::store::NewNotification {
        id: format!("n_{person}_brief"),
        source: "system".into(),
        kind: "brief".into(),
        urgency: "info",
        recipient_kind: "person",
        recipient_id: person.into(),
        project_id: None,
        title: None,
        body: "brief".into(),
        fields_json: "{}".into(),
        decision_id: None,
        dedupe_key: None,
        duplicate: false,
        created_at: 1,
    }
}

/// Insert task rows (columns in the order below) as they would stand in the
/// database, bypassing the command layer.
async fn insert_tasks(store: &Store, rows: &[Vec<V>]) {
    const TASK_COLUMNS: &[&str] = &[
        "id",
        "title",
        "status",
        "priority",
        "assignee_kind",
        "assignee_id",
        "due_at",
        "created_by",
        "created_at",
        "updated_at",
        "completed_at",
    ];
    store
        .bulk_insert("tasks", TASK_COLUMNS, rows)
        .await
        .unwrap();
}

async fn insert_decisions(store: &Store, rows: &[Vec<V>]) {
    const DECISION_COLUMNS: &[&str] = &[
        "kind",
        "context",
        "status",
        "requested_by",
        "decided_at",
        "created_at",
    ];
    store
        .bulk_insert("decisions", DECISION_COLUMNS, rows)
        .await
        .unwrap();
}

// ---- Rendered when sent; rows queued by the previous version ----

/// Tess, briefed on Telegram only, with the hub's templates in `dir`.
fn tess_toml(tg: &TelegramServer, dir: &std::path::Path) -> String {
    format!(
        "{}[brief]\nenabled = false\ntemplates_dir = \"{}\"\n[[people]]\nid = \"tess\"\ntime_zone = \"UTC\"\nbrief_time = \"00:00\"\npush = [\"telegram\"]\nidentities = {{ telegram = \"{TESS_CHAT}\" }}\n",
        tg.config(""),
        dir.display()
    )
}

const TESS_CHAT: i64 = 4242;

async fn a_template_edited_after_the_brief_was_queued_is_the_one_sent_body(db: &TestDb) {
    let tg = TelegramServer::start().await;
    tg.add_chats(&[TESS_CHAT]);
    // Every send to Tess is answered 429 (retry after 1 s) until lifted:
    // the brief waits in the outbox, queued.
    tg.limit(TESS_CHAT, 0, std::time::Duration::from_secs(600), 1);
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(db, &tess_toml(&tg, dir.path()), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let person = state.dir.person("tess").unwrap();
    brief_job(&job_config(None))
        .run(&state.jobs(), person, &today_slot("tess"))
        .await
        .unwrap();
    tg.wait_for("the brief's first send", 10, |t| t.rate_limited() >= 1)
        .await;
    // Queued and tried already; now the template is edited.
    std::fs::create_dir_all(dir.path().join("telegram")).unwrap();
    std::fs::write(
        dir.path().join("telegram/brief.html.hbs"),
        "<b>Edited after queueing</b> for {{person_name}}",
    )
    .unwrap();
    tg.limit(TESS_CHAT, 100, std::time::Duration::from_secs(1), 1);
    tg.wait_for("the brief", 10, |t| !t.messages(TESS_CHAT).is_empty())
        .await;
    let sent = tg.messages(TESS_CHAT);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].html, "<b>Edited after queueing</b> for tess");
    // What was queued is the brief itself, not its renderings.
    let m = stored_brief(hub.store(), "tess").await;
    assert!(m.text.starts_with("Brief for tess — "), "{}", m.text);
    drop(state);
    hub.stop().await;
}
both_dbs!(
    a_template_edited_after_the_brief_was_queued_is_the_one_sent,
    |db: &TestDb| { a_template_edited_after_the_brief_was_queued_is_the_one_sent_body(db) }
);

async fn a_brief_queued_by_the_previous_version_is_still_delivered_body(db: &TestDb) {
    let tg = TelegramServer::start().await;
    tg.add_chats(&[TESS_CHAT]);
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(db, &tess_toml(&tg, dir.path()), vec![]).await;
    let state = hub.running.as_ref().unwrap().state.clone();
    let person = state.dir.person("tess").unwrap();
    // A row as the previous version queued it: the plain text as the body,
    // every format pre-rendered in `preformatted`, no document.
    let plain = "Brief for tess — 2026-07-01 (UTC)\n\nNEEDS YOU\nNothing needs you.";
    let message = commands::RichMessage::titled("Brief for tess — 2026-07-01", plain);
    let now = Utc::now().timestamp_millis();
    let (mut notification, deliveries) = hub::brief::job::outbox_rows(person, &message, now, false);
    notification.fields_json = serde_json::json!({
        "preformatted": {
            "telegram_html": "<b>OLD RENDERING</b>",
            "slack_mrkdwn": "*OLD*",
            "slack_blocks": "[]",
            "discord_markdown": "**OLD**",
            "email_html": "<p>OLD</p>",
            "plain_text": plain,
        }
    })
    .to_string();
    let store = hub.store();
    assert!(
        store
            .reserve_slot("brief", "tess:legacy", "old", now, now + 60_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .queue_brief("tess:legacy", "old", now, None, &notification, &deliveries)
            .await
            .unwrap()
    );
    // And a digest as it was queued: a count line as its body, a first line
    // per item as its fields, the whole listing only in `preformatted`.
    let digest = hub::store::NewNotification {
        id: format!("{}-digest", notification.id),
        kind: "digest".into(),
        title: Some("Your orkhub digest for 2026-07-01: 1 item".into()),
        body: "1 waiting since your last digest.".into(),
        fields_json: serde_json::json!({
            "fields": [{"name": "web · report (1)", "value": "• Nightly run"}],
            "preformatted": {
                "plain_text": "Your orkhub digest for 2026-07-01: 1 item\n\nweb / report (1)\n- 2026-07-01 09:00 Nightly run\nall 40 jobs passed (ci)",
                "email_html": "<p>OLD</p>",
            }
        })
        .to_string(),
        ..notification.clone()
    };
    let digest_delivery: Vec<_> = deliveries
        .iter()
        .filter(|d| d.channel == "telegram")
        .map(|d| hub::store::NewDelivery {
            id: format!("{}-digest", d.id),
            notification_id: digest.id.clone(),
            ..d.clone()
        })
        .collect();
    assert!(
        store
            .reserve_slot("brief", "tess:legacy-digest", "old", now, now + 60_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .queue_brief(
                "tess:legacy-digest",
                "old",
                now,
                None,
                &digest,
                &digest_delivery
            )
            .await
            .unwrap()
    );
    state.wake.notify_one();
    tg.wait_for("the legacy rows", 10, |t| t.messages(TESS_CHAT).len() == 2)
        .await;
    let sent = tg.messages(TESS_CHAT);
    // Their plain text, in Telegram's own rendering of a message.
    assert_eq!(
        sent[0].text,
        "Brief for tess — 2026-07-01\n\nBrief for tess — 2026-07-01 (UTC)\n\nNEEDS YOU\nNothing needs you."
    );
    // The digest's whole listing, in place of its first-line fields.
    assert_eq!(
        sent[1].text,
        "Your orkhub digest for 2026-07-01: 1 item\n\nYour orkhub digest for 2026-07-01: 1 item\n\nweb / report (1)\n- 2026-07-01 09:00 Nightly run\nall 40 jobs passed (ci)"
    );
    for id in [&notification.id, &digest.id] {
        let status = hub.settled(id).await;
        assert_eq!(
            common::server::delivery(&status, "telegram")["status"],
            "sent",
            "{status}"
        );
    }
    drop(state);
    hub.stop().await;
}
both_dbs!(
    a_brief_queued_by_the_previous_version_is_still_delivered,
    |db: &TestDb| { a_brief_queued_by_the_previous_version_is_still_delivered_body(db) }
);

/// Insert a question as of `created` (answered at `answered`, if given); its id.
async fn insert_question(
    store: &Store,
    text: &str,
    to: &str,
    created: DateTime<Utc>,
    answered: Option<DateTime<Utc>>,
) -> i64 {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO questions (text, asked_by, addressed_to, permission_level, mode, status, \
         answer, answered_by, answered_via, answered_at, created_at) \
         VALUES ($1, 'builder', $2, 'human-required', 'human-required', $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(text)
    .bind(to)
    .bind(if answered.is_some() {
        "answered"
    } else {
        "pending"
    })
    .bind(answered.map(|_| "yes"))
    .bind(answered.map(|_| to))
    .bind(answered.map(|_| "command"))
    .bind(answered.map(ms))
    .bind(ms(created))
    .fetch_one(store.pool())
    .await
    .expect("insert a question");
    id
}

async fn needs_you_lists_questions_body(db: &TestDb) {
    let hub = TestHub::start(db, AGENTS, vec![]).await;
    let store = hub.store();
    let u = until();
    let waiting = insert_question(
        store,
        "Which region for the EU launch?",
        "ceo",
        u - Duration::minutes(90),
        None,
    )
    .await;
    // Answered before the cut-off, asked of someone else, asked after it: not listed.
    insert_question(
        store,
        "Done already?",
        "ceo",
        u - Duration::hours(3),
        Some(u - Duration::hours(2)),
    )
    .await;
    insert_question(store, "Not yours?", "dana", u - Duration::hours(1), None).await;
    insert_question(store, "Tomorrow's?", "ceo", u + Duration::hours(1), None).await;
    // Answered after the cut-off: it was waiting then.
    let later = insert_question(
        store,
        "Rotate the keys?",
        "ceo",
        u - Duration::minutes(20),
        Some(u + Duration::hours(1)),
    )
    .await;

    let (status, b) = hub.get("/api/v1/brief?date=2025-07-10&person=ceo").await;
    assert_eq!(status, 200, "{b}");
    let q = &b["needs_you"]["questions"];
    assert_eq!(q["total"], 2, "{q}");
    assert_eq!(q["questions"][0]["id"], waiting);
    assert_eq!(q["questions"][0]["asked_by"], "builder");
    assert_eq!(q["questions"][0]["waiting_hours"], 1);
    assert_eq!(q["questions"][0]["waiting_minutes"], 90);
    assert_eq!(q["questions"][1]["id"], later);
    assert_eq!(b["needs_you"]["total"], 2, "counted in the total");

    // Every format shows them, with correct plurals.
    let brief: briefs::Brief = serde_json::from_value(b.clone()).expect("the brief's model");
    let renderer = adapters::brief::Renderer::new(None);
    let all: std::collections::BTreeMap<String, String> = adapters::brief::Format::ALL
        .iter()
        .map(|f| {
            (
                format!("{f:?}"),
                renderer.render(&brief, *f).expect("rendered"),
            )
        })
        .collect();
    assert_eq!(all.len(), 6, "{:?}", all.keys());
    for (format, out) in &all {
        assert!(
            out.contains("2 questions waiting for your answer"),
            "{format}: {out}"
        );
        assert!(
            out.contains(&format!("Question #{waiting} from")),
            "{format}: {out}"
        );
        assert!(
            out.contains("Which region for the EU launch?"),
            "{format}: {out}"
        );
        assert!(out.contains("(waiting 1 hour)"), "{format}: {out}");
        assert!(out.contains("(waiting 20 minutes)"), "{format}: {out}");
        assert!(!out.contains("Not yours?"), "{format}: {out}");
    }
    let blocks: Vec<Value> =
        serde_json::from_str(&all["SlackBlocks"]).expect("Slack blocks stay valid JSON");
    assert!(
        blocks[1].to_string().contains("2 questions waiting"),
        "{blocks:?}"
    );
    // One question: "1 question".
    let mut one = brief.clone();
    one.needs_you.questions.total = 1;
    one.needs_you.questions.questions.truncate(1);
    let out = adapters::brief::Renderer::new(None)
        .render(&one, adapters::brief::Format::PlainText)
        .expect("rendered");
    assert!(out.contains("1 question waiting for your answer:"), "{out}");
    hub.stop().await;
}
both_dbs!(
    needs_you_lists_the_questions_waiting_for_the_reader,
    |db: &TestDb| { needs_you_lists_questions_body(db) }
);
