//! What can go wrong building, rendering or summarising a brief.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BriefError {
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error("reading template {path}: {message}")]
    TemplateFile { path: String, message: String },
    #[error("the {format} template produced invalid output: {message}")]
    InvalidOutput {
        format: &'static str,
        message: String,
    },
    #[error(
        "unknown brief format {0:?}: expected telegram, slack, slack-blocks, discord, email-html or text"
    )]
    UnknownFormat(String),
    /// The date (or a time on it) cannot make a brief: say why, as is.
    #[error("{0}")]
    Window(String),
}

/// Why the LLM summary is missing. The brief goes out without it.
#[derive(Debug, Error)]
pub enum SummaryError {
    #[error("the LLM summary timed out after {0} ms")]
    Timeout(u64),
    #[error("the LLM endpoint failed: {0}")]
    Api(String),
    #[error("the LLM answered without any text")]
    Empty,
    #[error("the LLM client could not be set up: {0}")]
    Setup(String),
}
