//! The daily brief as data: the JSON of `GET /api/v1/brief`, the context every
//! template renders, and what the outbox carries to each adapter, which
//! renders it at send time (the `briefs` crate builds it). Money is rounded to 1/10,000 USD and percentages to
//! 0.1 so the figures are stable to compare.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Brief {
    pub person: String,
    pub person_name: String,
    pub date: NaiveDate,
    pub time_zone: String,
    pub generated_at: DateTime<Utc>,
    pub period: Period,
    /// What needs the reader: first in every format.
    pub needs_you: NeedsYou,
    pub activity: ActivityCounts,
    /// The activity by name: tasks completed and decisions made in the period.
    pub activity_names: ActivityNames,
    /// The reader's own open and overdue tasks.
    pub mine: MyTasks,
    pub overdue: TaskList,
    pub sla_breaches: TaskList,
    pub budget: Budget,
    pub agents: Vec<AgentHealth>,
    /// Ids of agents silent too long while they have active tasks.
    pub silent_agents: Vec<String>,
    pub pending_decisions: DecisionList,
    pub anomalies: Vec<Anomaly>,
    /// The LLM's paragraph, when one was asked for and arrived in time.
    pub summary: Option<String>,
}

/// What needs the reader, at the top of the brief.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NeedsYou {
    /// Pending decisions this reader may decide (owners and admins: every
    /// one; others: the kinds they approve), oldest first.
    pub decisions: DecisionList,
    /// Questions agents asked this reader that are still unanswered,
    /// oldest first.
    #[serde(default)]
    pub questions: QuestionList,
    /// Agents over their daily budget today, with the figures.
    pub over_budget_agents: Vec<AgentSpend>,
    /// Projects over their monthly budget.
    pub over_budget_projects: Vec<ProjectSpend>,
    /// Open urgent/high tasks past their SLA.
    pub sla_breaches: TaskList,
    /// Items in all; 0: nothing needs the reader.
    pub total: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityNames {
    /// Tasks completed in the period (at most the list limit).
    pub completed: Vec<NamedTask>,
    /// Decisions made in the period (at most the list limit).
    pub decided: Vec<MadeDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = BriefPeriod))]
pub struct Period {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = BriefTaskList))]
pub struct TaskList {
    pub total: i64,
    pub tasks: Vec<TaskRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Budget {
    pub today_usd: f64,
    pub month_usd: f64,
    /// Month spend extrapolated from the run rate so far this month.
    pub month_forecast_usd: f64,
    /// Sum of the projects' monthly budgets (None when no project has one).
    pub month_budget_usd: Option<f64>,
    /// The month's forecast exceeds that total budget.
    pub month_forecast_over: bool,
    /// Spend recorded with no project, today and this month (its own line).
    pub unassigned_today_usd: f64,
    pub unassigned_month_usd: f64,
    pub month_used_pct: Option<f64>,
    pub agents: Vec<AgentSpend>,
    /// The five agents that spent most today (spend > 0), most first.
    pub top_spenders: Vec<AgentSpend>,
    pub projects: Vec<ProjectSpend>,
    /// Agents whose spend today is above their daily budget.
    pub over_daily_budget: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentSpend {
    pub agent_id: String,
    pub today_usd: f64,
    pub month_usd: f64,
    pub daily_budget_usd: Option<f64>,
    /// Today's spend as a percentage of the daily budget.
    pub today_pct: Option<f64>,
    /// Average daily spend over the seven days before today.
    pub avg_7d_usd: f64,
    pub over_budget: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSpend {
    pub project_id: String,
    pub name: String,
    pub today_usd: f64,
    pub month_usd: f64,
    pub budget_usd: Option<f64>,
    pub used_pct: Option<f64>,
    pub forecast_usd: f64,
    /// The forecast exceeds the budget.
    pub forecast_over: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentHealth {
    pub agent_id: String,
    pub status: String,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Minutes between the last heartbeat and the brief's cut-off.
    pub minutes_since_heartbeat: Option<i64>,
    pub note: Option<String>,
    pub active_tasks: i64,
    pub silent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionList {
    pub total: i64,
    pub decisions: Vec<PendingDecision>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionList {
    pub total: i64,
    pub questions: Vec<WaitingQuestion>,
}

/// A question an agent asked the reader, not answered yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitingQuestion {
    pub id: i64,
    pub text: String,
    /// The asking agent.
    pub asked_by: String,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// How long it has waited at the brief's cut-off: whole hours, and
    /// whole minutes (for one asked less than an hour before).
    pub waiting_hours: i64,
    pub waiting_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingDecision {
    pub id: i64,
    pub kind: String,
    pub context: String,
    pub requested_by: String,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub waiting_hours: i64,
}

/// Something unusual: `kind` is `spend_spike`, `repeated_failure` or
/// `dependency_cycle`; `message` says it in one plain-text line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_7d_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// Round money to 1/10,000 USD.
pub fn usd(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Round a percentage to one decimal.
pub fn pct(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyTasks {
    pub open: i64,
    pub overdue: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityCounts {
    pub tasks_created: i64,
    pub tasks_completed: i64,
    /// Status changes (`task.move` in the audit log).
    pub tasks_moved: i64,
    pub decisions_made: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskRow {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub project_id: Option<String>,
    /// "person:alice" / "agent:coder" style is the caller's choice; plain id here.
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Overdue tasks: whole days past the due day at the brief's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_late: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NamedTask {
    pub id: i64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MadeDecision {
    pub id: i64,
    pub kind: String,
    /// `approved`, `denied` or `cancelled`.
    pub status: String,
    pub decided_by: Option<String>,
}
