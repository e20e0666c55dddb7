//! Platform-neutral messages: what a reply or notification *is* before any
//! platform renders it. Text here is always plain text; each adapter escapes it
//! for its own markup, so no agent or person text can inject formatting.

use crate::{Brief, Digest};
use serde::{Deserialize, Serialize};

/// A rich message: optional title, body text, labelled fields and buttons,
/// and the document it carries, if any.
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
    /// A brief or a digest: each adapter renders it itself when it sends
    /// the message, with its own templates and limits (so a template edited
    /// after the message was queued is the one used). The fields above stay
    /// a readable version for whatever renders no document (the stored
    /// notification, logs); buttons always come from `buttons`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// Ask the reader to reply to this message, with this hint in the
    /// empty reply field: Telegram opens the reply at once (ForceReply,
    /// its `input_field_placeholder`); platforms without such a prompt show
    /// the message as it is. A message with buttons cannot carry one on
    /// Telegram (one reply markup per message): the buttons win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_prompt: Option<String>,
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

    pub fn with_reply_prompt(mut self, hint: impl Into<String>) -> Self {
        self.reply_prompt = Some(hint.into());
        self
    }

    pub fn with_document(mut self, document: Document) -> Self {
        self.document = Some(document);
        self
    }

    /// The message as plain text, for consoles, logs and plain-text fallbacks.
    /// A brief's `text` is its whole plain-text rendering (heading
    /// included), made when it was composed: it stands alone. A digest's
    /// message is its neutral one ([`Digest::message`]).
    pub fn plain_text(&self) -> String {
        if let Some(Document::Brief(_)) = &self.document
            && !self.text.is_empty()
        {
            return self.text.clone();
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

/// A document a message carries, rendered by each adapter at send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Document {
    Brief(Box<Brief>),
    Digest(Digest),
}

// The brief's figures are rounded finite numbers (never NaN), so equality
// is reflexive and messages that carry one stay comparable.
impl Eq for Document {}

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
