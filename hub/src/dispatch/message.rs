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
}

pub fn message_for(d: &ClaimedDelivery) -> RichMessage {
    let extras: Extras = serde_json::from_str(&d.fields_json).unwrap_or_default();
    RichMessage {
        title: d.title.clone(),
        text: d.body.clone(),
        fields: extras.fields,
        buttons: extras.buttons,
        footer: extras.footer,
        preformatted: extras.preformatted,
    }
}
