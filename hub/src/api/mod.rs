//! The agent HTTP API (JSON under /api/v1), health and metrics.

mod agents;
pub mod auth;
mod brief;
mod decisions;
mod error;
mod events;
mod fallback;
mod health;
mod idempotency;
mod json;
mod limits;
mod notifications;
pub mod openapi;
mod questions;
mod sla;
mod tasks;
mod telemetry;
pub mod webhooks;

pub use error::{ApiError, Failure};
pub use events::person_feed;

use crate::directory::Directory;
use crate::ingest::Ingest;
use crate::store::Store;
use adapters::web::WebAdapter;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;

/// What every handler shares. One `Arc` around it all: axum clones the
/// state for every request, and one reference count is cheaper than a
/// dozen (that clone and its drop were ~1% of ingest CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl AppState {
    /// What the daily jobs need of the hub (they are not part of the API).
    pub fn jobs(&self) -> crate::schedule::JobHub {
        crate::schedule::JobHub {
            // No one waits on a digest or a brief being built: on SQLite
            // they get a small pool of their own (store/background.rs).
            store: self.store.background(),
            dir: self.dir.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    /// The chat commands' backend (the store with the decisions' routing
    /// plan and the brief service): every command and button runs on it.
    pub backend: crate::backend::HubBackend,
    pub ingest: Ingest,
    pub dir: Arc<Directory>,
    pub keys: Arc<auth::KeyCache>,
    pub web: Arc<WebAdapter>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Each request's count and duration, by route, method and status.
    pub request_metrics: Arc<crate::request_metrics::RequestMetrics>,
    /// Turns true when the hub is stopping; long-lived streams end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Wakes the dispatcher when deliveries were queued outside ingest.
    pub wake: Arc<tokio::sync::Notify>,
    /// server.body_limit_bytes, for handlers that read a body themselves.
    pub body_limit: usize,
    /// How often a live feed stream writes a keep-alive comment (kept
    /// below the server's idle timeout, see `server::sse_keep_alive`).
    pub sse_keep_alive: std::time::Duration,
    /// Builds and renders daily briefs (templates, optional LLM summary).
    pub brief: Arc<crate::brief::BriefService>,
    /// webhook_sender.allow_private_targets: webhooks created over the API
    /// may call the hub's own network.
    pub webhook_allow_private: bool,
    /// Drafts and answers questions by their permission level ([brief.llm]).
    pub question_llm: Arc<crate::questions::llm::QuestionLlm>,
    /// The web console (sessions, login links, page rendering).
    pub console: Arc<crate::console::Console>,
    /// `[[watchers.sla]]`, for `GET /api/v1/sla`.
    pub sla_rules: Arc<Vec<crate::config::SlaRule>>,
    /// The zone budget periods follow (`[budgets] time_zone`): today's
    /// budget in `GET /api/v1/agents/me` and the console's Costs page.
    pub budget_zone: chrono_tz::Tz,
}

pub fn router(state: AppState, body_limit: usize) -> Router {
    // Calls whose Idempotency-Key is handled by the idempotency layer; the
    // notification and message POSTs handle theirs inside the ingest commit.
    let reserved = Router::new()
        .route("/api/v1/costs", post(telemetry::cost))
        .route("/api/v1/heartbeat", post(telemetry::heartbeat))
        .route("/api/v1/decisions", post(decisions::create))
        .route("/api/v1/decisions/{id}", get(decisions::show))
        .route("/api/v1/decisions/{id}/resolve", post(decisions::resolve))
        .route("/api/v1/questions", post(questions::create))
        .route("/api/v1/tasks", post(tasks::create).get(tasks::list))
        .route("/api/v1/tasks/{id}", get(tasks::show))
        .route("/api/v1/tasks/{id}/move", post(tasks::move_to))
        .route("/api/v1/tasks/{id}/assign", post(tasks::assign))
        .route("/api/v1/tasks/{id}/deps", post(tasks::add_dependency))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/notifications", post(notifications::create))
        .route("/api/v1/notifications/{id}", get(notifications::show))
        .route("/api/v1/messages", post(notifications::message))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/questions/{id}", get(questions::show))
        .route("/api/v1/brief", get(brief::show))
        .route("/api/v1/sla", get(sla::show))
        .route("/api/v1/agents/me", get(agents::me))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route(
            "/api/v1/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(webhooks::show).delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .merge(reserved)
        // After every route: a wrong method on a known path, and an unknown
        // path, answer in the API's JSON error shape too.
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::no_route)
        .layer(crate::observe_requests::ObserveRequests::new(
            state.request_metrics.clone(),
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
