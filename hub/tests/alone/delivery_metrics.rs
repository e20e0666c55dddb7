//! `orkhub_deliveries_total{adapter, outcome}` counts what became of each
//! try: a last transient failure is `dead`, not `retry`. In the `alone`
//! binary: the metrics recorder is global to the process.
use crate::common;
use adapters::SendError;
use common::TestDb;
use common::server::{ScriptedAdapter, TestHub};
use routing::ChannelKind;
use serde_json::json;

/// The counter's value for `adapter` and `outcome` in a Prometheus scrape.
fn counter(scrape: &str, adapter: &str, outcome: &str) -> u64 {
    let needle = format!("orkhub_deliveries_total{{adapter=\"{adapter}\",outcome=\"{outcome}\"}} ");
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(needle.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_failed_try_counts_as_dead() {
    let _alone = crate::ALONE.lock().await;
    let db = TestDb::sqlite().await;
    // The test hub allows 3 attempts: two retries, then dead.
    let fail = || Err(SendError::transient("connection reset"));
    let tg = ScriptedAdapter::new(ChannelKind::Telegram, vec![fail(), fail(), fail()]);
    let hub = TestHub::start(&db, "", vec![tg.clone()]).await;
    let (status, body) = hub
        .post(
            "/api/v1/notifications",
            json!({"to": "dana", "urgency": "urgent", "text": "x"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    hub.settled(body["id"].as_str().unwrap()).await;
    let scrape = hub.metrics().await;
    assert_eq!(
        (
            counter(&scrape, "telegram", "retry"),
            counter(&scrape, "telegram", "dead"),
            counter(&scrape, "console", "sent"),
        ),
        (2, 1, 1),
        "{scrape}"
    );
    hub.stop().await;
    db.finish().await;
}
