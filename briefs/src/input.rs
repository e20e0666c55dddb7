//! The plain rows the store reads for one [`crate::Window`]: counts, sums and
//! short lists. Everything computed from them lives in [`crate::build`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// The rows the brief shows as they are: defined with the model in `neutral`.
pub use neutral::brief::{ActivityCounts, MadeDecision, MyTasks, NamedTask, TaskRow};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BriefInput {
    pub activity: ActivityCounts,
    /// The reader's own open tasks.
    pub mine: MyTasks,
    /// Open tasks whose due day has passed, earliest due first (at most the
    /// list limit), and how many there are in all.
    pub overdue: Vec<TaskRow>,
    pub overdue_total: i64,
    /// Open urgent/high tasks older than their SLA, oldest first, and the total.
    pub sla_breaches: Vec<TaskRow>,
    pub sla_total: i64,
    /// Spend summed per agent and project over the brief's buckets.
    pub spend: Vec<SpendRow>,
    pub agents: Vec<AgentRow>,
    pub projects: Vec<ProjectRow>,
    pub pending_decisions: Vec<DecisionRow>,
    pub pending_total: i64,
    /// Questions asked of the reader and unanswered at the cut-off, oldest
    /// first (at most the list limit), and how many there are in all.
    pub waiting_questions: Vec<QuestionRow>,
    pub waiting_questions_total: i64,
    /// Which of the pending decisions the reader may decide.
    pub reader: ReaderScope,
    /// Tasks completed and decisions made in the window (at most the list limit).
    pub completed: Vec<NamedTask>,
    pub decided: Vec<MadeDecision>,
    /// The same (agent, reason) failing more than once in the last 7 days.
    pub repeated_failures: Vec<FailureRow>,
    /// Dependency edges `(task, needs)`, less those of completed tasks on a cycle.
    pub open_edges: Vec<(i64, i64)>,
}

/// Who may decide what: owners and admins every kind; others the kinds
/// they are approvers of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderScope {
    pub all_kinds: bool,
    pub kinds: Vec<String>,
}

impl ReaderScope {
    pub fn may_decide(&self, kind: &str) -> bool {
        self.all_kinds || self.kinds.iter().any(|k| k == kind)
    }
}

/// Spend of one agent on one project (None: no project).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    pub agent_id: String,
    pub project_id: Option<String>,
    /// `[day_start, until]` (a cost stamped in the cut-off's millisecond
    /// was recorded before the brief began)
    pub today_usd: f64,
    /// `[month_start, until]`
    pub month_usd: f64,
    /// `[week_start, day_start)`: the seven full days before today.
    pub week_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRow {
    pub id: String,
    pub status: String,
    pub daily_budget_usd: Option<f64>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub heartbeat_note: Option<String>,
    /// Assigned, in progress or in review.
    pub active_tasks: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    /// Monthly.
    pub budget_usd: Option<f64>,
    pub deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    pub id: i64,
    pub kind: String,
    pub context: String,
    pub requested_by: String,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRow {
    pub id: i64,
    pub text: String,
    pub asked_by: String,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRow {
    pub agent_id: String,
    pub reason: String,
    pub count: i64,
    pub last_at: DateTime<Utc>,
}
