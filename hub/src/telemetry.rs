//! What the hub tells its operators: the Prometheus registry behind
//! `/metrics` (every metric described, durations as histograms with fixed
//! buckets so several instances' can be summed), `orkhub_build_info`, and a
//! tracing span around every HTTP request.

use crate::api::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing::Instrument;

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

/// Around every request: its count by status and its duration (through the
/// handles in `state.request_metrics`), the server-side failure it ended in
/// logged once (see [`log_failure`]), and a `request` span at debug level
/// (so everything logged while answering it carries its method and route).
///
/// Why debug, as tower-http's `TraceLayer` makes its spans: an enabled span
/// is built for every request whether or not anything is logged in it (the
/// formatting layer writes its fields out when it opens, the registry
/// enters and leaves it on every poll), and under `level = "info"` that was
/// some 6,000 instructions of the hub's 108,000 per notification
/// (`bench/instructions.sh`). What an operator needs at info, a failed
/// request's method, path and status, [`log_failure`] writes on the error
/// line itself.
pub async fn observe_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A cheap copy (the route is shared), read after the answer.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let span = tracing::debug_span!("request", %method, path = %req.uri().path(), status = tracing::field::Empty);
    // For a failure's log line: a shared reference to the request's bytes.
    let uri = req.uri().clone();
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    span.record("status", status);
    span.in_scope(|| tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "answered"));
    log_failure(&method, uri.path(), &mut res);
    state.request_metrics.record(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        status,
        elapsed.as_secs_f64(),
    );
    res
}

/// The server-side failure an answer carries ([`crate::api::Failure`], put
/// there by `ApiError`), logged once at error with the request's method,
/// path and status, and taken off the answer.
fn log_failure(method: &axum::http::Method, path: &str, res: &mut Response) {
    if let Some(crate::api::Failure(error)) = res.extensions_mut().remove() {
        tracing::error!(%method, path, status = res.status().as_u16(), %error, "request failed");
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{ApiError, Failure};
    use axum::http::{Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use std::sync::{Arc, Mutex};

    /// The log's text, kept for the test to read.
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `log_failure` writes, at the shipped default level (info), for
    /// the answer `err` makes; and the answer after it.
    fn logged(err: ApiError) -> (String, Response) {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let mut res = err.into_response();
        tracing::subscriber::with_default(subscriber, || {
            super::log_failure(&Method::POST, "/api/v1/notifications", &mut res)
        });
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        (text, res)
    }

    #[test]
    fn a_server_side_failure_is_logged_once_with_its_method_path_and_status() {
        let (text, res) = logged(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the database refused the write: disk I/O error",
        ));
        assert_eq!(text.lines().count(), 1, "{text}");
        for part in [
            "ERROR",
            "request failed",
            "method=POST",
            "/api/v1/notifications",
            "status=500",
            "error=the database refused the write: disk I/O error",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text}");
        }
        // Taken off the answer: a second layer would not log it again.
        assert!(res.extensions().get::<Failure>().is_none());
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn refusals_and_a_busy_hub_are_not_logged_as_failures() {
        for err in [
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "title is empty",
            ),
            ApiError::unauthorized("no API key"),
            ApiError::busy("the ingest queue is full", 1),
        ] {
            let status = err.status;
            let (text, res) = logged(err);
            assert_eq!(text, "", "{status}");
            assert_eq!(res.status(), status);
        }
    }
}
