//! The brief: today's or a past date's, the same content as the sent one
//! (the brief's plain-text rendering, split into its sections). No LLM
//! call here: the summary paragraph is only in briefs that were sent. A
//! brief built here is kept for a minute (`brief_cache`).

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use crate::brief::BriefFailure;
use adapters::brief::Format;
use adapters::web::console::Page;
use adapters::web::console::model::{BriefSection, BriefView};
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct DateIn {
    date: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    who: Signed,
    Query(q): Query<DateIn>,
) -> Result<Response, ConsoleError> {
    let date =
        match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ConsoleError::BadRequest(format!("date = {d:?}: expected YYYY-MM-DD"))
            })?),
        };
    let chrome = chrome(&state, &who, "Brief", "brief").await?;
    if let Some(view) = state.console.briefs.get(&who.person.id, date) {
        return render(&state, Page::Brief, &chrome, &view);
    }
    let view = match state
        .brief
        .data(&state.store, &who.person.id, date, Utc::now())
        .await
    {
        Ok(brief) => {
            let text = state
                .brief
                .renderer()
                .render(&brief, Format::PlainText)
                .map_err(|e| {
                    tracing::error!(error = %e, "console: the brief does not render");
                    ConsoleError::Internal
                })?;
            let view = BriefView {
                date: brief.date.to_string(),
                title: format!("Brief for {}", brief.date),
                sections: sections(&text),
                error: String::new(),
            };
            state.console.briefs.put(&who.person.id, date, view.clone());
            view
        }
        Err(BriefFailure::BadDate(m)) | Err(BriefFailure::Invalid(m)) => BriefView {
            date: date.map(|d| d.to_string()).unwrap_or_default(),
            title: "Brief".into(),
            sections: Vec::new(),
            error: m,
        },
        Err(BriefFailure::Store(e)) => return Err(ConsoleError::store(e)),
        Err(e) => {
            tracing::error!(error = %e, "console: the brief failed");
            return Err(ConsoleError::Internal);
        }
    };
    render(&state, Page::Brief, &chrome, &view)
}

/// The plain-text brief's blocks (separated by blank lines): the first
/// line of each is its heading.
fn sections(text: &str) -> Vec<BriefSection> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().map(str::trim_end).filter(|l| !l.is_empty());
            let heading = lines.next()?.to_string();
            Some(BriefSection {
                heading,
                lines: lines.map(str::to_string).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocks_become_sections() {
        let s = super::sections("Brief\nline\n\nTasks\n- a\n- b\n\n\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].heading, "Tasks");
        assert_eq!(s[1].lines, vec!["- a", "- b"]);
    }
}
