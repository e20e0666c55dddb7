//! The one definition of every command. The parser, the help text, Telegram's
//! command list and Discord's application commands are all derived from the
//! [`COMMANDS`] table below; adding a command means adding one entry here (and
//! its variant in [`Command`], built by the entry's `build` function).

use crate::model::{CostBy, CostPeriod, Priority, Role, TaskStatus};
use chrono::NaiveDate;

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// At least this role.
    Role(Role),
    /// An admin or owner, or a person listed as approver for the decision's
    /// kind. Checked against the decision itself when the command runs.
    Approver,
    /// The person a question was asked, or an admin or owner. Checked
    /// against the question itself when the command runs.
    Addressee,
}

/// The type of an argument; drives validation, usage text and the Discord
/// option type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// `42` or `#42`.
    TaskId,
    /// `@alice`, a platform mention (`<@U123>`), `me`, an agent id; plus
    /// `auto` when `allow_auto`.
    Who { allow_auto: bool },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// `YYYY-MM-DD`.
    Date,
    /// One token (quote it to include spaces).
    Word,
    /// Comma-separated words: `rust,sql`.
    List,
    /// Free text: every remaining positional word. Only as the last positional.
    Text { max_chars: usize },
    /// A flag without a value: `--mine`.
    Switch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// The flag name (`--priority`) and the Discord option name.
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    /// `true` for `--name value` options, `false` for positional arguments.
    pub flag: bool,
    /// A literal word that precedes the value in text form (`task dep 3 needs 5`).
    pub keyword: Option<&'static str>,
    /// Shown in usage: `<title>`, `<id>`.
    pub placeholder: &'static str,
    /// One line for help and Discord (≤ 100 characters).
    pub help: &'static str,
}

/// Turns validated arguments into the typed command (an `Err` is a usage problem).
pub type Builder = fn(&Args) -> Result<Command, String>;

pub struct CommandSpec {
    /// Lowercase, ≤ 32 characters (both Telegram and Discord limits).
    pub name: &'static str,
    /// One line, ≤ 100 characters (Discord's description limit).
    pub summary: &'static str,
    /// Extra help shown by `help <command>`; may be empty.
    pub details: &'static str,
    pub access: Access,
    pub args: &'static [ArgSpec],
    /// Non-empty for a group such as `task`; then `build` is `None`.
    pub subcommands: &'static [CommandSpec],
    pub build: Option<Builder>,
    pub examples: &'static [&'static str],
}

impl CommandSpec {
    pub fn positionals(&self) -> impl Iterator<Item = &ArgSpec> {
        self.args.iter().filter(|a| !a.flag)
    }

    pub fn flags(&self) -> impl Iterator<Item = &ArgSpec> {
        self.args.iter().filter(|a| a.flag)
    }

    pub fn subcommand(&self, name: &str) -> Option<&CommandSpec> {
        self.subcommands.iter().find(|c| c.name == name)
    }
}

/// Who a command names: resolved to a person or agent when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhoRef {
    /// The caller.
    Me,
    /// A platform user ID from a mention (`<@U123>` on Slack/Discord).
    Mention(String),
    /// An orkhub handle or agent id (`@alice`, `coder`, `agent:coder`).
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignTarget {
    Auto,
    Who(WhoRef),
}

/// The lifecycle verbs of `task start|review|done|block|unblock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveVerb {
    Start,
    Review,
    Done,
    Block,
    Unblock,
}

impl MoveVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveVerb::Start => "start",
            MoveVerb::Review => "review",
            MoveVerb::Done => "done",
            MoveVerb::Block => "block",
            MoveVerb::Unblock => "unblock",
        }
    }
}

/// A parsed, validated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    TaskNew {
        title: String,
        priority: Priority,
        assignee: Option<WhoRef>,
        project: Option<String>,
        due: Option<NaiveDate>,
        capabilities: Vec<String>,
    },
    TaskAssign {
        id: i64,
        to: AssignTarget,
    },
    TaskMove {
        id: i64,
        verb: MoveVerb,
        note: Option<String>,
    },
    TaskDep {
        id: i64,
        needs: i64,
    },
    TaskList {
        mine: bool,
        status: Option<TaskStatus>,
        project: Option<String>,
    },
    TaskShow {
        id: i64,
    },
    Decisions,
    Approve {
        id: i64,
        reason: Option<String>,
    },
    Deny {
        id: i64,
        reason: String,
    },
    Answer {
        id: i64,
        text: String,
    },
    Brief,
    Cost {
        period: CostPeriod,
        by: CostBy,
    },
    Whoami,
    Login,
    Help {
        topic: Option<String>,
    },
}

