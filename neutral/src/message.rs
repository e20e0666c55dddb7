//! Platform-neutral messages: what a reply or notification *is* before any
//! platform renders it. Text here is always plain text; each adapter escapes it
//! for its own markup, so no agent or person text can inject formatting.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of output formats a template can render a message into ahead of
/// time (see [`RichMessage::preformatted`]). Each adapter looks up only its own.
pub mod formats {
    /// Telegram Bot API HTML (escaped `& < >`).
    pub const TELEGRAM_HTML: &str = "telegram_html";
    /// Slack mrkdwn text (escaped `& < >`), used as the fallback text.
    pub const SLACK_MRKDWN: &str = "slack_mrkdwn";
    /// Slack Block Kit: a JSON array of blocks.
    pub const SLACK_BLOCKS: &str = "slack_blocks";
    /// Discord markdown.
    pub const DISCORD_MARKDOWN: &str = "discord_markdown";
    /// The HTML part of an email.
    pub const EMAIL_HTML: &str = "email_html";
    /// The plain-text part of an email; also what consoles and the web feed show.
    pub const PLAIN_TEXT: &str = "plain_text";
}

/// A rich message: optional title, body text, labelled fields and buttons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// A short trailing line (who decided, when, source...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The same message already rendered for some formats (keys from
    /// [`formats`]) by a template that escaped it for that format — briefs and
    /// digests. An adapter that finds its format here sends that text (still
    /// split to its own length limit, buttons still from `buttons`); otherwise
    /// it renders the structured fields above itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preformatted: BTreeMap<String, String>,
}

impl RichMessage {
    pub fn text(text: impl Into<String>) -> Self {
        RichMessage {
            text: text.into(),
            ..Default::default()
        }
    }

    pub fn titled(title: impl Into<String>, text: impl Into<String>) -> Self {
        RichMessage {
            title: Some(title.into()),
            text: text.into(),
            ..Default::default()
        }
    }

    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    pub fn with_button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }

    pub fn with_footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    pub fn with_preformatted(mut self, format: &str, text: impl Into<String>) -> Self {
        self.preformatted.insert(format.to_string(), text.into());
        self
    }

    /// The text pre-rendered for `format`, if a template made one.
    pub fn preformatted(&self, format: &str) -> Option<&str> {
        self.preformatted.get(format).map(String::as_str)
    }

    /// The message as plain text, for consoles, logs and plain-text fallbacks.
    pub fn plain_text(&self) -> String {
        if let Some(text) = self.preformatted(formats::PLAIN_TEXT) {
            return text.to_string();
        }
        let mut out = String::new();
        if let Some(t) = &self.title {
            out.push_str(t);
            out.push('\n');
        }
        out.push_str(&self.text);
        for f in &self.fields {
            out.push_str(&format!("\n{}: {}", f.name, f.value));
        }
        if let Some(footer) = &self.footer {
            out.push_str("\n— ");
            out.push_str(footer);
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// A button. `token` is a short opaque string (≤ 64 bytes, Telegram's
/// callback-data limit) that the hub maps server-side to (action, object, who
/// may press it); no meaning is carried in the button itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub token: String,
    #[serde(default)]
    pub style: ButtonStyle,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonStyle {
    #[default]
    Default,
    Primary,
    Danger,
}

/// Who sees a reply: everyone in the chat, or only the person who asked
/// (Slack ephemeral messages; other platforms fall back to public).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Ephemeral,
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub message: RichMessage,
    pub visibility: Visibility,
    /// True when the command was refused or failed; platforms may style it.
    pub is_error: bool,
    /// It holds a credential (a web console login link): sent to the asker
    /// once and directly, never kept by the hub — not queued in the outbox,
    /// not saved for a platform's redeliveries.
    #[serde(default)]
    pub secret: bool,
}

impl Reply {
    pub fn ok(message: RichMessage) -> Self {
        Reply {
            message,
            visibility: Visibility::Public,
            is_error: false,
            secret: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Reply {
            message: RichMessage::text(text),
            visibility: Visibility::Ephemeral,
            is_error: true,
            secret: false,
        }
    }
}
