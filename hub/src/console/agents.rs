//! Agents' health: status, last heartbeat, active tasks and their record.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome, when};
use crate::api::AppState;
use adapters::web::console::Page;
use adapters::web::console::model::{AgentRow, AgentsView};
use axum::extract::State;
use axum::response::Response;
use commands::Backend;

pub async fn page(State(state): State<AppState>, who: Signed) -> Result<Response, ConsoleError> {
    let agents = state
        .backend
        .agents_with_stats()
        .await
        .map_err(ConsoleError::backend)?;
    let beats = state
        .store
        .agent_heartbeats()
        .await
        .map_err(ConsoleError::store)?;
    let view = AgentsView {
        agents: agents
            .into_iter()
            .map(|(a, s)| AgentRow {
                last_heartbeat: beats
                    .get(&a.id)
                    .map(|t| when(*t))
                    .unwrap_or_else(|| "never".into()),
                id: a.id,
                status: a.status.as_str().to_string(),
                active_tasks: s.active_tasks as i64,
                completed: s.completed as i64,
                failed: s.failed as i64,
            })
            .collect(),
    };
    let chrome = chrome(&state, &who, "Agents", "agents").await?;
    render(&state, Page::Agents, &chrome, &view)
}
