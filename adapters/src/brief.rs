//! The daily brief in every platform's formats. The `briefs` crate builds
//! the neutral [`Brief`]; each platform's adapter renders it with its own
//! templates and its one escaper (`<platform>/brief.rs`) when it sends the
//! brief. This file only lists the formats and picks the platform, for what
//! shows a brief outside a send: `orkhub brief --preview --format`, the web
//! console's brief page, and the plain text the LLM summarises.

use crate::template::{Mode, TemplateError, Templates};
use crate::{discord, email, slack, telegram};
use briefs::Brief;
use std::path::PathBuf;

/// An output format of the brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TelegramHtml,
    SlackMrkdwn,
    SlackBlocks,
    DiscordMarkdown,
    EmailHtml,
    PlainText,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown brief format {0:?}: expected telegram, slack, slack-blocks, discord, email-html or text"
)]
pub struct UnknownFormat(pub String);

impl Format {
    pub const ALL: [Format; 6] = [
        Format::TelegramHtml,
        Format::SlackMrkdwn,
        Format::SlackBlocks,
        Format::DiscordMarkdown,
        Format::EmailHtml,
        Format::PlainText,
    ];

    /// Parse a CLI name (`--format`).
    pub fn parse(name: &str) -> Result<Format, UnknownFormat> {
        Ok(match name {
            "telegram" | "telegram-html" | "telegram_html" => Format::TelegramHtml,
            "slack" | "slack-mrkdwn" | "slack_mrkdwn" => Format::SlackMrkdwn,
            "slack-blocks" | "slack_blocks" => Format::SlackBlocks,
            "discord" | "discord-markdown" | "discord_markdown" => Format::DiscordMarkdown,
            "email-html" | "email_html" | "html" => Format::EmailHtml,
            "text" | "plain" | "plain_text" | "email-text" => Format::PlainText,
            other => return Err(UnknownFormat(other.to_string())),
        })
    }
}

/// Renders briefs from a templates directory (None: built-ins only).
#[derive(Debug, Clone, Default)]
pub struct Renderer {
    templates: Templates,
}

impl Renderer {
    pub fn new(templates_dir: Option<PathBuf>) -> Renderer {
        Renderer {
            templates: Templates::new(templates_dir),
        }
    }

    fn render_in(
        &self,
        brief: &Brief,
        format: Format,
        mode: Mode,
    ) -> Result<String, TemplateError> {
        let t = &self.templates;
        match format {
            Format::TelegramHtml => telegram::brief::render(t, brief, mode),
            Format::SlackMrkdwn => slack::brief::mrkdwn(t, brief, mode),
            Format::SlackBlocks => slack::brief::blocks(t, brief, mode),
            Format::DiscordMarkdown => discord::brief::render(t, brief, mode),
            Format::EmailHtml => email::brief::html(t, brief, mode),
            Format::PlainText => email::brief::text(t, brief, mode),
        }
    }

    /// Strict: the edited template if there is one, else the built-in; any
    /// error is returned (previews).
    pub fn render(&self, brief: &Brief, format: Format) -> Result<String, TemplateError> {
        self.render_in(brief, format, Mode::Strict)
    }

    /// For sending: an edited template that cannot be read or does not
    /// render gives way to the built-in one (logged once per file and
    /// error). Only a broken built-in fails.
    pub fn render_for_send(&self, brief: &Brief, format: Format) -> Result<String, TemplateError> {
        self.render_in(brief, format, Mode::Send)
    }

    /// The templates it reads, for the platforms to render the briefs they
    /// send from the same directory.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }
}
