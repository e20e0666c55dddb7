//! The web console: people's own place in the hub. Server-rendered pages
//! (rendered by the web adapter, `adapters::web::console`), signed in with
//! one-time links, a session cookie, and a CSRF token on every POST. One
//! file per page; the session and its checks in [`session`]; SQL stays in
//! the store (`store/console.rs`).
//!
//! Rules: no state change on GET (an email's Approve link opens a confirm
//! page; a login link opens a page whose button signs in), decisions and
//! tasks change through the command layer (same roles and lifecycle as
//! chat, audit source `web`), login-link tokens travel in the query string,
//! which the request span does not log (it logs the path only).

mod agents;
mod assets;
mod brief;
mod brief_cache;
mod costs;
mod decisions;
mod error;
mod events;
mod inbox;
pub mod links;
mod login;
mod next_path;
mod notification;
mod questions;
pub mod secret;
mod session;
mod tasks;

pub use error::ConsoleError;
pub use links::LoginLinks;
pub use session::Signed;

use crate::api::AppState;
use adapters::web::console::ConsoleRenderer;
use adapters::web::console::model::{Chrome, PersonView};
use axum::Router;
use axum::routing::{get, post};
use commands::{Person, Role};
use std::sync::Arc;

/// What the console's handlers share (inside the API's state).
pub struct Console {
    pub links: Arc<LoginLinks>,
    pub render: ConsoleRenderer,
    pub session_ms: i64,
    /// Cookies get `Secure` when the public URL is https.
    pub secure: bool,
    /// Projects from the config with their monthly budgets (USD).
    pub projects: Vec<(String, Option<f64>)>,
    /// Agents' daily budgets (USD) from the config.
    pub agent_budgets: std::collections::HashMap<String, f64>,
    /// Briefs shown in the last minute, per person and date.
    pub briefs: brief_cache::BriefCache,
}

impl Console {
    pub fn from_config(config: &crate::config::Config, links: Arc<LoginLinks>) -> Console {
        let web = &config.adapters.web;
        let dir = &config.brief.templates_dir;
        Console {
            links,
            render: ConsoleRenderer::new((!dir.is_empty()).then(|| dir.into())),
            session_ms: i64::from(web.session_minutes) * 60_000,
            secure: web.public_url.trim().starts_with("https://"),
            projects: config
                .projects
                .iter()
                .map(|p| (p.id.clone(), p.budget_usd))
                .collect(),
            agent_budgets: config
                .agents
                .iter()
                .filter_map(|a| a.daily_budget_usd.map(|b| (a.id.clone(), b)))
                .collect(),
            briefs: brief_cache::BriefCache::new(std::time::Duration::from_secs(60), 1024),
        }
    }
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/console", get(inbox::page))
        .route("/console/inbox/read", post(inbox::mark_read))
        .route("/console/events", get(events::stream))
        .route("/console/login", get(login::page).post(login::sign_in))
        .route("/console/logout", post(login::sign_out))
        .route("/console/decisions", get(decisions::page))
        .route("/console/decisions/{id}", get(decisions::confirm))
        .route("/console/decisions/{id}/resolve", post(decisions::resolve))
        .route("/console/questions/{id}/answer", post(questions::answer))
        .route("/console/notifications/{id}", get(notification::page))
        .route("/console/deliveries/{id}/retry", post(notification::retry))
        .route("/console/tasks", get(tasks::page).post(tasks::create))
        .route("/console/tasks/{id}/move", post(tasks::move_to))
        .route("/console/tasks/{id}/deps", post(tasks::add_dep))
        .route("/console/tasks/{id}/deps/remove", post(tasks::remove_dep))
        .route("/console/brief", get(brief::page))
        .route("/console/costs", get(costs::page))
        .route("/console/agents", get(agents::page))
        .route("/console/static/console.css", get(assets::style))
        .route("/console/static/live.js", get(assets::script))
        .layer(crate::observe_requests::ObserveRequests::new(
            state.request_metrics.clone(),
        ))
        .with_state(state)
}

/// The chrome of a signed-in page.
pub(crate) async fn chrome(
    state: &AppState,
    who: &Signed,
    title: &str,
    active: &str,
) -> Result<Chrome, ConsoleError> {
    let unread = state
        .store
        .inbox_unread_count(&who.person.id)
        .await
        .map_err(ConsoleError::store)?;
    Ok(Chrome {
        title: title.to_string(),
        active: active.to_string(),
        person: Some(person_view(&who.person)),
        csrf: who.csrf.clone(),
        unread,
    })
}

fn person_view(p: &Person) -> PersonView {
    PersonView {
        id: p.id.clone(),
        name: p.display_name.clone(),
        role: p.role.as_str().to_string(),
        can_decide: p.role >= Role::Admin,
        is_admin: p.role >= Role::Admin,
    }
}

/// The chrome of a page for nobody signed in.
pub(crate) fn anonymous(title: &str) -> Chrome {
    Chrome {
        title: title.to_string(),
        active: String::new(),
        person: None,
        csrf: String::new(),
        unread: 0,
    }
}

/// Times as the console shows them.
pub(crate) fn when(ms: i64) -> String {
    crate::store::from_ms(ms)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}
