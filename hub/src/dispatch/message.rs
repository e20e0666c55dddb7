//! Rebuild the neutral message from a stored notification.

use crate::store::ClaimedDelivery;
use commands::{Button, Field, RichMessage};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a notification carries besides title and body (stored as JSON).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct Extras {
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub buttons: Vec<Button>,
    #[serde(default)]
    pub footer: Option<String>,
    /// Template-rendered variants per format (briefs, digests).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preformatted: BTreeMap<String, String>,
    /// The notification this one answers: where the platform has threads
    /// or replies, it goes under that one's message in the same chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl Extras {
    /// What `message` carries besides title and text, for storing with it.
    pub fn of(message: &RichMessage) -> Extras {
        Extras {
            fields: message.fields.clone(),
            buttons: message.buttons.clone(),
            footer: message.footer.clone(),
            preformatted: message.preformatted.clone(),
            reply_to: None,
        }
    }

    /// As stored in a notification's `fields` column.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The message a stored notification carries (its title, body and
/// `fields` column), and the notification it answers, if any.
pub fn stored_message(
    title: Option<String>,
    body: String,
    fields_json: &str,
) -> (RichMessage, Option<String>) {
    let extras: Extras = serde_json::from_str(fields_json).unwrap_or_default();
    let message = RichMessage {
        title,
        text: body,
        fields: extras.fields,
        buttons: extras.buttons,
        footer: extras.footer,
        preformatted: extras.preformatted,
    };
    (message, extras.reply_to)
}

/// The message to send for a claimed delivery, and the notification it
/// answers, if any.
pub fn message_for(d: &ClaimedDelivery) -> (RichMessage, Option<String>) {
    stored_message(d.title.clone(), d.body.clone(), &d.fields_json)
}
