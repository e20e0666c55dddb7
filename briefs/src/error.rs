//! What can go wrong building or summarising a brief. (Rendering is the
//! adapters' job: `adapters::template::TemplateError`.)

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BriefError {
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
