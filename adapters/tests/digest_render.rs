//! The daily digest (the neutral `Digest`) in every platform's formats:
//! email renders it from its digest templates, the chat platforms render
//! its neutral message with their one escaper. Agent text full of markup
//! comes out inert everywhere.

use adapters::template::Templates;
use adapters::{discord, email, slack, telegram};
use neutral::{Digest, DigestGroup, DigestItem, Document, RichMessage};

const HOSTILE: &str = "<b>x</b> & *_~ <!channel> @everyone (a-b)";

fn digest() -> Digest {
    Digest {
        title: "Your orkhub digest for 2026-07-01: 2 items".into(),
        date: "2026-07-01".into(),
        total: 2,
        groups: vec![DigestGroup {
            project: "web".into(),
            kind: "report".into(),
            count: 2,
            items: vec![
                DigestItem {
                    title: Some(HOSTILE.into()),
                    text: format!("{HOSTILE}\nsecond line"),
                    source: "bot".into(),
                    at: "2026-07-01 09:00".into(),
                },
                DigestItem {
                    title: None,
                    text: "plain".into(),
                    source: "bot".into(),
                    at: "2026-07-01 08:00".into(),
                },
            ],
        }],
    }
}

#[test]
fn the_neutral_message_has_one_field_per_group_with_first_lines() {
    let m = digest().message();
    assert_eq!(
        m.title.as_deref(),
        Some("Your orkhub digest for 2026-07-01: 2 items")
    );
    assert_eq!(m.text, "2 waiting since your last digest.");
    assert_eq!(m.fields.len(), 1);
    assert_eq!(m.fields[0].name, "web · report (2)");
    assert_eq!(
        m.fields[0].value,
        format!("• {HOSTILE}: {HOSTILE}\n• plain")
    );
}

#[test]
fn email_escapes_the_html_part_and_keeps_the_text_part_verbatim() {
    let (text, html) = email::Templates::embedded().digest(&digest()).unwrap();
    assert!(text.contains(&format!("{HOSTILE}: {HOSTILE}")), "{text}");
    assert!(
        !html.contains("<b>x</b>") && !html.contains("<!channel>"),
        "{html}"
    );
    assert!(html.contains(&email::render::escape(HOSTILE)), "{html}");
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt; &amp;"), "{html}");
}

/// The digest as the outbox carries it to the chat platforms: its neutral
/// message with the digest itself, which each renders when it sends it.
fn queued() -> RichMessage {
    digest().message().with_document(Document::Digest(digest()))
}

#[test]
fn telegram_escapes_only_its_three_characters() {
    let parts = telegram::render::parts(&queued(), &Templates::default()).unwrap();
    let all = parts.concat();
    assert!(!all.contains("<b>x</b>"), "{all}");
    assert!(
        all.contains("&lt;b&gt;x&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone (a-b)"),
        "{all}"
    );
}

#[test]
fn slack_escapes_control_characters() {
    let r = slack::render::render(&queued(), &Templates::default()).unwrap();
    let json = serde_json::to_string(&r.blocks).unwrap();
    assert!(
        !json.contains("<!channel>") && !r.text.contains("<!channel>"),
        "{json}"
    );
    assert!(json.contains("&lt;!channel&gt;"), "{json}");
    assert!(r.text.contains("&lt;b&gt;x&lt;/b&gt; &amp;"), "{}", r.text);
}

#[test]
fn discord_escapes_markdown_and_breaks_mass_mentions() {
    let r = discord::render::render(&queued(), &Templates::default()).unwrap();
    let all = r.parts.concat();
    assert!(!all.contains("@everyone"), "{all}");
    assert!(
        all.contains("\\<b\\>x\\</b\\> & \\*\\_\\~ \\<!channel\\> @\u{200B}everyone \\(a\\-b\\)"),
        "{all}"
    );
}
