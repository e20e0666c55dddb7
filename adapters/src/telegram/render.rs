//! RichMessage → Telegram HTML parts. Text is never concatenated into HTML:
//! a message becomes a list of runs (formatting tags + raw text), the runs
//! are split to Telegram's length limit *before* escaping, and each part is
//! written out with its tags opened and closed around escaped text. So no
//! `<`, `>` or `&` in anyone's text can inject markup, and a split can never
//! land inside a tag or an entity.
//!
//! A message carrying a document is rendered here when it is sent: a brief
//! from this adapter's template (`telegram/brief.html.hbs`, read back and
//! split like any message), a digest from its neutral message.

use super::limits::{MAX_CALLBACK_DATA_BYTES, MAX_PLACEHOLDER_CHARS, MAX_TEXT_UTF16};
use crate::template::{Mode, TemplateError, Templates};
use neutral::{Button, Document, RichMessage};
use teloxide_core::types::{ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

/// Why a message cannot be rendered for Telegram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the message has no text to send (Telegram refuses empty messages)")]
    Empty,
    #[error(
        "button {label:?}: callback data is {len} bytes, over Telegram's \
         {MAX_CALLBACK_DATA_BYTES}-byte limit (use a short token)"
    )]
    CallbackDataTooLong { label: String, len: usize },
    #[error("button {label:?}: callback data is empty")]
    CallbackDataEmpty { label: String },
    #[error("the brief's Telegram HTML is malformed: {0}")]
    BadHtml(String),
    /// Even the built-in template failed (an edited one that fails gives
    /// way to it): a fault in the hub's own template, not in the message.
    #[error("rendering the brief for Telegram: {0}")]
    Template(#[from] TemplateError),
}

/// HTML tags Telegram accepts (Bot API, "HTML style").
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
];

/// A formatting tag: its name and its opening text (with attributes, only
/// ever from trusted templates or from this file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    name: String,
    open: String,
}

impl Tag {
    fn simple(name: &str) -> Tag {
        Tag {
            name: name.to_string(),
            open: format!("<{name}>"),
        }
    }
}

/// Raw (unescaped) text under a stack of tags, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub tags: Vec<Tag>,
    pub text: String,
}

impl Run {
    fn plain(text: impl Into<String>) -> Run {
        Run {
            tags: Vec::new(),
            text: text.into(),
        }
    }

    fn tagged(tag: &str, text: impl Into<String>) -> Run {
        Run {
            tags: vec![Tag::simple(tag)],
            text: text.into(),
        }
    }
}

/// Escape text for Telegram HTML: `&`, `<` and `>` are the only characters
/// the parser treats specially outside attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The message as HTML parts, each within Telegram's limit. A brief is
/// rendered from `templates` now (an edited template that fails gives way
/// to the built-in one).
pub fn parts(message: &RichMessage, templates: &Templates) -> Result<Vec<String>, RenderError> {
    parts_with_limit(message, templates, MAX_TEXT_UTF16)
}

pub(crate) fn parts_with_limit(
    message: &RichMessage,
    templates: &Templates,
    limit: usize,
) -> Result<Vec<String>, RenderError> {
    let runs = match &message.document {
        Some(Document::Brief(brief)) => {
            return html_parts(&super::brief::render(templates, brief, Mode::Send)?, limit);
        }
        Some(Document::Digest(digest)) => runs(&digest.message()),
        None => runs(message),
    };
    split_runs(&runs, limit)
}

/// Template output (Telegram HTML) in parts within `limit`.
pub(crate) fn html_parts(html: &str, limit: usize) -> Result<Vec<String>, RenderError> {
    split_runs(&parse_html(html)?, limit)
}

fn split_runs(runs: &[Run], limit: usize) -> Result<Vec<String>, RenderError> {
    let parts: Vec<String> = split(runs, limit).iter().map(|p| to_html(p)).collect();
    if parts.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(parts)
}

