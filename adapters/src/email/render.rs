//! Email bodies from handlebars templates a person can edit without
//! rebuilding: `email/{message,digest}.{html,txt}.hbs` under the configured
//! directory are read at every render; a missing or broken file falls back to
//! the copy built into the binary (so the hub works from any directory).
//! The HTML part escapes every value (handlebars' default); the text part
//! escapes nothing, so `&` and `<` reach the reader as typed. A brief is
//! rendered from its own templates (`super::brief`) when it is sent.

use super::limits;
use crate::template::compiled::{Setup, compiled};
use crate::template::{Mode, TemplateError};
use neutral::{Digest, Document, RichMessage};
use serde::Serialize;
use std::borrow::Cow;
use std::path::PathBuf;

const EMBEDDED: [(&str, &str); 4] = [
    (
        "message.html.hbs",
        include_str!("../../../templates/email/message.html.hbs"),
    ),
    (
        "message.txt.hbs",
        include_str!("../../../templates/email/message.txt.hbs"),
    ),
    (
        "digest.html.hbs",
        include_str!("../../../templates/email/digest.html.hbs"),
    ),
    (
        "digest.txt.hbs",
        include_str!("../../../templates/email/digest.txt.hbs"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("email template {name}: {reason}")]
    Template { name: String, reason: String },
    #[error("the brief's email: {0}")]
    Brief(#[from] TemplateError),
}

/// The two bodies of one email and its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Serialize)]
struct MessageView<'a> {
    subject: &'a str,
    title: Option<&'a str>,
    text: &'a str,
    paragraphs: Vec<&'a str>,
    fields: &'a [neutral::Field],
    buttons: Vec<&'a str>,
    footer: Option<&'a str>,
    /// A one-time sign-in link to this decision's page in the web console
    /// (a decision request to a person, when the console is on).
    decide_url: Option<&'a str>,
}

/// What the digest templates see: the digest's fields, and the sign-in
/// link when there is one.
#[derive(Serialize)]
struct DigestView<'a> {
    #[serde(flatten)]
    digest: &'a Digest,
    sign_in_url: Option<&'a str>,
}

/// Where templates come from.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// The directory holding `email/*.hbs`; None: built-in copies only.
    dir: Option<PathBuf>,
}

impl Templates {
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Templates {
            dir: Some(dir.into()),
        }
    }

    pub fn embedded() -> Self {
        Templates { dir: None }
    }

    /// The email for `m` as it is sent: a brief from its templates in
    /// `briefs`, a digest from the digest templates, any other message from
    /// the message templates.
    /// `sign_in`: a one-time link into the web console for a digest (its
    /// inbox) or a decision request (the decision's page).
    pub fn email(
        &self,
        m: &RichMessage,
        briefs: &crate::template::Templates,
        sign_in: Option<&str>,
    ) -> Result<Parts, RenderError> {
        let (text, html) = match &m.document {
            Some(Document::Brief(brief)) => (
                super::brief::text(briefs, brief, Mode::Send)?,
                super::brief::html(briefs, brief, Mode::Send)?,
            ),
            Some(Document::Digest(digest)) => self.digest_with(&DigestView {
                digest,
                sign_in_url: sign_in,
            })?,
            None => return self.message_with(m, sign_in),
        };
        Ok(Parts {
            subject: limits::subject(m.title.as_deref(), &m.text),
            text,
            html,
        })
    }

    /// The email for a message's own fields.
    pub fn message(&self, m: &RichMessage) -> Result<Parts, RenderError> {
        self.message_with(m, None)
    }

    /// The same, with a decision's "Review and decide" sign-in link.
    fn message_with(
        &self,
        m: &RichMessage,
        decide_url: Option<&str>,
    ) -> Result<Parts, RenderError> {
        let subject = limits::subject(m.title.as_deref(), &m.text);
        let view = MessageView {
            subject: &subject,
            title: m.title.as_deref(),
            text: &m.text,
            paragraphs: m
                .text
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .collect(),
            fields: &m.fields,
            buttons: m.buttons.iter().map(|b| b.label.as_str()).collect(),
            footer: m.footer.as_deref(),
            decide_url,
        };
        let text = self.render("message.txt.hbs", &view)?;
        let html = self.render("message.html.hbs", &view)?;
        Ok(Parts {
            subject,
            text,
            html,
        })
    }

    /// The digest's (plain text, HTML) bodies.
    pub fn digest(&self, d: &Digest) -> Result<(String, String), RenderError> {
        self.digest_with(&DigestView {
            digest: d,
            sign_in_url: None,
        })
    }

    fn digest_with(&self, view: &DigestView<'_>) -> Result<(String, String), RenderError> {
        Ok((
            self.render("digest.txt.hbs", view)?,
            self.render("digest.html.hbs", view)?,
        ))
    }

    /// Render `name` from the directory, falling back to the built-in copy
    /// when the file is missing or does not render (logged: someone edited
    /// it and should know).
    fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String, RenderError> {
        if let Some(source) = self.read_edited(name) {
            match render_source(name, &source, ctx) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    tracing::error!(template = name, error = %e, "email template on disk does not render; using the built-in copy")
                }
            }
        }
        render_source(name, embedded(name), ctx)
    }

    fn read_edited(&self, name: &str) -> Option<Cow<'static, str>> {
        let path = self.dir.as_ref()?.join("email").join(name);
        std::fs::read_to_string(&path).ok().map(Cow::Owned)
    }
}

