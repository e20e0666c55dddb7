//! Rendering a [`Brief`] per output format with handlebars. Templates are
//! read from `<templates_dir>/brief/<file>` at every render, so an edit
//! shows in the next brief without a rebuild; a missing file falls back to
//! the template built into the binary. Each format gets its own registry
//! with its own escape function (see [`escape`]).
//!
//! Two modes: [`Renderer::render`] is strict and returns the first error
//! (for `orkhub brief --preview`, where the person editing a template wants
//! to see it); [`Renderer::render_for_send`] / [`Renderer::render_all`]
//! use the built-in template for a format whose file does not render, so one
//! broken file never stops the brief on every channel (logged once).

mod blocks;
pub mod escape;
mod helpers;

use crate::error::BriefError;
use crate::model::Brief;
use commands::message::formats;
use handlebars::Handlebars;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

impl Format {
    pub const ALL: [Format; 6] = [
        Format::TelegramHtml,
        Format::SlackMrkdwn,
        Format::SlackBlocks,
        Format::DiscordMarkdown,
        Format::EmailHtml,
        Format::PlainText,
    ];

    /// The key in `RichMessage::preformatted`.
    pub fn key(self) -> &'static str {
        match self {
            Format::TelegramHtml => formats::TELEGRAM_HTML,
            Format::SlackMrkdwn => formats::SLACK_MRKDWN,
            Format::SlackBlocks => formats::SLACK_BLOCKS,
            Format::DiscordMarkdown => formats::DISCORD_MARKDOWN,
            Format::EmailHtml => formats::EMAIL_HTML,
            Format::PlainText => formats::PLAIN_TEXT,
        }
    }

    /// The template's file name under `<templates_dir>/brief/`.
    pub fn file(self) -> &'static str {
        match self {
            Format::TelegramHtml => "telegram.html.hbs",
            Format::SlackMrkdwn => "slack.mrkdwn.hbs",
            Format::SlackBlocks => "slack.blocks.json.hbs",
            Format::DiscordMarkdown => "discord.md.hbs",
            Format::EmailHtml => "email.html.hbs",
            Format::PlainText => "email.txt.hbs",
        }
    }

    /// Parse a CLI name (`--format`).
    pub fn parse(name: &str) -> Result<Format, BriefError> {
        Ok(match name {
            "telegram" | "telegram-html" | "telegram_html" => Format::TelegramHtml,
            "slack" | "slack-mrkdwn" | "slack_mrkdwn" => Format::SlackMrkdwn,
            "slack-blocks" | "slack_blocks" => Format::SlackBlocks,
            "discord" | "discord-markdown" | "discord_markdown" => Format::DiscordMarkdown,
            "email-html" | "email_html" | "html" => Format::EmailHtml,
            "text" | "plain" | "plain_text" | "email-text" => Format::PlainText,
            other => return Err(BriefError::UnknownFormat(other.to_string())),
        })
    }

    fn builtin(self) -> &'static str {
        match self {
            Format::TelegramHtml => include_str!("../../../templates/brief/telegram.html.hbs"),
            Format::SlackMrkdwn => include_str!("../../../templates/brief/slack.mrkdwn.hbs"),
            Format::SlackBlocks => include_str!("../../../templates/brief/slack.blocks.json.hbs"),
            Format::DiscordMarkdown => include_str!("../../../templates/brief/discord.md.hbs"),
            Format::EmailHtml => include_str!("../../../templates/brief/email.html.hbs"),
            Format::PlainText => include_str!("../../../templates/brief/email.txt.hbs"),
        }
    }

    fn escape_fn(self) -> fn(&str) -> String {
        match self {
            Format::TelegramHtml | Format::EmailHtml => escape::html,
            Format::SlackMrkdwn => escape::mrkdwn,
            Format::SlackBlocks => escape::mrkdwn_json,
            Format::DiscordMarkdown => escape::discord,
            Format::PlainText => handlebars::no_escape,
        }
    }
}