impl Command {
    /// The command's path in the spec (`"task new"`), for access checks and help.
    pub fn path(&self) -> &'static str {
        match self {
            Command::TaskNew { .. } => "task new",
            Command::TaskAssign { .. } => "task assign",
            Command::TaskMove { verb, .. } => match verb {
                MoveVerb::Start => "task start",
                MoveVerb::Review => "task review",
                MoveVerb::Done => "task done",
                MoveVerb::Block => "task block",
                MoveVerb::Unblock => "task unblock",
            },
            Command::TaskDep { .. } => "task dep",
            Command::TaskList { .. } => "task list",
            Command::TaskShow { .. } => "task show",
            Command::Decisions => "decisions",
            Command::Approve { .. } => "approve",
            Command::Deny { .. } => "deny",
            Command::Answer { .. } => "answer",
            Command::Brief => "brief",
            Command::Cost { .. } => "cost",
            Command::Whoami => "whoami",
            Command::Login => "login",
            Command::Help { .. } => "help",
        }
    }

    pub fn spec(&self) -> Option<&'static CommandSpec> {
        let words: Vec<&str> = self.path().split(' ').collect();
        find(&words)
    }
}

/// A validated argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Id(i64),
    Text(String),
    Who(WhoRef),
    Auto,
    Choice(&'static str),
    Date(NaiveDate),
    Switch,
    List(Vec<String>),
}

/// The arguments of one invocation, by spec name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: Vec<(&'static str, Value)>,
}

impl Args {
    pub(crate) fn set(&mut self, name: &'static str, value: Value) {
        self.values.push((name, value));
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn id(&self, name: &str) -> Result<i64, String> {
        match self.get(name) {
            Some(Value::Id(id)) => Ok(*id),
            _ => Err(format!("Missing <{name}>.")),
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        }
    }

    fn choice(&self, name: &str) -> Option<&'static str> {
        match self.get(name) {
            Some(Value::Choice(c)) => Some(c),
            _ => None,
        }
    }

    fn who(&self, name: &str) -> Option<WhoRef> {
        match self.get(name) {
            Some(Value::Who(w)) => Some(w.clone()),
            _ => None,
        }
    }
}

/// Parse a choice value the spec already validated; a mismatch is a bug in
/// the table, reported as a usage problem rather than a panic.
fn typed<T: std::str::FromStr>(choice: Option<&str>) -> Result<Option<T>, String> {
    match choice {
        None => Ok(None),
        Some(c) => c
            .parse()
            .map(Some)
            .map_err(|_| format!("`{c}` is not accepted here.")),
    }
}

const PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];
const STATUSES: &[&str] = &[
    "created",
    "planning",
    "ready",
    "assigned",
    "in_progress",
    "review",
    "completed",
    "blocked",
];
const PERIODS: &[&str] = &["today", "week", "month"];
const GROUPINGS: &[&str] = &["agent", "project", "model"];

const fn pos(
    name: &'static str,
    kind: ArgKind,
    placeholder: &'static str,
    help: &'static str,
) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: true,
        flag: false,
        keyword: None,
        placeholder,
        help,
    }
}

const fn opt_pos(
    name: &'static str,
    kind: ArgKind,
    placeholder: &'static str,
    help: &'static str,
) -> ArgSpec {
    ArgSpec {
        required: false,
        ..pos(name, kind, placeholder, help)
    }
}

const fn flag(
    name: &'static str,
    kind: ArgKind,
    placeholder: &'static str,
    help: &'static str,
) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: false,
        flag: true,
        keyword: None,
        placeholder,
        help,
    }
}