fn embedded(name: &str) -> &'static str {
    EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, s)| s)
}

/// Escape text for an email's HTML part: handlebars' HTML escape (`&`,
/// `<`, `>`, both quotes, `` ` `` and `=`), so a value is inert in element
/// content and in any attribute. The one HTML escaper of this adapter, for
/// messages, digests and briefs alike. (The brief's email template used its
/// own, which wrote `'` as `&#39;` and left `` ` `` and `=` alone; both are
/// valid HTML, so what a reader sees is unchanged.)
pub fn escape(s: &str) -> String {
    handlebars::html_escape(s)
}

fn render_source(name: &str, source: &str, ctx: &impl Serialize) -> Result<String, RenderError> {
    let escape_fn: crate::template::Escape = if name.ends_with(".html.hbs") {
        escape
    } else {
        // Plain text: no HTML entities in what the reader sees.
        handlebars::no_escape
    };
    let err = |e: &dyn std::fmt::Display| RenderError::Template {
        name: name.to_string(),
        reason: e.to_string(),
    };
    // Parsed once per text (see `template::compiled`).
    let hb = compiled(name, source, escape_fn, Setup::Plain).map_err(|e| err(&e))?;
    hb.render(name, ctx).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutral::{Button, DigestGroup, DigestItem};

    fn hostile() -> RichMessage {
        RichMessage::titled(
            "Deploy <b>now</b>",
            "<script>alert(1)</script> & \"quoted\"\n\nsecond paragraph",
        )
        .with_field("cost", "<1$ & more")
        .with_button(Button {
            label: "Approve <x>".into(),
            token: "t".into(),
            style: Default::default(),
        })
    }

    #[test]
    fn html_part_escapes_and_text_part_keeps_agent_text() {
        let p = Templates::embedded().message(&hostile()).unwrap();
        assert!(!p.html.contains("<script>"), "{}", p.html);
        assert!(
            p.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"),
            "{}",
            p.html
        );
        assert!(p.html.contains("Deploy &lt;b&gt;now&lt;/b&gt;"));
        assert!(p.html.contains("&lt;1$ &amp; more"));
        assert!(
            p.text.contains("<script>alert(1)</script> & \"quoted\""),
            "{}",
            p.text
        );
        assert!(p.text.contains("cost: <1$ & more"));
        assert!(p.text.contains("Approve <x>"));
        assert_eq!(p.subject, "Deploy <b>now</b>");
    }

    #[test]
    fn a_digest_is_rendered_from_the_digest_templates() {
        let d = Digest {
            title: "Your digest: 1 item".into(),
            date: "2026-07-01".into(),
            total: 1,
            groups: vec![DigestGroup {
                project: "web".into(),
                kind: "report".into(),
                count: 1,
                items: vec![DigestItem {
                    title: None,
                    text: "a < b".into(),
                    source: "bot".into(),
                    at: "09:00".into(),
                }],
            }],
        };
        let m = d.message().with_document(Document::Digest(d.clone()));
        let p = Templates::embedded()
            .email(&m, &crate::template::Templates::default(), None)
            .unwrap();
        assert_eq!(p.subject, "Your digest: 1 item");
        assert!(p.text.contains("web / report (1)"), "{}", p.text);
        assert!(p.html.contains("a &lt; b"), "{}", p.html);
        assert!(!p.text.contains("Open in orkhub"), "{}", p.text);
        // With a sign-in link: at the end of both parts.
        let link = "https://hub.example.com/console/login?token=abc";
        let p = Templates::embedded()
            .email(&m, &crate::template::Templates::default(), Some(link))
            .unwrap();
        assert!(
            p.text.trim_end().ends_with(&format!("Open in orkhub: {link}\n(a sign-in link for you alone: it works once, for a limited time)")),
            "{}",
            p.text
        );
        assert!(
            p.html
                .contains(r#"<a href="https://hub.example.com/console/login?token&#x3D;abc">Open in orkhub</a>"#),
            "{}",
            p.html
        );
    }

    #[test]
    fn templates_on_disk_win_and_broken_or_missing_ones_fall_back() {
        let dir = std::env::temp_dir().join(format!("orkhub-tpl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("email")).unwrap();
        std::fs::write(dir.join("email/message.txt.hbs"), "EDITED {{text}}").unwrap();
        std::fs::write(dir.join("email/message.html.hbs"), "{{#if}} broken").unwrap();
        let t = Templates::from_dir(&dir);
        let p = t.message(&RichMessage::text("a & b")).unwrap();
        assert_eq!(p.text, "EDITED a & b");
        assert!(
            p.html.contains("a &amp; b") && p.html.contains("<!DOCTYPE html>"),
            "{}",
            p.html
        );
        // Edited again: the next render sees it without a restart.
        std::fs::write(dir.join("email/message.txt.hbs"), "AGAIN {{text}}").unwrap();
        assert_eq!(t.message(&RichMessage::text("x")).unwrap().text, "AGAIN x");
        let missing = Templates::from_dir(dir.join("nowhere"));
        assert!(
            missing
                .message(&RichMessage::text("x"))
                .unwrap()
                .html
                .contains("<!DOCTYPE html>")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn digest_renders_groups_with_counts() {
        let d = Digest {
            title: "Your digest: 2 items".into(),
            date: "2026-07-01".into(),
            total: 2,
            groups: vec![DigestGroup {
                project: "website".into(),
                kind: "report".into(),
                count: 2,
                items: vec![
                    DigestItem {
                        title: None,
                        text: "b < c".into(),
                        source: "bot".into(),
                        at: "09:00".into(),
                    },
                    DigestItem {
                        title: Some("T".into()),
                        text: "a".into(),
                        source: "bot".into(),
                        at: "08:00".into(),
                    },
                ],
            }],
        };
        let (text, html) = Templates::embedded().digest(&d).unwrap();
        assert!(text.contains("website / report (2)"), "{text}");
        assert!(
            text.find("b < c").unwrap() < text.find("T: a").unwrap(),
            "{text}"
        );
        assert!(
            html.contains("website · report (2)") && html.contains("b &lt; c"),
            "{html}"
        );
    }
}