/// Title in bold, the text, one line per field (name in bold), footer in italics.
fn runs(m: &RichMessage) -> Vec<Run> {
    let mut blocks: Vec<Vec<Run>> = Vec::new();
    if let Some(t) = m.title.as_deref().filter(|t| !t.is_empty()) {
        blocks.push(vec![Run::tagged("b", t)]);
    }
    if !m.text.is_empty() {
        blocks.push(vec![Run::plain(m.text.clone())]);
    }
    if !m.fields.is_empty() {
        let mut field_runs = Vec::new();
        for (i, f) in m.fields.iter().enumerate() {
            if i > 0 {
                field_runs.push(Run::plain("\n"));
            }
            field_runs.push(Run::tagged("b", format!("{}:", f.name)));
            field_runs.push(Run::plain(format!(" {}", f.value)));
        }
        blocks.push(field_runs);
    }
    if let Some(footer) = m.footer.as_deref().filter(|f| !f.is_empty()) {
        blocks.push(vec![Run::tagged("i", format!("— {footer}"))]);
    }
    let mut out = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.push(Run::plain("\n\n"));
        }
        out.extend(block);
    }
    out
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Cut runs into parts of at most `limit` visible UTF-16 units. A long run is
/// cut at a line break or space near the limit when there is one, else at a
/// character boundary; tags are re-opened in the next part.
fn split(runs: &[Run], limit: usize) -> Vec<Vec<Run>> {
    let limit = limit.max(1);
    let mut parts: Vec<Vec<Run>> = Vec::new();
    let mut current: Vec<Run> = Vec::new();
    let mut used = 0usize;
    for run in runs.iter().filter(|r| !r.text.is_empty()) {
        let mut rest: &str = &run.text;
        while !rest.is_empty() {
            let len = utf16_len(rest);
            if used + len <= limit {
                current.push(Run {
                    tags: run.tags.clone(),
                    text: rest.to_string(),
                });
                used += len;
                break;
            }
            let cut = cut_point(rest, limit - used, used, limit);
            if cut == 0 {
                // Nothing of this run fits well here: start a new part.
                parts.push(std::mem::take(&mut current));
                used = 0;
                continue;
            }
            current.push(Run {
                tags: run.tags.clone(),
                text: rest[..cut].to_string(),
            });
            parts.push(std::mem::take(&mut current));
            used = 0;
            rest = &rest[cut..];
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    // A cut at a run of spaces or line breaks can leave a part of nothing
    // else; Telegram refuses it ("message text is empty"), which would stop
    // the delivery half way. Telegram trims a message's outer whitespace
    // anyway, so dropping it loses nothing a reader would see.
    parts.retain(|p| p.iter().any(|r| !r.text.trim().is_empty()));
    parts
}

/// Byte index to cut `text` at so that the piece fits in `space` units.
/// Prefers the end of a line, then a space, as long as the part stays at
/// least half full; returns 0 when the part is already half full and no
/// good break exists (the run then moves to the next part whole).
fn cut_point(text: &str, space: usize, used: usize, limit: usize) -> usize {
    let mut fit = 0usize; // bytes that fit
    let mut units = 0usize;
    let mut last_newline = None;
    let mut last_space = None;
    for (i, c) in text.char_indices() {
        let u = c.len_utf16();
        if units + u > space {
            break;
        }
        units += u;
        fit = i + c.len_utf8();
        if c == '\n' {
            last_newline = Some((fit, units));
        } else if c == ' ' {
            last_space = Some((fit, units));
        }
    }
    let half = limit / 2;
    for (cut, u) in [last_newline, last_space].into_iter().flatten() {
        if used + u >= half {
            return cut;
        }
    }
    if used >= half { 0 } else { fit }
}

fn to_html(part: &[Run]) -> String {
    let mut out = String::new();
    for run in part {
        for t in &run.tags {
            out.push_str(&t.open);
        }
        out.push_str(&escape(&run.text));
        for t in run.tags.iter().rev() {
            out.push_str("</");
            out.push_str(&t.name);
            out.push('>');
        }
    }
    out
}

/// Read pre-rendered Telegram HTML back into runs, so it is split exactly
/// like structured messages. Refuses unknown or unbalanced tags and bad
/// entities — Telegram would refuse them too.
pub fn parse_html(html: &str) -> Result<Vec<Run>, RenderError> {
    let bad = |m: String| RenderError::BadHtml(m);
    let mut runs = Vec::new();
    let mut stack: Vec<Tag> = Vec::new();
    let mut text = String::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| bad("a '<' is never closed by '>'".into()))?;
                let inner = &rest[1..end];
                if !text.is_empty() {
                    runs.push(Run {
                        tags: stack.clone(),
                        text: std::mem::take(&mut text),
                    });
                }
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim();
                    match stack.pop() {
                        Some(t) if t.name == name => {}
                        Some(t) => {
                            return Err(bad(format!("</{name}> closes <{}>", t.name)));
                        }
                        None => return Err(bad(format!("</{name}> closes nothing"))),
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or("");
                    if !ALLOWED_TAGS.contains(&name) {
                        return Err(bad(format!("<{name}> is not a Telegram tag")));
                    }
                    stack.push(Tag {
                        name: name.to_string(),
                        open: format!("<{inner}>"),
                    });
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest
                    .find(';')
                    .filter(|e| *e <= 10)
                    .ok_or_else(|| bad("an '&' does not start an entity".into()))?;
                text.push(
                    decode_entity(&rest[1..end])
                        .ok_or_else(|| bad(format!("unknown entity &{};", &rest[1..end])))?,
                );
                rest = &rest[end + 1..];
            }
            '>' => return Err(bad("a bare '>' (escape it as &gt;)".into())),
            c => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(t) = stack.last() {
        return Err(bad(format!("<{}> is never closed", t.name)));
    }
    if !text.is_empty() {
        runs.push(Run {
            tags: Vec::new(),
            text,
        });
    }
    Ok(runs)
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// What goes under a sent message's last part: its buttons, or else, for a
/// message that asks for a reply, ForceReply (the reply opens at once, with
/// the hint in the empty field, cut to Telegram's 64 characters).
pub fn send_markup(message: &RichMessage) -> Result<Option<ReplyMarkup>, RenderError> {
    if let Some(k) = keyboard(&message.buttons)? {
        return Ok(Some(ReplyMarkup::InlineKeyboard(k)));
    }
    Ok(message.reply_prompt.as_ref().map(|hint| {
        let hint: String = hint.trim().chars().take(MAX_PLACEHOLDER_CHARS).collect();
        let force = ForceReply::new();
        ReplyMarkup::ForceReply(if hint.is_empty() {
            force
        } else {
            force.input_field_placeholder(hint)
        })
    }))
}

/// The inline keyboard: one button per callback token, up to three a row.
/// Refuses tokens Telegram would refuse, naming the button.
pub fn keyboard(buttons: &[Button]) -> Result<Option<InlineKeyboardMarkup>, RenderError> {
    if buttons.is_empty() {
        return Ok(None);
    }
    for b in buttons {
        if b.token.is_empty() {
            return Err(RenderError::CallbackDataEmpty {
                label: b.label.clone(),
            });
        }
        if b.token.len() > MAX_CALLBACK_DATA_BYTES {
            return Err(RenderError::CallbackDataTooLong {
                label: b.label.clone(),
                len: b.token.len(),
            });
        }
    }
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons
        .chunks(3)
        .map(|row| {
            row.iter()
                .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.token.clone()))
                .collect()
        })
        .collect();
    Ok(Some(InlineKeyboardMarkup::new(rows)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutral::ButtonStyle;

    fn parts(m: &RichMessage) -> Result<Vec<String>, RenderError> {
        super::parts(m, &Templates::default())
    }

    fn parts_with_limit(m: &RichMessage, limit: usize) -> Result<Vec<String>, RenderError> {
        super::parts_with_limit(m, &Templates::default(), limit)
    }

    /// Visible text of our own HTML output (what Telegram shows).
    fn visible(html: &str) -> String {
        parse_html(html)
            .expect("own output parses")
            .into_iter()
            .map(|r| r.text)
            .collect()
    }

    #[test]
    fn markup_in_text_is_escaped_never_interpreted() {
        let m = RichMessage::titled("<b>x</b> & co", "1 < 2 && <script>alert(1)</script>")
            .with_field("a<b", "c>d")
            .with_footer("&amp;");
        let p = parts(&m).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0],
            "<b>&lt;b&gt;x&lt;/b&gt; &amp; co</b>\n\n1 &lt; 2 &amp;&amp; \
             &lt;script&gt;alert(1)&lt;/script&gt;\n\n<b>a&lt;b:</b> c&gt;d\n\n<i>— &amp;amp;</i>"
        );
        assert_eq!(
            visible(&p[0]),
            "<b>x</b> & co\n\n1 < 2 && <script>alert(1)</script>\n\na<b: c>d\n\n— &amp;"
        );
    }

    #[test]
    fn long_text_splits_within_limit_and_rejoins_exactly() {
        let body: String = (0..3000)
            .map(|i| ["<", ">", "&", "a", " ", "\n"][i % 6])
            .collect::<String>()
            + &"x&<".repeat(2000);
        let m = RichMessage::titled("T<", body.clone()).with_footer("f&");
        let p = parts(&m).unwrap();
        assert!(p.len() >= 3, "{}", p.len());
        for part in &p {
            assert!(utf16_len(&visible(part)) <= MAX_TEXT_UTF16);
            // Every part is well-formed on its own.
            parse_html(part).unwrap();
        }
        let joined: String = p.iter().map(|x| visible(x)).collect();
        assert_eq!(joined, format!("T<\n\n{body}\n\n— f&"));
    }

    #[test]
    fn bold_run_split_reopens_its_tag() {
        let m = RichMessage {
            title: Some("y".repeat(25)),
            ..Default::default()
        };
        let p = parts_with_limit(&m, 10).unwrap();
        assert_eq!(
            p,
            vec!["<b>yyyyyyyyyy</b>", "<b>yyyyyyyyyy</b>", "<b>yyyyy</b>"]
        );
    }

    #[test]
    fn split_prefers_line_breaks() {
        let m = RichMessage::text("aaaa bbbb\ncccc dddd");
        let p = parts_with_limit(&m, 12).unwrap();
        assert_eq!(p, vec!["aaaa bbbb\n", "cccc dddd"]);
    }

    #[test]
    fn split_never_cuts_a_surrogate_pair() {
        let m = RichMessage::text("😀".repeat(5));
        // Each emoji is 2 UTF-16 units: 3 units fit one emoji only.
        let p = parts_with_limit(&m, 3).unwrap();
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|x| x == "😀"));
    }

    #[test]
    fn template_html_is_sent_as_is_and_split_on_tag_boundaries() {
        let html = "<b>Brief</b>\n<i>a &amp; b</i> <a href=\"https://x.y/?a=1&amp;b=2\">link</a>";
        assert_eq!(
            html_parts(html, MAX_TEXT_UTF16).unwrap(),
            vec![html.to_string()]
        );
        let p = html_parts(html, 8).unwrap();
        for x in &p {
            parse_html(x).unwrap();
        }
        assert_eq!(
            p.iter().map(|x| visible(x)).collect::<String>(),
            "Brief\na & b link"
        );
        assert!(
            p.iter()
                .any(|x| x.contains("<a href=\"https://x.y/?a=1&amp;b=2\">"))
        );
    }

    #[test]
    fn malformed_template_html_is_refused_with_the_reason() {
        for (html, why) in [
            ("<b>x", "never closed"),
            ("<b>x</i>", "closes <b>"),
            ("<script>x</script>", "not a Telegram tag"),
            ("a & b", "does not start an entity"),
            ("&bogus;", "unknown entity"),
        ] {
            let e = html_parts(html, MAX_TEXT_UTF16).unwrap_err();
            assert!(e.to_string().contains(why), "{html}: {e}");
        }
    }

    #[test]
    fn empty_message_is_refused() {
        assert_eq!(parts(&RichMessage::default()), Err(RenderError::Empty));
        assert_eq!(
            parts(&RichMessage::text(" \n\n  ")),
            Err(RenderError::Empty)
        );
    }

    #[test]
    fn no_part_is_whitespace_only() {
        // The cut after the a's leaves ten spaces that fill a part alone.
        let m = RichMessage::text(format!(
            "{}{}{}",
            "a".repeat(10),
            " ".repeat(10),
            "b".repeat(10)
        ));
        let p = parts_with_limit(&m, 10).unwrap();
        assert_eq!(p, vec!["a".repeat(10), "b".repeat(10)]);
        // Line breaks between blocks, and a whitespace-only bold title.
        let m = RichMessage {
            title: Some("  ".into()),
            text: format!("{}{}x", "c".repeat(8), "\n".repeat(12)),
            ..Default::default()
        };
        let p = parts_with_limit(&m, 8).unwrap();
        assert!(!p.is_empty());
        for part in &p {
            assert!(!visible(part).trim().is_empty(), "{p:?}");
        }
        assert!(p.last().unwrap().ends_with('x'), "{p:?}");
    }

    #[test]
    fn callback_tokens_over_64_bytes_are_refused() {
        let b = |t: &str| Button {
            label: "Approve".into(),
            token: t.into(),
            style: ButtonStyle::Primary,
        };
        assert!(keyboard(&[b(&"a".repeat(64))]).unwrap().is_some());
        assert_eq!(
            keyboard(&[b(&"é".repeat(33))]),
            Err(RenderError::CallbackDataTooLong {
                label: "Approve".into(),
                len: 66
            })
        );
        assert!(matches!(
            keyboard(&[b("")]),
            Err(RenderError::CallbackDataEmpty { .. })
        ));
        assert_eq!(keyboard(&[]).unwrap(), None);
    }

    #[test]
    fn a_reply_prompt_is_a_force_reply_with_its_hint_cut_to_64_and_buttons_win() {
        let m = RichMessage::text("draft").with_reply_prompt("h".repeat(80));
        let Some(ReplyMarkup::ForceReply(f)) = send_markup(&m).unwrap() else {
            panic!("a ForceReply");
        };
        assert_eq!(f.input_field_placeholder, Some("h".repeat(64)));
        assert_eq!(send_markup(&RichMessage::text("x")).unwrap(), None);
        let with_button = m.with_button(Button {
            label: "Ok".into(),
            token: "t".into(),
            style: Default::default(),
        });
        assert!(matches!(
            send_markup(&with_button).unwrap(),
            Some(ReplyMarkup::InlineKeyboard(_))
        ));
    }
}
