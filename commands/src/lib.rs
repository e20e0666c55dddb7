//! The one command spec and everything derived from it: the text parser,
//! help, the command catalogue the platforms register; the rules (roles, task
//! lifecycle, dependencies, automatic assignment, decisions) and their
//! execution against a [`Backend`] the hub implements over SQL.
//!
//! Entry points: [`execute`] (a line of chat text), [`press`] (a button),
//! and the service functions shared with the agent HTTP API
//! ([`create_task`], [`assign_task`], [`move_task`], [`add_dependency`],
//! [`resolve_decision`]).

pub mod assign;
pub mod backend;
pub mod catalogue;
pub mod decisions;
pub mod deps;
pub mod error;
pub mod execute;
pub mod help;
pub mod lifecycle;
pub mod message;
pub mod model;
pub mod parse;
pub mod questions;
pub mod render;
pub mod roles;
pub mod service;
pub mod spec;
pub mod who;

#[cfg(feature = "testing")]
pub mod testing;

pub use backend::Backend;
pub use catalogue::catalogue;
pub use decisions::{
    DecisionButtons, decision_message, decision_message_with_buttons, mint_decision_buttons,
    resolve_decision,
};
pub use error::{BackendError, CommandError, ParseError, ServiceError};
pub use execute::{Context, Outcome, answer_by_reply, execute, press};
pub use message::{Button, ButtonStyle, Field, Reply, RichMessage, Visibility};
pub use model::*;
pub use parse::{MAX_INPUT_CHARS, command_text, parse};
pub use questions::{
    Answer, AnswerVia, PermissionLevel, Question, QuestionButtons, QuestionStatus, answer_question,
    draft_prompt, draft_prompt_notice, question_message,
};
pub use service::{
    AssignResult, AssignTo, DependencyResult, MoveResult, MoveTarget, TaskDraft, add_dependency,
    assign_task, create_task, list_tasks, move_task, remove_dependency, show_task,
};
pub use spec::Command;
