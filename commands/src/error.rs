//! Every way a command can fail, each with a message a person can act on.
//! Three layers: the store ([`BackendError`]), the rules ([`ServiceError`],
//! shared with the HTTP API) and the grammar ([`ParseError`]).

use crate::model::{DecisionStatus, Role, TaskStatus};
use chrono::{DateTime, Utc};

/// What the hub's store can report. `Conflict` is how compare-and-set
/// methods say "the row was not in the expected state; nothing changed".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store refused the data (a constraint), e.g. a duplicate row.
    #[error("rejected by the store: {0}")]
    Invalid(String),
    /// Connection, pool, timeout, I/O: worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// A refusal or failure of a domain rule. These are what both the chat
/// commands and the agent HTTP API return; [`ServiceError::http_status`] maps
/// them for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// `action` needs `needs`; `have` says what the caller is.
    #[error("`{action}` needs {needs}; {have}.")]
    Forbidden {
        action: String,
        needs: String,
        have: String,
    },
    #[error("There is no task #{0}.")]
    TaskNotFound(i64),
    #[error("There is no decision #{0}.")]
    DecisionNotFound(i64),
    #[error("There is no question #{0}.")]
    QuestionNotFound(i64),
    /// The first answer stands; a later one is refused naming it.
    #[error(
        "Question #{id} was already answered by {by} ({via}) at {}.",
        format_time(at)
    )]
    AlreadyAnswered {
        id: i64,
        by: String,
        via: crate::questions::AnswerVia,
        at: DateTime<Utc>,
    },
    #[error("I don't know `{0}`: it is neither a person in orkhub nor an agent.")]
    UnknownAssignee(String),
    #[error("`{0}` is both a person and an agent; use the person's mention or `agent:{0}`.")]
    AmbiguousAssignee(String),
    #[error("{}", illegal_move(*task, *from, *to, allowed))]
    IllegalMove {
        task: i64,
        from: TaskStatus,
        to: TaskStatus,
        allowed: Vec<TaskStatus>,
    },
    #[error("Task #{0} is not blocked.")]
    NotBlocked(i64),
    #[error("Task #{0} is completed; it can't be changed any more.")]
    TaskClosed(i64),
    #[error("{}", open_dependencies(*task, open))]
    OpenDependencies {
        task: i64,
        /// (id, title, status) of each dependency that is not completed.
        open: Vec<(i64, String, TaskStatus)>,
    },
    #[error("A task can't depend on itself (#{0}).")]
    SelfDependency(i64),
    #[error("Task #{task} already needs #{needs}.")]
    AlreadyDepends { task: i64, needs: i64 },
    #[error("Task #{task} does not need #{needs}: there is no such dependency to remove.")]
    NoSuchDependency { task: i64, needs: i64 },
    #[error("That would make a cycle: {} (→ means \"needs\").", cycle_text(path))]
    Cycle { path: Vec<i64> },
    #[error("{}", already_resolved(*id, *status, decided_by.as_deref(), decided_at.as_ref()))]
    AlreadyResolved {
        id: i64,
        status: DecisionStatus,
        decided_by: Option<String>,
        decided_at: Option<DateTime<Utc>>,
    },
    /// A compare-and-set lost a race: someone changed the row meanwhile.
    #[error("{0} was changed by someone else just now; look at it again and retry.")]
    ChangedMeanwhile(String),
    #[error("{0}")]
    Invalid(String),
    #[error("storage problem: {0}")]
    Backend(BackendError),
}

impl From<BackendError> for ServiceError {
    fn from(e: BackendError) -> Self {
        ServiceError::Backend(e)
    }
}

