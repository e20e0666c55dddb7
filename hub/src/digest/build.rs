//! What a digest says, from the held items: pure, no I/O. Items are grouped
//! by project and kind, with counts; the group holding the newest item comes
//! first and items are newest first. The result is the neutral [`Digest`],
//! queued inside its message; each adapter renders it when it sends it (the
//! email adapter from its digest templates, chat adapters from the digest's
//! neutral message, [`Digest::message`]).

use crate::store::HeldItem;
use chrono::NaiveDate;
use chrono_tz::Tz;
use commands::RichMessage;
use neutral::{Digest, DigestGroup, DigestItem, Document};

/// Shown for items sent without a project.
pub const NO_PROJECT: &str = "(no project)";

/// `items` must be newest first (as the store returns them).
pub fn view(items: &[HeldItem], date: NaiveDate, tz: Tz) -> Digest {
    let mut groups: Vec<DigestGroup> = Vec::new();
    for item in items {
        let project = item.project_id.as_deref().unwrap_or(NO_PROJECT);
        let entry = DigestItem {
            title: item.title.clone(),
            text: item.body.clone(),
            source: item.source.clone(),
            at: crate::store::from_ms(item.created_at)
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        };
        match groups
            .iter_mut()
            .find(|g| g.project == project && g.kind == item.kind)
        {
            Some(g) => {
                g.count += 1;
                g.items.push(entry);
            }
            None => groups.push(DigestGroup {
                project: project.to_string(),
                kind: item.kind.clone(),
                count: 1,
                items: vec![entry],
            }),
        }
    }
    let n = items.len();
    Digest {
        title: format!(
            "Your orkhub digest for {date}: {n} {}",
            if n == 1 { "item" } else { "items" }
        ),
        date: date.to_string(),
        total: n,
        groups,
    }
}

/// The digest as it is queued: its neutral message, carrying the digest.
pub fn message(digest: &Digest) -> RichMessage {
    digest
        .message()
        .with_document(Document::Digest(digest.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, project: Option<&str>, kind: &str, at: i64) -> HeldItem {
        HeldItem {
            delivery_id: format!("d{id}"),
            notification_id: format!("n{id}"),
            channel: "email".into(),
            address: "a@example.com".into(),
            kind: kind.into(),
            project_id: project.map(String::from),
            source: "bot".into(),
            title: None,
            body: format!("item {id}\nmore"),
            created_at: at,
        }
    }

    #[test]
    fn groups_by_project_and_kind_newest_first_with_counts() {
        // Newest first, as the store returns them.
        let items = vec![
            item("5", Some("web"), "deploy", 5_000),
            item("4", None, "report", 4_000),
            item("3", Some("web"), "deploy", 3_000),
            item("2", Some("web"), "report", 2_000),
            item("1", None, "report", 1_000),
        ];
        let date = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        let v = view(&items, date, chrono_tz::UTC);
        assert_eq!(v.total, 5);
        let summary: Vec<(&str, &str, usize)> = v
            .groups
            .iter()
            .map(|g| (g.project.as_str(), g.kind.as_str(), g.count))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("web", "deploy", 2),
                (NO_PROJECT, "report", 2),
                ("web", "report", 1)
            ]
        );
        assert_eq!(v.groups[0].items[0].text, "item 5\nmore");
        assert_eq!(v.groups[0].items[1].text, "item 3\nmore");
        let m = message(&v);
        assert_eq!(m.fields[0].name, "web · deploy (2)");
        assert_eq!(m.fields[0].value, "• item 5\n• item 3");
        assert_eq!(m.document, Some(Document::Digest(v.clone())));
        assert!(m.title.unwrap().contains("5 items"));
    }
}
