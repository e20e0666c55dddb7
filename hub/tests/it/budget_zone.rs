//! Budget periods follow the company's time zone (`[budgets] time_zone`),
//! not UTC: a cost a minute before Kyiv's midnight belongs to the day (and
//! month) before, one a minute after to the new one — in the budget
//! watcher's alerts (once per local period), `GET /api/v1/agents/me`, the
//! brief's spend (also for a reader in another zone) and the console's
//! Costs page. Kyiv's midnight is 22:00 or 21:00 UTC: both costs fall on
//! one UTC day, so counting by UTC would lump them together.

use crate::common;
use crate::console::{Visitor, link};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Kyiv;
use common::TestDb;
use common::server::TestHub;
use hub::store::NewCost;
use hub::watch::{Watch, WatchJob};

const CONFIG: &str = r##"
[budgets]
time_zone = "Europe/Kyiv"

[watchers]
enabled = false

[[people]]
id = "nyc"
role = "admin"
push = ["console"]
time_zone = "America/New_York"

[[agents]]
id = "spender"
daily_budget_usd = 20.0

[[projects]]
id = "apps"
budget_usd = 100.0
"##;

/// Kyiv's midnight starting `date`.
fn kyiv_midnight(date: NaiveDate) -> DateTime<Utc> {
    Kyiv.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn cost(agent: &str, project: Option<&str>, usd: f64, at: DateTime<Utc>) -> NewCost {
    NewCost {
        agent_id: agent.into(),
        project_id: project.map(str::to_string),
        task_id: None,
        model: "m".into(),
        tokens_in: 0,
        tokens_out: 0,
        usd,
        at: at.timestamp_millis(),
    }
}

fn watch(hub: &TestHub) -> &Watch {
    &hub.running.as_ref().expect("running").watch
}

/// (subject, period, threshold) of every budget alert recorded.
async fn alerts(hub: &TestHub) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT subject, period, threshold FROM budget_alerts ORDER BY at, subject, threshold",
    )
    .fetch_all(hub.store().pool())
    .await
    .unwrap()
}

both_dbs!(
    budget_alerts_count_the_local_day_and_month_and_fire_once_per_local_period,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CONFIG, vec![]).await;
        let w = watch(&hub);
        let store = hub.store();
        // Kyiv's 1 December starts at 22:00 UTC on 30 November.
        let midnight = kyiv_midnight(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(
            midnight,
            Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).unwrap()
        );
        let before = midnight - Duration::minutes(1);
        let after = midnight + Duration::minutes(1);
        store
            .insert_cost(&cost("spender", Some("apps"), 15.0, before))
            .await
            .unwrap();
        store
            .insert_cost(&cost("spender", Some("apps"), 85.0, after))
            .await
            .unwrap();

        // Just before midnight: 30 November's $15 of $20 (75 %), and
        // November's $15 of the project's $100: nothing to tell.
        assert!(
            w.tick(WatchJob::BudgetCheck, before + Duration::seconds(30))
                .await
                .unwrap()
        );
        assert_eq!(alerts(&hub).await, vec![]);
        // Just after: 1 December's $85 — over the agent's $20 (both
        // thresholds) — and December's $85 of $100: 80 % only.
        assert!(
            w.tick(WatchJob::BudgetCheck, after + Duration::minutes(5))
                .await
                .unwrap()
        );
        let want = vec![
            ("agent:spender".to_string(), "2026-12-01".to_string(), 80),
            ("agent:spender".to_string(), "2026-12-01".to_string(), 100),
            ("project:apps".to_string(), "2026-12".to_string(), 80),
        ];
        let mut got = alerts(&hub).await;
        got.sort();
        assert_eq!(got, want);
        // Once per local period: later checks the same day add nothing.
        store
            .insert_cost(&cost("spender", None, 1.0, after + Duration::hours(20)))
            .await
            .unwrap();
        assert!(
            w.tick(WatchJob::BudgetCheck, after + Duration::hours(21))
                .await
                .unwrap()
        );
        assert_eq!(alerts(&hub).await.len(), 3);
        // The next local day starts afresh (21:59 UTC on 1 December is
        // still 1 December in UTC, but 2 December in Kyiv).
        let next = kyiv_midnight(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        store
            .insert_cost(&cost("spender", None, 17.0, next + Duration::minutes(1)))
            .await
            .unwrap();
        assert!(
            w.tick(WatchJob::BudgetCheck, next + Duration::minutes(5))
                .await
                .unwrap()
        );
        let got = alerts(&hub).await;
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            got[3],
            ("agent:spender".to_string(), "2026-12-02".to_string(), 80)
        );
        // The pause the owners were asked about is the local day's.
        let (day,): (String,) = sqlx::query_as("SELECT day FROM budget_pauses")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(day, "2026-12-01");
        hub.stop().await;
    }
);

