//! What the console's pages show, as the hub hands it over: plain values,
//! already readable (times formatted, money in dollars), so templates only
//! lay them out. Every field is always present (templates run in strict
//! mode: a typo is an error, not an empty cell).

use serde::Serialize;

/// Around every page: who is signed in, the CSRF token for its forms, and
/// which page of the navigation is open.
#[derive(Debug, Clone, Serialize)]
pub struct Chrome {
    pub title: String,
    /// `inbox`, `decisions`, `tasks`, `brief`, `costs`, `agents` or "".
    pub active: String,
    pub person: Option<PersonView>,
    pub csrf: String,
    pub unread: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub can_decide: bool,
    pub is_admin: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxView {
    pub items: Vec<InboxEntry>,
    pub read_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub id: String,
    pub urgency: String,
    pub kind: String,
    pub source: String,
    pub title: String,
    pub body: String,
    pub at: String,
    pub unread: bool,
    pub decision_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionsView {
    pub pending: Vec<DecisionEntry>,
    pub recent: Vec<DecisionEntry>,
    pub notice: String,
    /// Agents' questions waiting for the signed-in person, oldest first.
    pub questions: Vec<QuestionEntry>,
}

/// A question an agent asked the signed-in person: its options are
/// buttons, and a free-text answer is always possible.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionEntry {
    pub id: i64,
    pub text: String,
    pub asked_by: String,
    pub context: String,
    pub options: Vec<String>,
    /// A supervised question's LLM draft ("" when none).
    pub draft: String,
    pub task: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionEntry {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub requested_by: String,
    pub status: String,
    pub decided_by: String,
    pub reasoning: String,
    pub at: String,
    /// This person may approve or deny it (the same rule as chat).
    pub can_decide: bool,
}

/// The confirm page an email's Approve link opens (a GET changes nothing).
#[derive(Debug, Clone, Serialize)]
pub struct DecisionConfirm {
    pub decision: DecisionEntry,
    /// `approve` or `deny`: the one to confirm; empty: both are offered.
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub urgency: String,
    pub kind: String,
    pub source: String,
    pub title: String,
    pub body: String,
    pub at: String,
    pub deliveries: Vec<DeliveryEntry>,
    pub notice: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryEntry {
    pub id: String,
    pub channel: String,
    pub address: String,
    pub op: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub platform_message_id: String,
    pub sent_at: String,
    /// Dead, and the viewer is an admin: a Retry button.
    pub can_retry: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TasksView {
    pub columns: Vec<TaskColumn>,
    pub project: String,
    pub assignee: String,
    pub projects: Vec<String>,
    pub can_create: bool,
    pub notice: String,
    /// One column paged, not the whole board.
    pub single: bool,
    /// The whole board with the same filters.
    pub board: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskColumn {
    pub status: String,
    /// Tasks in this status (with the filters), shown or not.
    pub total: i64,
    /// The next page of this column ("" when every card is shown).
    pub more: String,
    pub tasks: Vec<TaskCard>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskCard {
    pub id: i64,
    pub title: String,
    pub priority: String,
    pub assignee: String,
    pub project: String,
    pub due: String,
    /// Lifecycle verbs offered (`start`, `review`, `done`, `block`, `unblock`).
    pub moves: Vec<String>,
    /// The tasks this one waits for (needs completed first).
    pub needs: Vec<TaskRef>,
    /// The tasks that wait for this one.
    pub blocks: Vec<i64>,
    /// Whether the reader may add and remove its dependencies (members).
    pub can_edit_deps: bool,
}

/// Another task named on a card.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub id: i64,
    pub done: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BriefView {
    pub date: String,
    pub title: String,
    pub sections: Vec<BriefSection>,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BriefSection {
    pub heading: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostsView {
    pub today: Vec<CostRow>,
    pub month: Vec<CostRow>,
    pub by_project: Vec<CostRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    pub name: String,
    pub spent: String,
    pub budget: String,
    pub forecast: String,
    pub over: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentsView {
    pub agents: Vec<AgentRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    pub id: String,
    pub status: String,
    pub last_heartbeat: String,
    pub active_tasks: i64,
    pub completed: i64,
    pub failed: i64,
}

/// The page a login link opens: a button that signs in (a GET signs
/// nobody in, so link scanners cannot use up the link).
#[derive(Debug, Clone, Serialize)]
pub struct LoginView {
    pub token: String,
    /// The console page to land on after signing in (already checked to be
    /// one the console serves); empty: the inbox.
    pub then: String,
}

/// A page that only says something: signed out, a refused link, an error.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub heading: String,
    pub text: String,
}
