//! Platform-neutral messages: what a reply or notification *is* before any
//! platform renders it. Text here is always plain text; each adapter escapes it
//! for its own markup, so no agent or person text can inject formatting.

use serde::{Deserialize, Serialize};

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

    /// The message as plain text, for consoles, logs and plain-text fallbacks.
    pub fn plain_text(&self) -> String {
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
}

impl Reply {
    pub fn ok(message: RichMessage) -> Self {
        Reply {
            message,
            visibility: Visibility::Public,
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Reply {
            message: RichMessage::text(text),
            visibility: Visibility::Ephemeral,
            is_error: true,
        }
    }
}
