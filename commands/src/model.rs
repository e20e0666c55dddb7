//! Plain data the commands work on. These are the rows the hub's store reads
//! and writes; nothing here knows about SQL or any chat platform.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a person may do. The order matters: `Viewer < Member < Admin < Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// "a member", "an admin": for refusals that read like a sentence.
    pub fn with_article(self) -> String {
        match self {
            Role::Admin | Role::Owner => format!("an {}", self.as_str()),
            _ => format!("a {}", self.as_str()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for the `FromStr` impls of the enums in this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a valid {what}; expected one of: {expected}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

/// Case-insensitive lookup that also accepts `-` for `_` (people type `in-progress`).
fn parse_enum<T: Copy>(
    what: &'static str,
    s: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, UnknownValue> {
    let wanted = s.trim().to_lowercase().replace('-', "_");
    all.iter()
        .copied()
        .find(|v| name(*v) == wanted)
        .ok_or_else(|| UnknownValue {
            what,
            given: s.to_string(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl FromStr for Role {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("role", s, &Role::ALL, Role::as_str)
    }
}

/// A person, recognised by a platform's immutable user ID (mapped by the hub).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable orkhub handle, e.g. `alice`. Used in audit rows and "decided by".
    pub id: String,
    pub display_name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Active,
    Idle,
    Offline,
    Disabled,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 4] = [
        AgentStatus::Active,
        AgentStatus::Idle,
        AgentStatus::Offline,
        AgentStatus::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Idle => "idle",
            AgentStatus::Offline => "offline",
            AgentStatus::Disabled => "disabled",
        }
    }

    /// Only these take part in automatic assignment.
    pub fn is_available(self) -> bool {
        matches!(self, AgentStatus::Active | AgentStatus::Idle)
    }
}

impl FromStr for AgentStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("agent status", s, &AgentStatus::ALL, AgentStatus::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub status: AgentStatus,
    pub capabilities: Vec<String>,
}

/// What automatic assignment needs to know about an agent's track record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStats {
    /// Tasks assigned to the agent that are not completed.
    pub active_tasks: u32,
    pub completed: u32,
    pub failed: u32,
    /// Average cost per finished task in USD; `None` when there is no record.
    pub avg_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskStatus {
    Created,
    Planning,
    Ready,
    Assigned,
    InProgress,
    Review,
    Completed,
    Blocked,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 8] = [
        TaskStatus::Created,
        TaskStatus::Planning,
        TaskStatus::Ready,
        TaskStatus::Assigned,
        TaskStatus::InProgress,
        TaskStatus::Review,
        TaskStatus::Completed,
        TaskStatus::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "created",
            TaskStatus::Planning => "planning",
            TaskStatus::Ready => "ready",
            TaskStatus::Assigned => "assigned",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Review => "review",
            TaskStatus::Completed => "completed",
            TaskStatus::Blocked => "blocked",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("status", s, &TaskStatus::ALL, TaskStatus::as_str)
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// How loudly a notification about a task of this priority should travel.
    pub fn urgency(self) -> routing::Urgency {
        match self {
            Priority::Low => routing::Urgency::Fyi,
            Priority::Medium | Priority::High => routing::Urgency::Info,
            Priority::Urgent => routing::Urgency::Urgent,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("priority", s, &Priority::ALL, Priority::as_str)
    }
}

/// Who a task is assigned to: a person (by orkhub handle) or an agent (by id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Assignee {
    Person(String),
    Agent(String),
}

impl Assignee {
    /// One-column storage form: `person:alice` / `agent:coder`.
    pub fn to_db(&self) -> String {
        match self {
            Assignee::Person(id) => format!("person:{id}"),
            Assignee::Agent(id) => format!("agent:{id}"),
        }
    }

    /// Inverse of [`Assignee::to_db`].
    pub fn from_db(s: &str) -> Option<Assignee> {
        if let Some(id) = s.strip_prefix("person:") {
            Some(Assignee::Person(id.to_string()))
        } else {
            s.strip_prefix("agent:")
                .map(|id| Assignee::Agent(id.to_string()))
        }
    }
}

impl fmt::Display for Assignee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assignee::Person(id) => write!(f, "@{id}"),
            Assignee::Agent(id) => write!(f, "agent {id}"),
        }
    }
}

/// The longest task title, for the API as for chat.
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: i64,
    pub title: String,
    pub status: TaskStatus,
    /// Set while `status == Blocked`: where `unblock` returns the task to.
    pub blocked_from: Option<TaskStatus>,
    pub priority: Priority,
    pub project: Option<String>,
    pub assignee: Option<Assignee>,
    pub due: Option<NaiveDate>,
    /// What an agent must be able to do to work on this task (for `assign auto`).
    pub capabilities: Vec<String>,
    /// Audit-style actor name of the creator (`person:alice`, `agent:planner`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row to insert. The status is decided by the caller (service layer), so
/// the store only inserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub project: Option<String>,
    pub assignee: Option<Assignee>,
    pub due: Option<NaiveDate>,
    pub capabilities: Vec<String>,
    pub created_by: String,
}