const TASK_ID: ArgSpec = pos("id", ArgKind::TaskId, "id", "The task number, e.g. 42");
const NOTE: ArgSpec = opt_pos(
    "note",
    ArgKind::Text { max_chars: 1000 },
    "note",
    "Why, for the record",
);

const fn move_cmd(
    name: &'static str,
    summary: &'static str,
    build: fn(&Args) -> Result<Command, String>,
    examples: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        summary,
        details: "",
        access: Access::Role(Role::Member),
        args: &[TASK_ID, NOTE],
        subcommands: &[],
        build: Some(build),
        examples,
    }
}

fn build_move(a: &Args, verb: MoveVerb) -> Result<Command, String> {
    Ok(Command::TaskMove {
        id: a.id("id")?,
        verb,
        note: a.text("note"),
    })
}

/// The top-level commands, in help order.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "task",
        summary: "Create, assign, move and list tasks",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[],
        subcommands: TASK_SUBCOMMANDS,
        build: None,
        examples: &[],
    },
    CommandSpec {
        name: "decisions",
        summary: "List the decisions waiting for an answer",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[],
        subcommands: &[],
        build: Some(|_| Ok(Command::Decisions)),
        examples: &["decisions"],
    },
    CommandSpec {
        name: "approve",
        summary: "Approve a pending decision",
        details: "Admins and owners may approve any decision; others only the kinds they are approvers for.",
        access: Access::Approver,
        args: &[
            pos("id", ArgKind::TaskId, "id", "The decision number, e.g. 7"),
            opt_pos(
                "reason",
                ArgKind::Text { max_chars: 1000 },
                "reason",
                "Why, for the requester and the record",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::Approve {
                id: a.id("id")?,
                reason: a.text("reason"),
            })
        }),
        examples: &["approve 7", "approve 7 looks safe"],
    },
    CommandSpec {
        name: "deny",
        summary: "Deny a pending decision (a reason is required)",
        details: "The reason goes back to whoever asked, so they can adjust.",
        access: Access::Approver,
        args: &[
            pos("id", ArgKind::TaskId, "id", "The decision number, e.g. 7"),
            pos(
                "reason",
                ArgKind::Text { max_chars: 1000 },
                "reason",
                "Why, for the requester and the record",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::Deny {
                id: a.id("id")?,
                reason: a.text("reason").ok_or("Missing <reason>.")?,
            })
        }),
        examples: &["deny 7 not before the release"],
    },
    CommandSpec {
        name: "answer",
        summary: "Answer a question an agent asked",
        details: "The first answer counts; every copy of the question is edited to show it.",
        access: Access::Addressee,
        args: &[
            pos("id", ArgKind::TaskId, "id", "The question number, e.g. 4"),
            pos(
                "text",
                ArgKind::Text { max_chars: 4000 },
                "text",
                "The answer, sent back to the agent",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::Answer {
                id: a.id("id")?,
                text: a.text("text").ok_or("Missing <text>.")?,
            })
        }),
        examples: &["answer 4 use the EU region"],
    },
    CommandSpec {
        name: "brief",
        summary: "Today's brief, now",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[],
        subcommands: &[],
        build: Some(|_| Ok(Command::Brief)),
        examples: &["brief"],
    },
    CommandSpec {
        name: "cost",
        summary: "What the agents cost: today, this week or this month",
        details: "Periods are calendar periods in UTC; weeks start on Monday.",
        access: Access::Role(Role::Viewer),
        args: &[
            opt_pos(
                "period",
                ArgKind::Choice(PERIODS),
                "today|week|month",
                "Which period (default today)",
            ),
            flag(
                "by",
                ArgKind::Choice(GROUPINGS),
                "agent|project|model",
                "Group by (default agent)",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::Cost {
                period: typed(a.choice("period"))?.unwrap_or_default(),
                by: typed(a.choice("by"))?.unwrap_or_default(),
            })
        }),
        examples: &["cost", "cost week --by project"],
    },
    CommandSpec {
        name: "whoami",
        summary: "Who orkhub thinks you are, and your role",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[],
        subcommands: &[],
        build: Some(|_| Ok(Command::Whoami)),
        examples: &["whoami"],
    },
    CommandSpec {
        name: "login",
        summary: "A one-time link to the web console, sent to you only",
        details: "The link works once and expires after a few minutes (adapters.web.login_link_minutes).",
        access: Access::Role(Role::Viewer),
        args: &[],
        subcommands: &[],
        build: Some(|_| Ok(Command::Login)),
        examples: &["login"],
    },
    CommandSpec {
        name: "help",
        summary: "List the commands, or explain one",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[opt_pos(
            "command",
            ArgKind::Text { max_chars: 100 },
            "command",
            "A command, e.g. task new",
        )],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::Help {
                topic: a.text("command"),
            })
        }),
        examples: &["help", "help task new"],
    },
];

