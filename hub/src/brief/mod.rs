//! The daily brief in the hub: read the rows (store), build them (briefs
//! crate), add the optional LLM summary (given the brief's plain text) and
//! record its cost, and turn the result into a message that carries the
//! brief itself, with Approve/Deny buttons: each adapter renders it with
//! its own templates when it sends it (`adapters::<platform>::brief`). Used by the
//! scheduled job ([`job::BriefJob`]), `GET /api/v1/brief`, the chat `brief`
//! command and `orkhub brief --preview`.

pub mod job;

use crate::store::{NewCost, Store, StoreError};
use adapters::brief::{Format, Renderer};
use adapters::template::TemplateError;
use briefs::{Brief, BriefConfig, Summarizer, Window};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use commands::{Button, ButtonAction, ButtonStyle, RichMessage};
use neutral::Document;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BriefFailure {
    #[error("no person {0:?}")]
    UnknownPerson(String),
    /// The requested date cannot make a brief (e.g. it is in the future).
    #[error("{0}")]
    BadDate(String),
    /// The stored person cannot get a brief (unknown zone, bad brief_time).
    #[error("{0}")]
    Invalid(String),
    #[error("reading the brief's data: {0}")]
    Store(#[from] StoreError),
    #[error("rendering the brief: {0}")]
    Render(#[from] TemplateError),
    #[error("minting the brief's decision buttons: {0}")]
    Buttons(commands::BackendError),
}

pub struct BriefService {
    cfg: BriefConfig,
    renderer: Renderer,
    summarizer: Option<Summarizer>,
    /// The zone budgets follow: the brief's spend periods are counted in
    /// it (see [`BriefService::with_budget_zone`]).
    budget_zone: Option<Tz>,
}

impl std::fmt::Debug for BriefService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BriefService")
            .field("templates", &self.renderer)
            .field("llm", &self.summarizer.is_some())
            .finish()
    }
}

impl Default for BriefService {
    fn default() -> Self {
        BriefService::new(&BriefConfig::default())
    }
}

impl BriefService {
    pub fn new(cfg: &BriefConfig) -> BriefService {
        let dir = (!cfg.templates_dir.is_empty()).then(|| PathBuf::from(&cfg.templates_dir));
        BriefService {
            cfg: cfg.clone(),
            renderer: Renderer::new(dir),
            summarizer: cfg.llm.enabled.then(|| Summarizer::new(&cfg.llm)),
            budget_zone: None,
        }
    }

    /// Count the brief's spend (today, this month) in `tz`, the zone
    /// budgets follow, rather than in each reader's.
    pub fn with_budget_zone(mut self, tz: Tz) -> BriefService {
        self.budget_zone = Some(tz);
        self
    }

