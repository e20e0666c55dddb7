//! Rendering a [`Brief`] per output format with handlebars. Templates are
//! read from `<templates_dir>/brief/<file>` at every render, so an edit
//! shows in the next brief without a rebuild; a missing file falls back to
//! the template built into the binary. Each format gets its own registry
//! with its own escape function (see [`escape`]).

pub mod escape;
mod helpers;

use crate::error::BriefError;
use crate::model::Brief;
use commands::message::formats;
use handlebars::Handlebars;
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
}

impl Renderer {
    pub fn new(templates_dir: Option<PathBuf>) -> Renderer {
        Renderer { templates_dir }
    }

    /// The template text for `format`: the file if present, else built-in.
    fn template(&self, format: Format) -> Result<(String, String), BriefError> {
        if let Some(dir) = &self.templates_dir {
            let path = dir.join("brief").join(format.file());
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok((path.display().to_string(), text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BriefError::TemplateFile {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok((
            format!("built-in {}", format.file()),
            format.builtin().to_string(),
        ))
    }

    pub fn render(&self, brief: &Brief, format: Format) -> Result<String, BriefError> {
        let (name, text) = self.template(format)?;
        let mut hb = Handlebars::new();
        // A typo in a field name is an error, not an empty string.
        hb.set_strict_mode(true);
        hb.register_escape_fn(format.escape_fn());
        helpers::register(&mut hb);
        hb.register_template_string("brief", text)
            .map_err(|e| BriefError::Template {
                file: name.clone(),
                message: e.to_string(),
            })?;
        let out = hb
            .render("brief", brief)
            .map_err(|e| BriefError::Template {
                file: name,
                message: e.to_string(),
            })?;
        if format == Format::SlackBlocks {
            // Block Kit is JSON: refuse to hand an adapter something Slack
            // would reject, and send it compact.
            let v: serde_json::Value =
                serde_json::from_str(&out).map_err(|e| BriefError::InvalidOutput {
                    format: format.key(),
                    message: e.to_string(),
                })?;
            if !v.is_array() {
                return Err(BriefError::InvalidOutput {
                    format: format.key(),
                    message: "expected a JSON array of blocks".into(),
                });
            }
            return Ok(v.to_string());
        }
        Ok(tidy(&out))
    }

    /// Every format, keyed as `RichMessage::preformatted` expects.
    pub fn render_all(
        &self,
        brief: &Brief,
    ) -> Result<std::collections::BTreeMap<String, String>, BriefError> {
        Format::ALL
            .iter()
            .map(|f| Ok((f.key().to_string(), self.render(brief, *f)?)))
            .collect()
    }
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
