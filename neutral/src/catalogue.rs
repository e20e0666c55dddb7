//! The command list as data: what the command engine accepts, in the shape
//! platforms need to register it up front (Telegram's `setMyCommands`,
//! Discord's application commands). The engine (`commands::catalogue`)
//! builds it from its one spec; each adapter turns it into its platform's
//! format, so platform shapes stay in the adapters and the adapters need
//! no command engine.

/// One command, or one subcommand of a group (`task new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInfo {
    /// Lowercase, ≤ 32 characters.
    pub name: String,
    /// One line.
    pub summary: String,
    pub args: Vec<ArgInfo>,
    /// Non-empty for a group such as `task`.
    pub subcommands: Vec<CommandInfo>,
}

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgInfo {
    pub name: String,
    /// One line.
    pub help: String,
    pub required: bool,
    pub kind: ArgType,
}

/// What an argument's value is, as far as a platform's picker can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgType {
    /// A task number.
    TaskId,
    /// Present or not (`--mine`).
    Switch,
    /// One of these words.
    Choice(Vec<String>),
    /// Free text up to `max_chars`.
    Text { max_chars: usize },
    /// One word.
    Word,
    /// Text the engine reads itself: a person or agent, a date, a list.
    Other,
}
