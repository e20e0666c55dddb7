//! Agents' health: status, last heartbeat, active tasks and their record.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome, when};
use crate::api::AppState;
use adapters::web::console::Page;
use adapters::web::console::model::{AgentRow, AgentsView};
use axum::extract::State;
use axum::response::Response;

pub async fn page(State(state): State<AppState>, who: Signed) -> Result<Response, ConsoleError> {
    let agents = state
        .store
        .agent_statuses()
        .await
        .map_err(ConsoleError::store)?;
    // Task counts from an index, not `agents_with_stats`, which also sums
    // every cost row each agent ever made.
    let counts = state
        .store
        .agent_task_counts()
        .await
        .map_err(ConsoleError::store)?;
    let beats = state
        .store
        .agent_heartbeats()
        .await
        .map_err(ConsoleError::store)?;
    let view = AgentsView {
        agents: agents
            .into_iter()
            .map(|(id, status)| {
                let c = counts.get(&id).copied().unwrap_or_default();
                AgentRow {
                    last_heartbeat: beats
                        .get(&id)
                        .map(|t| when(*t))
                        .unwrap_or_else(|| "never".into()),
                    id,
                    status,
                    active_tasks: c.active,
                    completed: c.completed,
                    failed: c.failed,
                }
            })
            .collect(),
    };
    let chrome = chrome(&state, &who, "Agents", "agents").await?;
    render(&state, Page::Agents, &chrome, &view)
}