static TASK_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "new",
        summary: "Create a task",
        details: "Quote the title if it contains words starting with --. A task with an assignee starts as assigned.",
        access: Access::Role(Role::Member),
        args: &[
            pos(
                "title",
                ArgKind::Text {
                    max_chars: crate::model::MAX_TITLE_CHARS,
                },
                "title",
                "What needs doing",
            ),
            flag(
                "priority",
                ArgKind::Choice(PRIORITIES),
                "low|medium|high|urgent",
                "Default medium",
            ),
            flag(
                "assignee",
                ArgKind::Who { allow_auto: false },
                "@who",
                "A person or an agent",
            ),
            flag(
                "project",
                ArgKind::Word,
                "project",
                "Project name (quote it if it has spaces)",
            ),
            flag("due", ArgKind::Date, "YYYY-MM-DD", "Due date"),
            flag(
                "caps",
                ArgKind::List,
                "skill,skill",
                "Capabilities an agent needs for it (for assign auto)",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            let title = a.text("title").ok_or("Missing <title>.")?;
            Ok(Command::TaskNew {
                // A title is one line: newlines and tabs from a quoted title become spaces.
                title: title
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect(),
                priority: typed(a.choice("priority"))?.unwrap_or_default(),
                assignee: a.who("assignee"),
                project: a.text("project"),
                due: match a.get("due") {
                    Some(Value::Date(d)) => Some(*d),
                    _ => None,
                },
                capabilities: match a.get("caps") {
                    Some(Value::List(l)) => l.clone(),
                    _ => Vec::new(),
                },
            })
        }),
        examples: &[
            "task new \"Fix the login page\" --priority high --project web",
            "task new Write release notes --assignee @alice --due 2026-12-01",
        ],
    },
    CommandSpec {
        name: "assign",
        summary: "Assign a task to a person or agent, or let orkhub pick an agent (auto)",
        details: "`auto` scores the available agents: capability match 40%, workload 20%, past performance 30%, cost 10%. The choice and its reasoning are recorded as a decision; if no agent fits, an admin is asked.",
        access: Access::Role(Role::Member),
        args: &[
            TASK_ID,
            pos(
                "who",
                ArgKind::Who { allow_auto: true },
                "@who|auto",
                "A person, an agent, or auto",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            let to = match a.get("who") {
                Some(Value::Auto) => AssignTarget::Auto,
                Some(Value::Who(w)) => AssignTarget::Who(w.clone()),
                _ => return Err("Missing <@who|auto>.".into()),
            };
            Ok(Command::TaskAssign {
                id: a.id("id")?,
                to,
            })
        }),
        examples: &["task assign 42 @alice", "task assign 42 auto"],
    },
    move_cmd(
        "start",
        "Start working on a task (its dependencies must be completed)",
        |a| build_move(a, MoveVerb::Start),
        &["task start 42"],
    ),
    move_cmd(
        "review",
        "Send a task to review",
        |a| build_move(a, MoveVerb::Review),
        &["task review 42 ready for a look"],
    ),
    move_cmd(
        "done",
        "Mark a task completed",
        |a| build_move(a, MoveVerb::Done),
        &["task done 42"],
    ),
    move_cmd(
        "block",
        "Mark a task blocked",
        |a| build_move(a, MoveVerb::Block),
        &["task block 42 waiting for the API key"],
    ),
    move_cmd(
        "unblock",
        "Return a blocked task to where it was",
        |a| build_move(a, MoveVerb::Unblock),
        &["task unblock 42"],
    ),
    CommandSpec {
        name: "dep",
        summary: "Record that a task needs another one completed first",
        details: "Cycles are refused. A task whose dependencies are all completed becomes ready.",
        access: Access::Role(Role::Member),
        args: &[
            TASK_ID,
            ArgSpec {
                keyword: Some("needs"),
                ..pos("needs", ArgKind::TaskId, "other-id", "The task it needs")
            },
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::TaskDep {
                id: a.id("id")?,
                needs: a.id("needs")?,
            })
        }),
        examples: &["task dep 42 needs 41"],
    },
    CommandSpec {
        name: "list",
        summary: "List open tasks",
        details: "Completed tasks are listed only with --status completed.",
        access: Access::Role(Role::Viewer),
        args: &[
            flag("mine", ArgKind::Switch, "", "Only tasks assigned to you"),
            flag(
                "status",
                ArgKind::Choice(STATUSES),
                "status",
                "Only tasks in this status",
            ),
            flag(
                "project",
                ArgKind::Word,
                "project",
                "Only tasks of this project",
            ),
        ],
        subcommands: &[],
        build: Some(|a| {
            Ok(Command::TaskList {
                mine: a.has("mine"),
                status: typed(a.choice("status"))?,
                project: a.text("project"),
            })
        }),
        examples: &[
            "task list --mine",
            "task list --status blocked --project web",
        ],
    },
    CommandSpec {
        name: "show",
        summary: "Show one task with its dependencies",
        details: "",
        access: Access::Role(Role::Viewer),
        args: &[TASK_ID],
        subcommands: &[],
        build: Some(|a| Ok(Command::TaskShow { id: a.id("id")? })),
        examples: &["task show 42"],
    },
];

