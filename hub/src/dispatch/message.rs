//! Rebuild the neutral message from a stored notification.

use crate::store::ClaimedDelivery;
use commands::{Button, Field, RichMessage};
use neutral::Document;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a notification carries besides title and body (stored as JSON).
/// Only what is there is written: most notifications carry nothing
/// besides their text, and are stored with `{}` rather than
/// `{"fields":[],"buttons":[],"footer":null}` — 40 bytes of every such row,
/// written into the WAL or the server's log at every ingest commit.
/// Every member reads as empty when absent, so rows stored either way read
/// the same.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct Extras {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The brief or digest the message carries, rendered by each adapter
    /// when it sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// Read only: rows queued by earlier versions carry their
    /// brief or digest rendered per format instead. See [`stored_message`].
    #[serde(default, rename = "preformatted", skip_serializing)]
    pub legacy_preformatted: BTreeMap<String, String>,
    /// The notification this one answers: where the platform has threads
    /// or replies, it goes under that one's message in the same chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The message asks for a reply, with this hint (see
    /// `RichMessage::reply_prompt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_prompt: Option<String>,
}

impl Extras {
    /// What `message` carries besides title and text, for storing with it.
    pub fn of(message: &RichMessage) -> Extras {
        Extras {
            fields: message.fields.clone(),
            buttons: message.buttons.clone(),
            footer: message.footer.clone(),
            document: message.document.clone(),
            legacy_preformatted: BTreeMap::new(),
            reply_to: None,
            reply_prompt: message.reply_prompt.clone(),
        }
    }

    /// As stored in a notification's `fields` column.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The key of the plain-text rendering in a legacy row's `preformatted`.
const LEGACY_PLAIN_TEXT: &str = "plain_text";

/// The message a stored notification carries (its title, body and
/// `fields` column), and the notification it answers, if any.
///
/// A brief or digest queued by an earlier version carries its renderings
/// (`preformatted`) instead of the document, which no adapter reads any
/// more. It is still delivered, in every adapter's neutral rendering of
/// its plain text: a brief's body already is that text; a digest's body is
/// only its count line (its fields a first line per item), so the
/// plain-text rendering, which lists every item, takes their place.
pub fn stored_message(
    title: Option<String>,
    body: String,
    fields_json: &str,
) -> (RichMessage, Option<String>) {
    let mut extras: Extras = serde_json::from_str(fields_json).unwrap_or_default();
    let mut text = body;
    if extras.document.is_none()
        && let Some(plain) = extras.legacy_preformatted.remove(LEGACY_PLAIN_TEXT)
        && plain != text
    {
        text = plain;
        extras.fields.clear();
    }
    let message = RichMessage {
        title,
        text,
        fields: extras.fields,
        buttons: extras.buttons,
        footer: extras.footer,
        document: extras.document,
        reply_prompt: extras.reply_prompt,
    };
    (message, extras.reply_to)
}

/// The message to send for a claimed delivery, and the notification it
/// answers, if any.
pub fn message_for(d: &ClaimedDelivery) -> (RichMessage, Option<String>) {
    stored_message(d.title.clone(), d.body.clone(), &d.fields_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips_through_the_stored_fields() {
        let digest = neutral::Digest {
            title: "Your digest".into(),
            date: "2026-07-01".into(),
            total: 0,
            groups: Vec::new(),
        };
        let m = digest
            .message()
            .with_document(Document::Digest(digest.clone()));
        let json = Extras::of(&m).to_json();
        assert!(!json.contains("preformatted"), "{json}");
        let (back, _) = stored_message(m.title.clone(), m.text.clone(), &json);
        assert_eq!(back, m);
    }

    #[test]
    fn only_what_a_message_carries_is_stored_and_both_forms_read_back() {
        // Nothing besides the text: stored as `{}`.
        let plain = RichMessage {
            text: "prod is down".into(),
            ..Default::default()
        };
        assert_eq!(Extras::of(&plain).to_json(), "{}");
        // Rows stored before, with every member written out, read the same.
        let before = r#"{"fields":[],"buttons":[],"footer":null}"#;
        assert_eq!(
            stored_message(None, "prod is down".into(), before).0,
            stored_message(None, "prod is down".into(), "{}").0,
        );
        // What is there is kept, and nothing else is written.
        let rich = RichMessage {
            text: "deploy".into(),
            fields: vec![Field {
                name: "env".into(),
                value: "prod".into(),
            }],
            footer: Some("from ci".into()),
            ..Default::default()
        };
        let json = Extras::of(&rich).to_json();
        assert!(!json.contains("buttons"), "{json}");
        assert_eq!(stored_message(None, "deploy".into(), &json).0, rich);
    }

    #[test]
    fn a_legacy_digest_row_is_sent_as_its_plain_text() {
        let json = r#"{"fields":[{"name":"web · report (2)","value":"• a\n• b"}],
            "preformatted":{"plain_text":"Your digest\n\nweb / report (2)\n- a (bot)\n- b (bot)","email_html":"<p>x</p>"}}"#;
        let (m, _) = stored_message(Some("Your digest".into()), "2 waiting.".into(), json);
        assert_eq!(
            m.text,
            "Your digest\n\nweb / report (2)\n- a (bot)\n- b (bot)"
        );
        assert!(m.fields.is_empty() && m.document.is_none());
        // A legacy brief's body already is its plain text: kept as it is.
        let json = r#"{"buttons":[{"label":"Approve #1","token":"t"}],
            "preformatted":{"plain_text":"Brief\nNEEDS YOU","telegram_html":"<b>x</b>"}}"#;
        let (m, _) = stored_message(Some("Brief".into()), "Brief\nNEEDS YOU".into(), json);
        assert_eq!(m.text, "Brief\nNEEDS YOU");
        assert_eq!(m.buttons.len(), 1);
    }
}