both_dbs!(
    agents_me_the_brief_and_the_costs_page_count_todays_spend_from_local_midnight,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CONFIG, vec![]).await;
        let now = Utc::now();
        let today = now.with_timezone(&Kyiv).date_naive();
        let midnight = kyiv_midnight(today);
        hub.store()
            .insert_cost(&cost(
                "spender",
                None,
                15.0,
                midnight - Duration::minutes(1),
            ))
            .await
            .unwrap();
        hub.store()
            .insert_cost(&cost("spender", None, 3.0, midnight + Duration::minutes(1)))
            .await
            .unwrap();

        // The agent: $3 today, paused until Kyiv's next midnight if at all.
        let key = hub.key_for("spender", &["costs:write"]).await;
        let me: serde_json::Value = hub
            .http
            .get(format!("{}/api/v1/agents/me", hub.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["today_usd"], 3.0, "{me}");
        assert_eq!(me["paused"], false, "{me}");

        // The brief of a reader in New York counts Kyiv's day too.
        let state = &hub.running.as_ref().unwrap().state;
        let brief = state
            .brief
            .data(hub.store(), "nyc", None, now)
            .await
            .expect("a brief");
        let spender = brief
            .budget
            .agents
            .iter()
            .find(|a| a.agent_id == "spender")
            .expect("spender in the brief");
        assert_eq!(spender.today_usd, 3.0, "{spender:?}");

        // The console's Costs page: $3.00 today.
        let mut v = Visitor::new(&hub);
        v.sign_in(&link(&hub, "nyc").await).await;
        let (s, html) = v.get("/console/costs").await;
        assert_eq!(s, 200, "{html}");
        let today_table = html
            .split("<h2>Today, per agent</h2>")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .expect("today's table");
        assert!(
            today_table.contains("<td>spender</td><td>$3.00</td>"),
            "{today_table}"
        );
        hub.stop().await;
    }
);

// The anomaly scan's spend spike compares the local day's spend with the
// seven local days before it: a late evening's spend in Kyiv is the day
// before's, even when UTC calls it the same day as the next morning's.
both_dbs!(
    a_spend_spike_is_the_local_days_spend,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, CONFIG, vec![]).await;
        let w = watch(&hub);
        let store = hub.store();
        let midnight = kyiv_midnight(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        // $15 at 23:50 on 30 November in Kyiv (21:50 UTC).
        store
            .insert_cost(&cost(
                "spender",
                None,
                15.0,
                midnight - Duration::minutes(10),
            ))
            .await
            .unwrap();
        // At 00:30 on 1 December in Kyiv: nothing spent today. (Counting the
        // UTC day, still 30 November, $15 with nothing before is above the
        // $10 floor: a spike.)
        w.tick(WatchJob::AnomalyScan, midnight + Duration::minutes(30))
            .await
            .unwrap();
        assert_eq!(store.open_anomalies().await.unwrap(), vec![]);
        // $12 at 00:40 in Kyiv: above three times the 7-day average of
        // $15 / 7. (By UTC it would read $27 with no spend before.)
        store
            .insert_cost(&cost(
                "spender",
                None,
                12.0,
                midnight + Duration::minutes(40),
            ))
            .await
            .unwrap();
        w.tick(WatchJob::AnomalyScan, midnight + Duration::minutes(45))
            .await
            .unwrap();
        let open = store.open_anomalies().await.unwrap();
        let messages: Vec<&str> = open.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["spender spent $12.00 today, 5.6× its 7-day daily average of $2.14"]
        );
        hub.stop().await;
    }
);

/// Without `[budgets] time_zone`, the first owner's time zone is the
/// budgets' (the common config's ceo: Europe/Kyiv).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_setting_the_first_owners_zone_is_the_budgets() {
    let db = TestDb::sqlite().await;
    let hub = TestHub::start(
        &db,
        "[[agents]]\nid = \"spender\"\ndaily_budget_usd = 20.0\n",
        vec![],
    )
    .await;
    let midnight = kyiv_midnight(Utc::now().with_timezone(&Kyiv).date_naive());
    hub.store()
        .insert_cost(&cost(
            "spender",
            None,
            15.0,
            midnight - Duration::minutes(1),
        ))
        .await
        .unwrap();
    hub.store()
        .insert_cost(&cost("spender", None, 3.0, midnight + Duration::minutes(1)))
        .await
        .unwrap();
    let key = hub.key_for("spender", &["costs:write"]).await;
    let me: serde_json::Value = hub
        .http
        .get(format!("{}/api/v1/agents/me", hub.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["today_usd"], 3.0, "{me}");
    hub.stop().await;
    db.finish().await;
}
