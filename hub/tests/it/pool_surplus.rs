//! The pool keeps as many connections as were in use at once lately
//! (hub/src/store/surplus.rs): a burst's connections stay for the spell
//! after it, are closed down to two once two spells pass with one at a
//! time, and what steady work uses at once stays open.

use crate::common;

use common::TestDb;
use hub::store::Store;
use std::time::Duration;

/// `n` connections held at once, then all given back.
async fn burst(store: &Store, n: usize) {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(store.pool().acquire().await.unwrap());
    }
    drop(held);
}

/// One statement at a time, as the idle hub's pollers, for `time`.
async fn one_at_a_time(store: &Store, time: Duration) {
    let started = std::time::Instant::now();
    while started.elapsed() < time {
        sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// sqlx gives connections back (and closes them) in tasks of its own.
async fn settled_size(store: &Store) -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.pool().size()
}

const SPELL: Duration = Duration::from_secs(1);

both_dbs!(
    a_bursts_connections_close_two_spells_later,
    |db: &TestDb| async move {
        let store = Store::open(&db.url(), 8).await.unwrap();
        store.set_pool_quiet_spell(SPELL);
        burst(&store, 6).await;
        one_at_a_time(&store, SPELL / 2).await;
        assert_eq!(
            settled_size(&store).await,
            6,
            "kept in the spell after the burst"
        );
        one_at_a_time(&store, SPELL * 3).await;
        assert_eq!(
            settled_size(&store).await,
            2,
            "surplus closed two spells later"
        );
        // A new burst opens what it needs again.
        burst(&store, 5).await;
        one_at_a_time(&store, SPELL / 3).await;
        // Five, or six when one was still on its way back during the
        // burst (sqlx counts it as open, not idle).
        let size = settled_size(&store).await;
        assert!((5..=6).contains(&size), "{size} open after a burst of five");
        store.close().await;
    }
);

both_dbs!(
    what_steady_work_uses_at_once_stays_open,
    |db: &TestDb| async move {
        let store = Store::open(&db.url(), 8).await.unwrap();
        store.set_pool_quiet_spell(SPELL);
        burst(&store, 7).await;
        // Four at once every tenth of a spell, for four spells.
        let started = std::time::Instant::now();
        while started.elapsed() < SPELL * 4 {
            burst(&store, 4).await;
            one_at_a_time(&store, SPELL / 10).await;
        }
        // Down from seven to what is used at once (or one more, on its way
        // back at a count), never below it.
        let size = settled_size(&store).await;
        assert!((4..=5).contains(&size), "{size} open for four at a time");
        store.close().await;
    }
);

/// The pool's hooks must not keep it alive: a store dropped without
/// `close` still closes every connection it opened.
#[tokio::test]
async fn a_dropped_store_closes_its_connections() {
    let db = TestDb::postgres().await;
    let open_here = || async {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_one(db.store().pool())
        .await
        .unwrap();
        n
    };
    let before = open_here().await;
    let store = Store::open(&db.url(), 8).await.unwrap();
    burst(&store, 3).await;
    assert!(open_here().await >= before + 3);
    drop(store);
    let mut now = open_here().await;
    for _ in 0..50 {
        if now == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = open_here().await;
    }
    assert_eq!(now, before, "connections left open by a dropped store");
}

/// A brief's fourteen reads, built as the daily job builds it (a
/// background handle, store/background.rs), open no more SQLite
/// connections than the machine has cores, and none of the shared pool's;
/// once idle they close.
#[tokio::test]
async fn a_background_brief_opens_no_more_connections_than_cores() {
    let db = TestDb::sqlite().await;
    let store = Store::open(&db.url(), 8).await.unwrap();
    let shared = settled_size(&store).await;
    let now = chrono::Utc::now();
    let w = briefs::Window::new(
        "ceo",
        chrono_tz::UTC,
        now.date_naive(),
        chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        now,
        None,
        &briefs::BriefConfig::default(),
    )
    .unwrap();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let background = store.background();
    for _ in 0..5 {
        background.brief_input(&w, 10).await.unwrap();
        let size = background.pool().size() as usize;
        assert!(
            (1..=cores).contains(&size),
            "{size} connections open for a background brief on {cores} cores"
        );
    }
    assert_eq!(
        settled_size(&store).await,
        shared,
        "the shared pool opened connections for background work"
    );
    // The same brief for a person waiting on it runs all its reads at once.
    store.brief_input(&w, 10).await.unwrap();
    assert!(settled_size(&store).await > shared);
    db.finish().await;
}
