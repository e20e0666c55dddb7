//! The brief: today's or a past date's, the same content as the sent one.
//! A date whose brief went out shows that brief as it was sent (kept in
//! the store when it was queued: its LLM summary included, read by key,
//! nothing rebuilt). A date without one (before the hub ran, or today
//! before `brief_time`) is built as now, without a summary, and kept for a
//! minute (`brief_cache`). Either way: the brief's plain-text rendering,
//! split into its sections.

use super::inbox::render;
use super::{ConsoleError, Signed, chrome};
use crate::api::AppState;
use crate::brief::BriefFailure;
use adapters::brief::Format;
use adapters::web::console::Page;
use adapters::web::console::model::{BriefSection, BriefView};
use axum::extract::{Query, State};
use axum::response::Response;
use briefs::Brief;
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
    if let Some(view) = sent(&state, &who.person.id, date).await? {
        return render(&state, Page::Brief, &chrome, &view);
    }
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
            let view = view_of(&brief, format!("Brief for {}", brief.date), &text);
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

/// The brief sent to `person` for `date` (today in their zone when None),
/// rendered as it was sent, if one was. A person whose zone cannot be read
/// has none here; the build below says what is wrong.
async fn sent(
    state: &AppState,
    person: &str,
    date: Option<NaiveDate>,
) -> Result<Option<BriefView>, ConsoleError> {
    let day = match date {
        Some(d) => d,
        None => match state
            .brief
            .local_date(&state.store, person, Utc::now())
            .await
        {
            Ok(d) => d,
            Err(BriefFailure::Store(e)) => return Err(ConsoleError::store(e)),
            Err(_) => return Ok(None),
        },
    };
    let Some(brief) = state
        .store
        .sent_brief(person, day)
        .await
        .map_err(ConsoleError::store)?
    else {
        return Ok(None);
    };
    let text = state.brief.plain_text(&brief).map_err(|e| {
        tracing::error!(error = %e, "console: the sent brief does not render");
        ConsoleError::Internal
    })?;
    let at = match brief.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => brief
            .generated_at
            .with_timezone(&tz)
            .format("%H:%M")
            .to_string(),
        Err(_) => brief.generated_at.format("%H:%M UTC").to_string(),
    };
    let title = format!("Brief for {}, as sent at {at}", brief.date);
    Ok(Some(view_of(&brief, title, &text)))
}

fn view_of(brief: &Brief, title: String, text: &str) -> BriefView {
    BriefView {
        date: brief.date.to_string(),
        title,
        sections: sections(text),
        error: String::new(),
    }
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
