//! Each HTTP request's count and duration, through handles registered once
//! per route, method and status.
//!
//! Why not `metrics::counter!` per request: the macro builds the metric's
//! key at every call — the route, method and status as new strings, a list
//! of labels — and the Prometheus recorder then hashes it and looks it up
//! under a lock: 2,200 instructions per request for the two lookups, and
//! handles found here saved 2,450 per notification with the strings (1.7%
//! of the hub's, `bench/instructions.sh`). A handle found here costs a hash
//! of the route and a short scan.

use axum::http::Method;
use metrics::{Counter, Histogram};
use std::sync::RwLock;

/// The handles of every (route, method, status) answered so far: as many
/// as the series the recorder holds for them.
#[derive(Default)]
pub struct RequestMetrics {
    by_route: RwLock<foldhash::HashMap<String, Vec<Series>>>,
}

/// One route's metrics for one method and status.
struct Series {
    method: Method,
    status: u16,
    /// `orkhub_http_request_duration_seconds{route, method}`.
    duration: Histogram,
    /// `orkhub_http_requests_total{route, method, status}`.
    count: Counter,
}

impl Series {
    fn register(route: &str, method: &Method, status: u16) -> Series {
        let (route, m) = (route.to_string(), method.as_str().to_string());
        Series {
            method: method.clone(),
            status,
            duration: metrics::histogram!("orkhub_http_request_duration_seconds", "route" => route.clone(), "method" => m.clone()),
            count: metrics::counter!("orkhub_http_requests_total", "route" => route, "method" => m, "status" => status.to_string()),
        }
    }

    fn record(&self, seconds: f64) {
        self.duration.record(seconds);
        self.count.increment(1);
    }
}

impl RequestMetrics {
    /// Count one answer with `status` to `method` on `route`, which took
    /// `seconds`.
    pub fn record(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let find = |all: &[Series]| {
            all.iter()
                .position(|s| s.status == status && s.method == *method)
        };
        if let Ok(map) = self.by_route.read()
            && let Some(all) = map.get(route)
            && let Some(i) = find(all)
        {
            all[i].record(seconds);
            return;
        }
        // First of its kind (or the lock was poisoned: the handles are
        // only a cache, the recorder keeps the series).
        let Ok(mut map) = self.by_route.write() else {
            Series::register(route, method, status).record(seconds);
            return;
        };
        let all = map.entry(route.to_string()).or_default();
        // Another request may have registered it between the two locks.
        let i = find(all).unwrap_or_else(|| {
            all.push(Series::register(route, method, status));
            all.len() - 1
        });
        all[i].record(seconds);
    }
}