/// `task list` filter. All conditions are ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFilter {
    pub assignee: Option<Assignee>,
    /// When set, only tasks in this status (completed included if asked for).
    pub status: Option<TaskStatus>,
    pub project: Option<String>,
    /// Only consulted when `status` is `None`: list completed tasks too.
    pub include_completed: bool,
    /// At most this many rows, lowest id first.
    pub limit: u32,
}

/// Compare-and-set status change: applies only if the task is still `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub task_id: i64,
    pub from: TaskStatus,
    pub to: TaskStatus,
    /// Stored as the task's new `blocked_from` (`Some` exactly when `to` is blocked).
    pub blocked_from: Option<TaskStatus>,
}

/// Compare-and-set assignment: applies only if the task is still `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub task_id: i64,
    pub from: TaskStatus,
    pub assignee: Assignee,
    /// The status after assignment (`assigned`, or unchanged for a reassignment).
    pub to: TaskStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DecisionStatus {
    Pending,
    Approved,
    Denied,
}

impl DecisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStatus::Pending => "pending",
            DecisionStatus::Approved => "approved",
            DecisionStatus::Denied => "denied",
        }
    }
}

impl fmt::Display for DecisionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DecisionStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            DecisionStatus::Pending,
            DecisionStatus::Approved,
            DecisionStatus::Denied,
        ];
        parse_enum("decision status", s, &all, DecisionStatus::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DecisionOutcome {
    Approve,
    Deny,
}

impl DecisionOutcome {
    pub fn status(self) -> DecisionStatus {
        match self {
            DecisionOutcome::Approve => DecisionStatus::Approved,
            DecisionOutcome::Deny => DecisionStatus::Denied,
        }
    }

    /// The command word, used in refusals ("`approve` needs ...").
    pub fn verb(self) -> &'static str {
        match self {
            DecisionOutcome::Approve => "approve",
            DecisionOutcome::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub id: i64,
    /// e.g. `deploy`, `spend`, `assignment`; approvers are configured per kind.
    pub kind: String,
    pub context: String,
    pub options: Vec<String>,
    pub status: DecisionStatus,
    /// Actor name of whoever asked (`agent:deployer`, `system`).
    pub requested_by: String,
    pub task_id: Option<i64>,
    pub decided_by: Option<String>,
    pub reasoning: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// The outcome written by a resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub outcome: DecisionOutcome,
    /// Actor name (`alice` for a person, `agent:x`, `system`).
    pub decided_by: String,
    pub reasoning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDecision {
    pub kind: String,
    pub context: String,
    pub options: Vec<String>,
    pub requested_by: String,
    pub task_id: Option<i64>,
    /// `Some` to record an already-made decision (e.g. an automatic
    /// assignment); the store then sets `decided_at` to now.
    pub resolved: Option<Resolution>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostPeriod {
    #[default]
    Today,
    Week,
    Month,
}

impl CostPeriod {
    pub const ALL: [CostPeriod; 3] = [CostPeriod::Today, CostPeriod::Week, CostPeriod::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            CostPeriod::Today => "today",
            CostPeriod::Week => "week",
            CostPeriod::Month => "month",
        }
    }

    /// Start of the period containing `now`, in UTC: midnight today, Monday
    /// of this ISO week, or the first of this month.
    pub fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive();
        let start = match self {
            CostPeriod::Today => today,
            CostPeriod::Week => {
                today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
            }
            CostPeriod::Month => today.with_day(1).unwrap_or(today),
        };
        Utc.from_utc_datetime(&start.and_time(chrono::NaiveTime::MIN))
    }
}

impl FromStr for CostPeriod {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("period", s, &CostPeriod::ALL, CostPeriod::as_str)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostBy {
    #[default]
    Agent,
    Project,
    Model,
}

impl CostBy {
    pub const ALL: [CostBy; 3] = [CostBy::Agent, CostBy::Project, CostBy::Model];

    pub fn as_str(self) -> &'static str {
        match self {
            CostBy::Agent => "agent",
            CostBy::Project => "project",
            CostBy::Model => "model",
        }
    }
}

impl FromStr for CostBy {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_enum("grouping", s, &CostBy::ALL, CostBy::as_str)
    }
}

/// One group of a cost summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    /// The agent id, project or model name (empty when the records had none).
    pub key: String,
    pub cost_usd: f64,
    pub records: u64,
}