/// Find a command by path (`["task", "new"]`).
pub fn find(path: &[&str]) -> Option<&'static CommandSpec> {
    let (first, rest) = path.split_first()?;
    let mut spec = COMMANDS.iter().find(|c| c.name == *first)?;
    for name in rest {
        spec = spec.subcommand(name)?;
    }
    Some(spec)
}

/// Every runnable command with its full path (`"task new"`), in help order.
pub fn leaves() -> Vec<(String, &'static CommandSpec)> {
    let mut out = Vec::new();
    for top in COMMANDS {
        if top.subcommands.is_empty() {
            out.push((top.name.to_string(), top));
        } else {
            for sub in top.subcommands {
                out.push((format!("{} {}", top.name, sub.name), sub));
            }
        }
    }
    out
}

/// The usage line of a command, e.g.
/// `task dep <id> needs <other-id>` or `cost [today|week|month] [--by agent|project|model]`.
pub fn usage(path: &str, spec: &CommandSpec) -> String {
    if !spec.subcommands.is_empty() {
        let subs: Vec<&str> = spec.subcommands.iter().map(|s| s.name).collect();
        return format!("{path} <{}> ...", subs.join("|"));
    }
    let mut parts = vec![path.to_string()];
    for a in spec.positionals() {
        let mut p = String::new();
        if let Some(k) = a.keyword {
            p.push_str(k);
            p.push(' ');
        }
        let inner = match a.kind {
            ArgKind::Choice(_) => a.placeholder.to_string(),
            _ => format!("<{}>", a.placeholder),
        };
        if a.required {
            p.push_str(&inner);
        } else {
            p.push_str(&format!(
                "[{}]",
                inner.trim_start_matches('<').trim_end_matches('>')
            ));
        }
        parts.push(p);
    }
    for f in spec.flags() {
        if f.kind == ArgKind::Switch {
            parts.push(format!("[--{}]", f.name));
        } else {
            parts.push(format!("[--{} {}]", f.name, f.placeholder));
        }
    }
    parts.join(" ")
}

/// Describes the access rule for help text.
pub fn access_text(access: Access) -> String {
    match access {
        Access::Role(Role::Viewer) => "everyone known to orkhub".to_string(),
        Access::Role(r) => format!("the {} role or above", r.as_str()),
        Access::Approver => "admins, owners, or the approvers of the decision's kind".to_string(),
        Access::Addressee => "the person asked, admins and owners".to_string(),
    }
}