    pub fn config(&self) -> &BriefConfig {
        &self.cfg
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The brief's data for `person` on their local `date` (today if None),
    /// as of `now`. No LLM call: see [`BriefService::add_summary`].
    pub async fn data(
        &self,
        store: &Store,
        person: &str,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<Brief, BriefFailure> {
        let (p, tz) = person_and_zone(store, person).await?;
        let time = crate::config::parse_hhmm(&p.brief_time).ok_or_else(|| {
            BriefFailure::Invalid(format!(
                "person {person} has an invalid brief_time {:?}",
                p.brief_time
            ))
        })?;
        let date = date.unwrap_or_else(|| now.with_timezone(&tz).date_naive());
        let window = |last| {
            Window::new(person, tz, date, time, now, last, &self.cfg)
                .map_err(|e| BriefFailure::BadDate(e.to_string()))
        };
        // The cut-off decides which earlier brief counts as "the last one";
        // this one starts where that one's window ended.
        let until = window(None)?.until;
        let last = store
            .last_brief_until(person, until.timestamp_millis())
            .await?
            .map(crate::store::from_ms);
        let mut w = window(last)?;
        if let Some(zone) = self.budget_zone {
            w = w
                .with_budget_zone(zone)
                .map_err(|e| BriefFailure::BadDate(e.to_string()))?;
        }
        let input = store.brief_input(&w, self.cfg.list_limit).await?;
        Ok(briefs::build(&w, &p.display_name, &input, &self.cfg))
    }

    /// `person`'s local date at `now`, in their stored zone: which date
    /// "today's brief" is.
    pub async fn local_date(
        &self,
        store: &Store,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<NaiveDate, BriefFailure> {
        let (_, tz) = person_and_zone(store, person).await?;
        Ok(now.with_timezone(&tz).date_naive())
    }

    /// Whether an LLM summary is configured.
    pub fn has_llm(&self) -> bool {
        self.summarizer.is_some()
    }

    /// Ask the LLM for a summary paragraph when configured, given the
    /// brief's plain text. On any failure or timeout the brief stays as it
    /// is (logged once, here); on success its token use is recorded as a
    /// cost of the configured agent.
    pub async fn add_summary(&self, store: &Store, brief: &mut Brief, plain_text: &str) {
        let Some(summarizer) = &self.summarizer else {
            return;
        };
        match summarizer.summarize(plain_text).await {
            Ok(s) => {
                brief.summary = Some(s.text.clone());
                let cost = NewCost {
                    agent_id: self.cfg.llm.cost_agent.clone(),
                    project_id: None,
                    task_id: None,
                    model: s.model,
                    tokens_in: s.tokens_in,
                    tokens_out: s.tokens_out,
                    usd: s.usd,
                    at: crate::store::now_ms(),
                };
                if let Err(e) = store.insert_cost(&cost).await {
                    tracing::error!(error = %e, "recording the brief summary's cost failed");
                }
            }
            Err(e) => {
                tracing::warn!(person = %brief.person, error = %e, "brief goes out without an LLM summary");
            }
        }
    }

    /// The brief's plain text as sent (an edited template that does not
    /// render gives way to the built-in one): what the LLM is given, and
    /// the message's readable text.
    pub fn plain_text(&self, brief: &Brief) -> Result<String, BriefFailure> {
        Ok(self.renderer.render_for_send(brief, Format::PlainText)?)
    }

    /// Approve/Deny buttons for each listed decision the reader may decide
    /// (the brief's "Needs you").
    pub async fn buttons(&self, store: &Store, brief: &Brief) -> Result<Vec<Button>, BriefFailure> {
        let mut out = Vec::new();
        for d in &brief.needs_you.decisions.decisions {
            let mint = |action| async move {
                store
                    .mint_button_token(&action)
                    .await
                    .map_err(BriefFailure::Buttons)
            };
            let approve = mint(ButtonAction::Approve { decision_id: d.id }).await?;
            let deny = mint(ButtonAction::Deny { decision_id: d.id }).await?;
            out.push(Button {
                label: format!("Approve #{}", d.id),
                token: approve,
                style: ButtonStyle::Primary,
            });
            out.push(Button {
                label: format!("Deny #{}", d.id),
                token: deny,
                style: ButtonStyle::Danger,
            });
        }
        Ok(out)
    }

    /// Data, buttons, summary: the brief as a message, as it is queued —
    /// carrying the brief itself, which each adapter renders when it sends
    /// it, and its plain text (what the LLM read, with the summary) as the
    /// message's text for whatever shows a message without rendering it
    /// (the stored notification, logs). All that can fail is done before
    /// the LLM is asked, so a failure never throws away a summary that was
    /// paid for.
    pub async fn compose(
        &self,
        store: &Store,
        person: &str,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<(Brief, RichMessage), BriefFailure> {
        let mut brief = self.data(store, person, date, now).await?;
        let mut text = self.plain_text(&brief)?;
        let buttons = self.buttons(store, &brief).await?;
        if self.has_llm() {
            self.add_summary(store, &mut brief, &text).await;
            if brief.summary.is_some() {
                text = self.plain_text(&brief)?;
            }
        }
        let message = RichMessage {
            title: Some(format!("Brief for {} — {}", brief.person_name, brief.date)),
            text,
            buttons,
            document: Some(Document::Brief(Box::new(brief.clone()))),
            ..Default::default()
        };
        Ok((brief, message))
    }
}

/// The stored person and their zone, parsed.
async fn person_and_zone(
    store: &Store,
    person: &str,
) -> Result<(crate::store::BriefPerson, Tz), BriefFailure> {
    let p = store
        .brief_person(person)
        .await?
        .ok_or_else(|| BriefFailure::UnknownPerson(person.to_string()))?;
    let tz: Tz = p.time_zone.parse().map_err(|_| {
        BriefFailure::Invalid(format!(
            "person {person} has an unknown time zone {:?}",
            p.time_zone
        ))
    })?;
    Ok((p, tz))
}
