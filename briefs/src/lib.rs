//! The daily brief: its data model (the JSON of `GET /api/v1/brief`), the
//! turning of the store's plain rows into sections (budget percentages,
//! month-end forecast, callouts, silent agents, anomalies), and the optional
//! LLM summary paragraph. The [`Brief`] is neutral: each platform's adapter
//! renders it in its own formats (`adapters::brief`).
//!
//! No database access here: the hub's store reads [`BriefInput`] for a
//! [`Window`] computed by this crate, and [`build`] does the rest.

pub mod build;
pub mod config;
pub mod cycles;
pub mod error;
pub mod input;
pub mod model;
pub mod summary;
pub mod window;

pub use build::build;
pub use config::{BriefConfig, LlmConfig};
pub use error::{BriefError, SummaryError};
pub use input::BriefInput;
pub use model::Brief;
pub use summary::{Summarizer, Summary};
pub use window::Window;
