//! The daily brief: its data model (the JSON of `GET /api/v1/brief`), the
//! turning of the store's plain rows into sections (budget percentages,
//! month-end forecast, callouts, silent agents, anomalies), rendering per
//! output format with handlebars templates that escape for that format, and
//! the optional LLM summary paragraph.
//!
//! No database access here: the hub's store reads [`BriefInput`] for a
//! [`Window`] computed by this crate, and [`build`] does the rest.

pub mod build;
pub mod config;
pub mod cycles;
pub mod error;
pub mod input;
pub mod model;
pub mod render;
pub mod summary;
pub mod window;

pub use build::build;
pub use config::{BriefConfig, LlmConfig};
pub use error::{BriefError, SummaryError};
pub use input::BriefInput;
pub use model::Brief;
pub use render::{Format, Renderer};
pub use summary::{Summarizer, Summary};
pub use window::Window;
