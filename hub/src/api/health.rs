//! GET /healthz, GET /metrics (Prometheus text), and request counting.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.outbox_depth().await {
        Ok(depth) => {
            axum::Json(serde_json::json!({"status": "ok", "outbox_depth": depth})).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(depth) = state.store.outbox_depth().await {
        metrics::gauge!("orkhub_outbox_depth").set(depth as f64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let res = next.run(req).await;
    metrics::counter!("orkhub_http_requests_total", "route" => route, "method" => method, "status" => res.status().as_u16().to_string()).increment(1);
    res
}