/// Renders briefs from a templates directory (None: built-ins only).
#[derive(Debug, Clone, Default)]
pub struct Renderer {
    templates_dir: Option<PathBuf>,
    /// Template failures already logged ("file: error"), so a broken file
    /// is reported once rather than in every brief of every person.
    reported: Arc<Mutex<HashSet<String>>>,
}

impl Renderer {
    pub fn new(templates_dir: Option<PathBuf>) -> Renderer {
        Renderer {
            templates_dir,
            reported: Arc::default(),
        }
    }

    /// The edited template for `format`, if there is a file: (path, text).
    fn edited(&self, format: Format) -> Result<Option<(String, String)>, BriefError> {
        let Some(dir) = &self.templates_dir else {
            return Ok(None);
        };
        let path = dir.join("brief").join(format.file());
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some((path.display().to_string(), text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BriefError::TemplateFile {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Strict: the edited template if there is one, else the built-in; any
    /// error is returned.
    pub fn render(&self, brief: &Brief, format: Format) -> Result<String, BriefError> {
        match self.edited(format)? {
            Some((name, text)) => render_source(&name, &text, brief, format),
            None => render_builtin(brief, format),
        }
    }

    /// For sending: like [`Renderer::render`], but an edited template that
    /// cannot be read or does not render gives way to the built-in one
    /// (logged once per file and error). Only a broken built-in fails.
    pub fn render_for_send(&self, brief: &Brief, format: Format) -> Result<String, BriefError> {
        let edited = self.edited(format).and_then(|e| {
            e.map(|(name, text)| render_source(&name, &text, brief, format))
                .transpose()
        });
        match edited {
            Ok(Some(out)) => return Ok(out),
            Ok(None) => {}
            Err(e) => self.report(format, &e),
        }
        render_builtin(brief, format)
    }

    fn report(&self, format: Format, e: &BriefError) {
        let key = e.to_string();
        let first = self
            .reported
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(true);
        if first {
            tracing::error!(format = format.key(), error = %e, "brief template does not render; the built-in one is used instead (logged once)");
        }
    }

    /// Every format for sending, keyed as `RichMessage::preformatted` expects.
    pub fn render_all(
        &self,
        brief: &Brief,
    ) -> Result<std::collections::BTreeMap<String, String>, BriefError> {
        Format::ALL
            .iter()
            .map(|f| Ok((f.key().to_string(), self.render_for_send(brief, *f)?)))
            .collect()
    }
}

fn render_builtin(brief: &Brief, format: Format) -> Result<String, BriefError> {
    render_source(
        &format!("built-in {}", format.file()),
        format.builtin(),
        brief,
        format,
    )
}

/// Render one template text; `name` is what errors call it.
fn render_source(
    name: &str,
    text: &str,
    brief: &Brief,
    format: Format,
) -> Result<String, BriefError> {
    let mut hb = Handlebars::new();
    // A typo in a field name is an error, not an empty string.
    hb.set_strict_mode(true);
    hb.register_escape_fn(format.escape_fn());
    helpers::register(&mut hb);
    let err = |e: &dyn std::fmt::Display| BriefError::Template {
        file: name.to_string(),
        message: e.to_string(),
    };
    hb.register_template_string("brief", text)
        .map_err(|e| err(&e))?;
    let out = hb.render("brief", brief).map_err(|e| err(&e))?;
    if format == Format::SlackBlocks {
        // Block Kit is JSON: refuse to hand an adapter something Slack
        // would reject, and send it compact and within Slack's limits.
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| BriefError::InvalidOutput {
                format: format.key(),
                message: e.to_string(),
            })?;
        let serde_json::Value::Array(list) = v else {
            return Err(BriefError::InvalidOutput {
                format: format.key(),
                message: "expected a JSON array of blocks".into(),
            });
        };
        return Ok(serde_json::Value::Array(blocks::fit(list)).to_string());
    }
    Ok(tidy(&out))
}

/// Collapse the blank lines templates leave around block helpers: at most
/// one empty line in a row, none at the ends.
fn tidy(s: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in s.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l: &&str| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests;