/// One audit-log row. The store writes it in the same transaction as the
/// change it describes, so the log never disagrees with the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// `alice` (a person), `agent:coder`, or `system`.
    pub actor: String,
    /// `task.create`, `task.assign`, `task.move`, `task.dep`, `decision.create`,
    /// `decision.resolve`.
    pub action: String,
    /// `task:3`, `decision:7`.
    pub resource: String,
    pub details: serde_json::Value,
    /// Where it came from: `telegram user 12345 in chat -100200`, `api`, `system`.
    pub source: String,
}

/// What a button does. Stored server-side behind an opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ButtonAction {
    Approve {
        decision_id: i64,
    },
    Deny {
        decision_id: i64,
    },
    /// Answer a question with its option number `option` (from 0).
    Answer {
        question_id: i64,
        option: u32,
    },
    /// Answer a supervised question with its LLM draft.
    ApproveDraft {
        question_id: i64,
    },
    /// Show the person a supervised question's draft ready to change and
    /// send (`answer <id> <text>`, or a reply to the question's message).
    EditDraft {
        question_id: i64,
    },
}

/// API scopes an agent key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "tasks:read")]
    TasksRead,
    #[serde(rename = "tasks:write")]
    TasksWrite,
    #[serde(rename = "decisions:resolve")]
    DecisionsResolve,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::TasksRead, Scope::TasksWrite, Scope::DecisionsResolve];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::DecisionsResolve => "decisions:resolve",
        }
    }
}

impl FromStr for Scope {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_lowercase();
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == wanted)
            .ok_or_else(|| UnknownValue {
                what: "scope",
                given: s.to_string(),
                expected: "tasks:read, tasks:write, decisions:resolve".to_string(),
            })
    }
}

/// Who is doing something, and from where. Chat commands act as a person;
/// the HTTP API acts as an agent with scopes; follow-up effects (a task
/// becoming ready) act as the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// Recorded as the audit entry's `source`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    Person(Person),
    Agent { id: String, scopes: Vec<Scope> },
    System,
}

impl Actor {
    pub fn person(person: Person, source: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::Person(person),
            source: source.into(),
        }
    }

    pub fn agent(id: impl Into<String>, scopes: Vec<Scope>) -> Actor {
        Actor {
            kind: ActorKind::Agent {
                id: id.into(),
                scopes,
            },
            source: "api".to_string(),
        }
    }

    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            source: "system".to_string(),
        }
    }

    /// The name written to audit rows, `created_by` and `decided_by`.
    pub fn name(&self) -> String {
        match &self.kind {
            ActorKind::Person(p) => p.id.clone(),
            ActorKind::Agent { id, .. } => format!("agent:{id}"),
            ActorKind::System => "system".to_string(),
        }
    }

    pub fn as_person(&self) -> Option<&Person> {
        match &self.kind {
            ActorKind::Person(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn audit(
        &self,
        action: &str,
        resource: impl Into<String>,
        details: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            actor: self.name(),
            action: action.to_string(),
            resource: resource.into(),
            details,
            source: self.source.clone(),
        }
    }
}

/// Something the hub may want to act on after a command: send a new decision
/// to its approvers, edit every copy of a resolved one, post a task update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    TaskChanged(Task),
    DecisionCreated(Decision),
    DecisionResolved(Decision),
    QuestionAnswered(crate::questions::Question),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Member);
        assert!(Role::Member < Role::Admin);
        assert!(Role::Admin < Role::Owner);
    }

    #[test]
    fn enums_parse_leniently() {
        assert_eq!(
            "In-Progress".parse::<TaskStatus>(),
            Ok(TaskStatus::InProgress)
        );
        assert_eq!("URGENT".parse::<Priority>(), Ok(Priority::Urgent));
        assert!("soon".parse::<Priority>().is_err());
        assert_eq!(
            "decisions:resolve".parse::<Scope>(),
            Ok(Scope::DecisionsResolve)
        );
    }

    #[test]
    fn assignee_db_round_trip() {
        for a in [
            Assignee::Person("alice".into()),
            Assignee::Agent("coder".into()),
        ] {
            assert_eq!(Assignee::from_db(&a.to_db()), Some(a));
        }
        assert_eq!(Assignee::from_db("bogus"), None);
    }

    #[test]
    fn cost_period_starts() {
        // 2026-11-26 is a Thursday.
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 15, 30, 0).single();
        let Some(now) = now else { panic!("valid date") };
        let day = |d| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).single();
        assert_eq!(Some(CostPeriod::Today.since(now)), day(26));
        assert_eq!(Some(CostPeriod::Week.since(now)), day(23));
        assert_eq!(Some(CostPeriod::Month.since(now)), day(1));
    }
}