impl ServiceError {
    /// The HTTP status the agent API should answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            ServiceError::Forbidden { .. } => 403,
            ServiceError::TaskNotFound(_)
            | ServiceError::DecisionNotFound(_)
            | ServiceError::QuestionNotFound(_)
            | ServiceError::NoSuchDependency { .. }
            | ServiceError::UnknownAssignee(_) => 404,
            ServiceError::IllegalMove { .. }
            | ServiceError::NotBlocked(_)
            | ServiceError::TaskClosed(_)
            | ServiceError::OpenDependencies { .. }
            | ServiceError::AlreadyDepends { .. }
            | ServiceError::Cycle { .. }
            | ServiceError::AlreadyResolved { .. }
            | ServiceError::AlreadyAnswered { .. }
            | ServiceError::ChangedMeanwhile(_) => 409,
            ServiceError::AmbiguousAssignee(_)
            | ServiceError::SelfDependency(_)
            | ServiceError::Invalid(_) => 422,
            ServiceError::Backend(BackendError::Unavailable(_)) => 503,
            ServiceError::Backend(_) => 500,
        }
    }

    /// Text for a chat reply. Storage details stay in the logs, not in chat.
    pub fn user_message(&self) -> String {
        match self {
            ServiceError::Backend(_) => {
                "Something went wrong on my side (storage). Please try again in a minute.".into()
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn forbidden_role(action: &str, needed: Role, have: Role) -> ServiceError {
        ServiceError::Forbidden {
            action: action.to_string(),
            needs: format!("the {} role", needed.as_str()),
            have: format!("you are {}", have.with_article()),
        }
    }
}

/// What a command in the lifecycle table is called, for hints in refusals.
fn move_hint(task: i64, to: TaskStatus) -> String {
    let cmd = match to {
        TaskStatus::Assigned => Some(format!("task assign {task} <@who|auto>")),
        TaskStatus::InProgress => Some(format!("task start {task}")),
        TaskStatus::Review => Some(format!("task review {task}")),
        TaskStatus::Completed => Some(format!("task done {task}")),
        TaskStatus::Blocked => Some(format!("task block {task}")),
        _ => None,
    };
    match cmd {
        Some(c) => format!("{to} (`{c}`)"),
        None => to.to_string(),
    }
}

fn illegal_move(task: i64, from: TaskStatus, to: TaskStatus, allowed: &[TaskStatus]) -> String {
    if allowed.is_empty() {
        return format!("Task #{task} is `{from}`; it can't move to `{to}` or anywhere else.");
    }
    let list: Vec<String> = if from == TaskStatus::Blocked {
        // The only way out of blocked is back where it came from.
        allowed
            .iter()
            .map(|s| format!("{s} (`task unblock {task}`)"))
            .collect()
    } else {
        allowed.iter().map(|s| move_hint(task, *s)).collect()
    };
    format!(
        "Task #{task} is `{from}`, so it can't move to `{to}`. From `{from}` it can go to: {}.",
        list.join(", ")
    )
}

fn open_dependencies(task: i64, open: &[(i64, String, TaskStatus)]) -> String {
    let list: Vec<String> = open
        .iter()
        .map(|(id, title, status)| format!("#{id} \"{title}\" ({status})"))
        .collect();
    format!(
        "Task #{task} can't start yet: it needs {} to be completed first.",
        list.join(", ")
    )
}

pub(crate) fn cycle_text(path: &[i64]) -> String {
    path.iter()
        .map(|id| format!("#{id}"))
        .collect::<Vec<_>>()
        .join(" → ")
}

pub(crate) fn format_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn already_resolved(
    id: i64,
    status: DecisionStatus,
    by: Option<&str>,
    at: Option<&DateTime<Utc>>,
) -> String {
    let mut s = format!("Decision #{id} was already {status}");
    if let Some(by) = by {
        s.push_str(&format!(" by {by}"));
    }
    if let Some(at) = at {
        s.push_str(&format!(" at {}", format_time(at)));
    }
    s.push('.');
    s
}

/// Why a line of text is not a command we can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("That's an empty command. Try `help`.")]
    Empty,
    #[error(
        "That command is too long ({chars} characters; the limit is {max}). Shorten the title or note."
    )]
    TooLong { chars: usize, max: usize },
    /// `/task@otherbot`: addressed to another bot in the same chat. Not an
    /// error to show anyone: the caller should stay silent.
    #[error("addressed to @{bot}, not to this bot")]
    NotForUs { bot: String },
    #[error("Unknown command `{given}`. {}", suggestion_text(suggestion.as_deref()))]
    UnknownCommand {
        given: String,
        suggestion: Option<String>,
    },
    /// A known command with a missing or bad argument: the problem, then usage.
    #[error("{problem}\nUsage: `{usage}`\nSee `help {command}` for details.")]
    Usage {
        command: String,
        problem: String,
        usage: String,
    },
}

fn suggestion_text(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("Did you mean `{s}`?"),
        None => "Type `help` to see the commands.".to_string(),
    }
}

/// A command that could not run, for [`crate::Outcome::Rejected`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A button whose token is unknown or expired.
    #[error("This button is no longer valid. Use `decisions` to see what is pending.")]
    UnknownButton,
}

impl CommandError {
    pub fn user_message(&self) -> String {
        match self {
            CommandError::Service(e) => e.user_message(),
            other => other.to_string(),
        }
    }

    /// True for permission refusals, which the hub may want to audit.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, CommandError::Service(ServiceError::Forbidden { .. }))
    }
}
