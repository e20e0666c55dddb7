//! What the hub tells its operators: the Prometheus registry behind
//! `/metrics` (every metric described, durations as histograms with fixed
//! buckets so several instances' can be summed), and `orkhub_build_info`. What is
//! recorded around every HTTP request is in `observe_requests.rs`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Bucket bounds (seconds) of every `*_seconds` histogram: an API answer
/// takes milliseconds, a platform send up to the adapters' 30 s timeouts.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder (a recorder can be installed once:
/// the first hub in a process installs it, later ones share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Without buckets the exporter renders summaries (quantiles per
            // instance, which cannot be aggregated); set_buckets refuses
            // only an empty list.
            let builder = PrometheusBuilder::new();
            let builder = builder
                .set_buckets(DURATION_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
                metrics::gauge!("orkhub_build_info", "version" => env!("CARGO_PKG_VERSION"))
                    .set(1.0);
            }
            handle
        })
        .clone()
}

/// The async runtime's worker threads (`server.worker_threads`, or as
/// many as `Config::runtime_workers` chose), for operators who size it.
pub fn record_runtime_workers(n: usize) {
    metrics::gauge!("orkhub_runtime_workers").set(n as f64);
}

/// HELP text for every metric the hub records. A metric recorded anywhere
/// must be described here (the `metrics` test checks the scrape).
fn describe() {
    describe_gauge!(
        "orkhub_build_info",
        "Always 1; the running orkhub's version is its label."
    );
    describe_gauge!(
        "orkhub_runtime_workers",
        "Worker threads of the hub's async runtime (server.worker_threads; 0 there: one per core, one fewer on SQLite)."
    );
    describe_counter!(
        "orkhub_http_requests_total",
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        "orkhub_http_request_duration_seconds",
        Unit::Seconds,
        "Time from receiving an HTTP request to its answer's headers, by route and method."
    );
    describe_histogram!(
        "orkhub_send_seconds",
        Unit::Seconds,
        "Time one send or edit took on a platform, by adapter, whatever its outcome."
    );
    describe_counter!(
        "orkhub_deliveries_total",
        "Delivery attempts by adapter and outcome: sent, retry or dead."
    );
    describe_gauge!(
        "orkhub_outbox_depth",
        "Deliveries waiting in the outbox (pending or being sent), read at each scrape."
    );
    describe_counter!(
        "orkhub_notifications_accepted_total",
        "Notifications stored by the API."
    );
    describe_counter!(
        "orkhub_ingest_batches_total",
        "Ingest transactions committed (accepted notifications over this: the mean batch)."
    );
    describe_counter!(
        "orkhub_ingest_refused_total",
        "Notifications refused with 503 before being stored, by reason."
    );
    describe_gauge!(
        "orkhub_ingest_queue_depth",
        "Requests waiting for the ingest writer (at ingest.queue new ones are refused)."
    );
    describe_counter!(
        "orkhub_idempotency_keys_pruned_total",
        "Idempotency-Key answers removed after server.idempotency_ttl_secs."
    );
    describe_gauge!(
        "orkhub_sqlite_wal_frames",
        "Frames in the SQLite write-ahead log after the last checkpoint."
    );
}
