//! Money adds up exactly: costs are stored and summed as whole
//! micro-dollars, a cost stamped in the brief's own millisecond is in it,
//! a cost answered 201 is in the next brief, and migration 0020 converts
//! dollars stored as DOUBLE PRECISION.

use crate::common;

use chrono::{TimeZone, Utc};
use common::TestDb;
use common::server::TestHub;
use hub::store::NewCost;
use serde_json::Value;

const METER: &str = "[[agents]]\nid = \"meter\"\ndaily_budget_usd = 2.0\n";

fn agent<'a>(brief: &'a Value, id: &str) -> &'a Value {
    brief["budget"]["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["agent_id"] == id))
        .unwrap_or_else(|| panic!("agent {id} in {}", brief["budget"]))
}

fn cost(at: i64) -> NewCost {
    NewCost {
        agent_id: "meter".into(),
        project_id: None,
        task_id: None,
        model: "m".into(),
        tokens_in: 1,
        tokens_out: 1,
        usd: 0.0001,
        at,
    }
}

/// 20,000 costs of $0.0001 are exactly $2.00 — not 1.9999 (one missed) nor
/// 1.99999999999979 (doubles summed) — and exactly at a $2.00 budget is
/// not over it. The last cost is stamped in the brief's cut-off
/// millisecond: it was answered before the brief began and belongs in it.
async fn twenty_thousand_small_costs_sum_exactly_body(db: &TestDb) {
    let hub = TestHub::start(db, METER, vec![]).await;
    // ceo is in Kyiv with the brief at 09:00: 10 July 2025 is cut at 06:00 UTC.
    let cut = Utc
        .with_ymd_and_hms(2025, 7, 10, 6, 0, 0)
        .unwrap()
        .timestamp_millis();
    let writers: Vec<_> = (0..8i64)
        .map(|w| {
            let store = hub.store().clone();
            tokio::spawn(async move {
                for k in (w..20_000).step_by(8) {
                    // Spread over the last 40 minutes before the cut-off;
                    // k = 0 lands on the cut-off itself.
                    store.insert_cost(&cost(cut - k * 120)).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM costs")
        .fetch_one(hub.store().pool())
        .await
        .unwrap();
    assert_eq!(count, 20_000);
    let (status, b) = hub.get("/api/v1/brief?date=2025-07-10&person=ceo").await;
    assert_eq!(status, 200, "{b}");
    let meter = agent(&b, "meter");
    assert_eq!(meter["today_usd"].as_f64(), Some(2.0), "{meter}");
    assert_eq!(meter["month_usd"].as_f64(), Some(2.0), "{meter}");
    assert_eq!(meter["over_budget"], false, "{meter}");
    assert_eq!(meter["today_pct"].as_f64(), Some(100.0), "{meter}");
    assert_eq!(b["budget"]["today_usd"].as_f64(), Some(2.0));
    // The `cost` command sums the same rows.
    let lines = commands::Backend::cost_summary(
        hub.backend(),
        Utc.timestamp_millis_opt(cut - 86_400_000).unwrap(),
        commands::CostBy::Agent,
    )
    .await
    .unwrap();
    let line = lines.iter().find(|l| l.key == "meter").unwrap();
    assert_eq!((line.cost_usd, line.records), (2.0, 20_000));
    hub.stop().await;
}
both_dbs!(twenty_thousand_small_costs_sum_exactly, |db: &TestDb| {
    twenty_thousand_small_costs_sum_exactly_body(db)
});

/// Each cost answered 201 is in the brief asked for right after it.
async fn a_cost_answered_201_is_in_the_next_brief_body(db: &TestDb) {
    let hub = TestHub::start(db, "", vec![]).await;
    for k in 1..=40 {
        let (s, c) = hub
            .post(
                "/api/v1/costs",
                serde_json::json!({"model": "m", "usd": 0.0001}),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        let (s, b) = hub.get("/api/v1/brief?person=ceo").await;
        assert_eq!(s, 200, "{b}");
        let got = agent(&b, "builder")["today_usd"].as_f64();
        assert_eq!(got, Some(k as f64 / 10_000.0), "after cost #{k}");
    }
    hub.stop().await;
}
both_dbs!(a_cost_answered_201_is_in_the_next_brief, |db: &TestDb| {
    a_cost_answered_201_is_in_the_next_brief_body(db)
});

/// A cost finer than a micro-dollar is rounded; one that is not an amount
/// is refused with a message naming the field, and nothing is written.
async fn costs_that_are_not_amounts_are_refused_body(db: &TestDb) {
    let hub = TestHub::start(db, "", vec![]).await;
    for bad in [
        serde_json::json!(-0.01),
        serde_json::json!(1e12),
        serde_json::json!("1.0"),
    ] {
        let (s, e) = hub
            .post(
                "/api/v1/costs",
                serde_json::json!({"model": "m", "usd": bad}),
            )
            .await;
        assert_eq!(s, 422, "{bad}: {e}");
        assert!(e.to_string().contains("usd"), "{e}");
    }
    let (s, c) = hub
        .post(
            "/api/v1/costs",
            serde_json::json!({"model": "m", "usd": 0.0000015}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT usd_micros FROM costs")
        .fetch_all(hub.store().pool())
        .await
        .unwrap();
    assert_eq!(rows, vec![(2,)], "1.5 micro-dollars rounds to 2");
    hub.stop().await;
}
both_dbs!(costs_that_are_not_amounts_are_refused, |db: &TestDb| {
    costs_that_are_not_amounts_are_refused_body(db)
});

/// Migration 0020 converts dollars stored as DOUBLE PRECISION to
/// micro-dollars and rebuilds the daily roll-up from them.
async fn migration_converts_stored_dollars_body(db: &TestDb) {
    // A fresh database of the same engine, migrated only up to 0012.
    let fresh = Unmigrated::like(db).await;
    let (pool, migrator) = (&fresh.pool, &fresh.migrator);
    migrator.run_to(12, pool).await.unwrap();
    for (k, usd) in [0.1, 0.2, 0.0001, 1.234567].iter().enumerate() {
        sqlx::query("INSERT INTO costs (agent_id, model, usd, at) VALUES ($1, 'm', $2, $3)")
            .bind(if k < 3 { "a" } else { "b" })
            .bind(*usd)
            .bind(1_752_120_000_000i64 + k as i64)
            .execute(pool)
            .await
            .unwrap();
    }
    migrator.run(pool).await.unwrap();
    let costs: Vec<(String, i64)> =
        sqlx::query_as("SELECT agent_id, usd_micros FROM costs ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        costs,
        vec![
            ("a".into(), 100_000),
            ("a".into(), 200_000),
            ("a".into(), 100),
            ("b".into(), 1_234_567)
        ]
    );
    let daily: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT agent_id, usd_micros, n FROM cost_daily ORDER BY agent_id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        daily,
        vec![("a".into(), 300_100, 3), ("b".into(), 1_234_567, 1)]
    );
    fresh.finish().await;
}
both_dbs!(migration_converts_stored_dollars, |db: &TestDb| {
    migration_converts_stored_dollars_body(db)
});

/// An empty database beside the test's own, for running migrations by hand.
struct Unmigrated {
    pool: sqlx::AnyPool,
    migrator: sqlx::migrate::Migrator,
    /// PostgreSQL: the database to drop at the end.
    name: Option<String>,
    _dir: tempfile::TempDir,
}

impl Unmigrated {
    async fn like(db: &TestDb) -> Unmigrated {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let (url, migrator, name) = match db {
            TestDb::Sqlite { .. } => (
                format!("sqlite://{}/old.db?mode=rwc", dir.path().display()),
                sqlx::migrate!("../migrations/sqlite"),
                None,
            ),
            TestDb::Postgres { .. } => {
                let admin = common::pg_admin_url();
                let name = format!("orkhub_test_{}", rand::random::<u64>());
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                (
                    format!("{base}/{name}?sslmode=disable"),
                    sqlx::migrate!("../migrations/postgres"),
                    Some(name),
                )
            }
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        Unmigrated {
            pool,
            migrator,
            name,
            _dir: dir,
        }
    }

    async fn finish(self) {
        self.pool.close().await;
        if let Some(name) = self.name {
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&common::pg_admin_url())
                    .await
                    .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}
