//! The daily digest as data: the held items grouped by project and kind,
//! each group with its count, newest first. The hub builds it from the
//! outbox; each adapter renders it — email from its digest templates, chat
//! platforms from the neutral message [`Digest::message`] with their own
//! escaping. Text here is plain text, never markup.

use crate::message::RichMessage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub title: String,
    /// The person's local date the digest belongs to (YYYY-MM-DD).
    pub date: String,
    pub total: usize,
    pub groups: Vec<DigestGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestGroup {
    pub project: String,
    pub kind: String,
    pub count: usize,
    pub items: Vec<DigestItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestItem {
    pub title: Option<String>,
    pub text: String,
    pub source: String,
    /// When it arrived, in the person's local time.
    pub at: String,
}

impl Digest {
    /// The digest as a neutral message, for platforms without digest
    /// templates of their own: the title, a count line and one field per
    /// group with an item's first line each.
    pub fn message(&self) -> RichMessage {
        let mut m = RichMessage::titled(
            self.title.clone(),
            format!("{} waiting since your last digest.", self.total),
        );
        for g in &self.groups {
            let lines: Vec<String> = g
                .items
                .iter()
                .map(|i| match &i.title {
                    Some(t) => format!("• {t}: {}", first_line(&i.text)),
                    None => format!("• {}", first_line(&i.text)),
                })
                .collect();
            m = m.with_field(
                format!("{} · {} ({})", g.project, g.kind, g.count),
                lines.join("\n"),
            );
        }
        m
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
