//! RichMessage → Block Kit blocks plus the plain-text `text` fallback.
//! Every piece of person or agent text becomes [`Mrkdwn`] only through
//! [`Mrkdwn::escape`], so it can never produce `<!channel>`, `<@U…>` or a
//! disguised `<http://x|link>`: Slack reads `&`, `<` and `>` as control
//! characters and nothing else. Only this adapter's templates' output, which
//! escaped every value for Slack, is taken as is: a brief is rendered from
//! them when it is sent (`slack/brief.{mrkdwn,blocks.json}.hbs`); a digest
//! from its neutral message.

use super::limits;
use crate::template::{Mode, TemplateError, Templates};
use neutral::{Button, ButtonStyle, Document, Reply, RichMessage, Visibility};
use serde_json::{Value, json};

/// Text that is safe to hand to Slack as mrkdwn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mrkdwn(String);

impl Mrkdwn {
    /// Escape untrusted text: `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`.
    pub fn escape(text: &str) -> Mrkdwn {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
        Mrkdwn(out)
    }

    /// Text one of this adapter's templates already escaped for Slack.
    fn trusted(text: &str) -> Mrkdwn {
        Mrkdwn(text.to_string())
    }

    /// `*text*`, escaped.
    pub fn bold(text: &str) -> Mrkdwn {
        Mrkdwn(format!("*{}*", Mrkdwn::escape(text).0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    fn push(&mut self, other: &Mrkdwn) {
        self.0.push_str(&other.0);
    }

    fn push_line(&mut self) {
        self.0.push('\n');
    }

    /// Split into pieces of at most `max` characters, preferring line and
    /// word breaks, never inside an entity (`&amp;`) or a `<...>` token.
    fn chunks(&self, max: usize) -> Vec<Mrkdwn> {
        let chars: Vec<char> = self.0.chars().collect();
        let mut out = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            if chars.len() - start <= max {
                out.push(Mrkdwn(chars[start..].iter().collect()));
                break;
            }
            let window = &chars[start..start + max];
            let cut = best_cut(window).unwrap_or(max);
            out.push(Mrkdwn(window[..cut].iter().collect()));
            start += cut;
            // A break character that ended a chunk is not repeated at the
            // start of the next one.
            while start < chars.len() && (chars[start] == '\n' || chars[start] == ' ') {
                start += 1;
            }
        }
        out
    }
}

/// Where to end a chunk inside `window`: after the last newline in its
/// second half, else the last space, else as late as possible — but never
/// inside a `<...>` token (a template's `<https://x|label with spaces>`, a
/// mention) or an entity (`&amp;`), which a cut would break into text
/// Slack shows raw. `None`: one token fills the whole window.
fn best_cut(window: &[char]) -> Option<usize> {
    let safe = safe_cuts(window);
    let half = window.len() / 2;
    let after_last = |want: char| {
        (half..window.len())
            .rev()
            .find(|&i| window[i] == want && safe[i + 1])
            .map(|i| i + 1)
    };
    after_last('\n')
        .or_else(|| after_last(' '))
        .or_else(|| (1..=window.len()).rev().find(|&i| safe[i]))
}

/// Longest entity name Slack (or a template) writes: `&amp;`, `&#128512;`.
const MAX_ENTITY_CHARS: usize = 10;

/// `safe[i]`: whether `window[..i]` ends outside every `<...>` token and
/// entity. A `&` with no `;` within an entity's length is plain text
/// (hand-written template text), unless the window ends first: then the
/// entity may go on past it, and the cut must not fall after the `&`.
fn safe_cuts(window: &[char]) -> Vec<bool> {
    let mut safe = vec![true; window.len() + 1];
    let mut i = 0;
    while i < window.len() {
        let end = match window[i] {
            '<' => window[i..].iter().position(|&c| c == '>').map(|e| i + e),
            '&' => {
                let look = &window[i + 1..window.len().min(i + 1 + MAX_ENTITY_CHARS)];
                match look.iter().position(|&c| c == ';') {
                    Some(e) => Some(i + 1 + e),
                    None if i + 1 + MAX_ENTITY_CHARS > window.len() => None,
                    None => Some(i),
                }
            }
            _ => Some(i),
        };
        // Inside the token (or to the window's end, if it is not closed
        // there), no cut.
        let last = end.unwrap_or(window.len());
        for s in safe.iter_mut().take(last + 1).skip(i + 1) {
            *s = false;
        }
        if last < window.len() {
            safe[last + 1] = true;
        }
        i = last + 1;
    }
    safe
}

/// What goes into chat.postMessage / chat.update / a response_url post.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The plain-text fallback (notifications, screen readers), escaped.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// Render a message into Block Kit blocks and a fallback text. A brief is
/// rendered from `templates` now (an edited template that fails gives way
/// to the built-in one; only a failing built-in is an error).
pub fn render(message: &RichMessage, templates: &Templates) -> Result<Rendered, TemplateError> {
    Ok(match &message.document {
        Some(Document::Brief(brief)) => from_template(
            &super::brief::mrkdwn(templates, brief, Mode::Send)?,
            Some(&super::brief::blocks(templates, brief, Mode::Send)?),
            &message.buttons,
        ),
        Some(Document::Digest(digest)) => structured(&digest.message(), &message.buttons),
        None => structured(message, &message.buttons),
    })
}

/// A message's own fields, escaped, with `buttons`.
fn structured(m: &RichMessage, buttons: &[Button]) -> Rendered {
    let text = fallback(Mrkdwn::escape(&m.plain_text()));
    with_actions(text, structured_blocks(m), buttons)
}

/// A template's mrkdwn (the fallback text; also the blocks when the
/// template made none usable) and blocks, with `buttons`.
fn from_template(mrkdwn: &str, blocks: Option<&str>, buttons: &[Button]) -> Rendered {
    let mrkdwn = Mrkdwn::trusted(mrkdwn);
    let content = blocks
        .and_then(template_blocks)
        .unwrap_or_else(|| text_sections(&mrkdwn));
    with_actions(fallback(mrkdwn), content, buttons)
}

fn with_actions(text: String, mut blocks: Vec<Value>, buttons: &[Button]) -> Rendered {
    let actions = actions_blocks(buttons);
    // Buttons must survive truncation: long content is cut to make room.
    let room = limits::MAX_BLOCKS.saturating_sub(actions.len());
    if blocks.len() > room {
        blocks.truncate(room.saturating_sub(1));
        blocks.push(context(&Mrkdwn::escape(
            "… (cut: the message is longer than Slack shows)",
        )));
    }
    blocks.extend(actions);
    Rendered { text, blocks }
}

/// A JSON body for a slash command's HTTP response or a response_url post.
pub fn reply_body(reply: &Reply, replace_original: Option<bool>, templates: &Templates) -> Value {
    let r = render(&reply.message, templates).unwrap_or_else(|e| {
        tracing::error!(error = %e, "slack: a reply does not render");
        structured(&RichMessage::text(e.to_string()), &[])
    });
    let mut body = json!({
        "response_type": match reply.visibility {
            Visibility::Ephemeral => "ephemeral",
            Visibility::Public => "in_channel",
        },
        "text": r.text,
        "blocks": r.blocks,
    });
    if let Some(replace) = replace_original {
        body["replace_original"] = json!(replace);
    }
    body
}

/// The immediate answer to a request that will finish later.
pub fn ack_body(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": Mrkdwn::escape(text).0})
}

/// The first piece of `escaped` that fits the fallback text's limit.
fn fallback(escaped: Mrkdwn) -> String {
    match escaped.chunks(limits::MAX_FALLBACK_TEXT).into_iter().next() {
        Some(first) => first.0,
        // Slack refuses a message with neither text nor blocks (`no_text`).
        None => " ".into(),
    }
}

/// Blocks a template produced: a JSON array of objects, else ignored (and
/// the template's mrkdwn is shown instead).
fn template_blocks(json: &str) -> Option<Vec<Value>> {
    match serde_json::from_str::<Vec<Value>>(json) {
        Ok(blocks) if blocks.iter().all(Value::is_object) => Some(blocks),
        _ => {
            tracing::warn!(
                "the Slack blocks template did not make a JSON array of blocks; sending its mrkdwn instead"
            );
            None
        }
    }
}

fn structured_blocks(m: &RichMessage) -> Vec<Value> {
    let mut body = Mrkdwn::default();
    if let Some(title) = &m.title {
        body.push(&Mrkdwn::bold(title));
        if !m.text.is_empty() {
            body.push_line();
        }
    }
    body.push(&Mrkdwn::escape(&m.text));
    let mut blocks = text_sections(&body);
    // Section fields: at most 10 per section, each at most 2000 characters.
    for group in m.fields.chunks(limits::MAX_SECTION_FIELDS) {
        let fields: Vec<Value> = group
            .iter()
            .map(|f| {
                let mut t = Mrkdwn::bold(&f.name);
                t.push_line();
                t.push(&Mrkdwn::escape(&f.value));
                mrkdwn_object(&first_chunk(&t, limits::MAX_FIELD_TEXT))
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(footer) = &m.footer {
        blocks.push(context(&Mrkdwn::escape(footer)));
    }
    blocks
}

fn text_sections(text: &Mrkdwn) -> Vec<Value> {
    text.chunks(limits::MAX_SECTION_TEXT)
        .iter()
        .filter(|c| !c.0.trim().is_empty())
        .map(|c| json!({"type": "section", "text": mrkdwn_object(c)}))
        .collect()
}

fn context(text: &Mrkdwn) -> Value {
    json!({"type": "context", "elements": [mrkdwn_object(&first_chunk(text, limits::MAX_SECTION_TEXT))]})
}

fn mrkdwn_object(text: &Mrkdwn) -> Value {
    json!({"type": "mrkdwn", "text": text.0})
}

fn first_chunk(text: &Mrkdwn, max: usize) -> Mrkdwn {
    text.chunks(max).into_iter().next().unwrap_or_default()
}

/// Buttons as actions blocks (25 elements each). `value` and `action_id`
/// carry the button's opaque token; the hub maps it back server side.
fn actions_blocks(buttons: &[Button]) -> Vec<Value> {
    buttons
        .chunks(limits::MAX_ACTIONS_ELEMENTS)
        .map(|group| {
            let elements: Vec<Value> = group
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    // plain_text is shown literally by Slack (no mrkdwn), so
                    // the label needs no escaping, only its length limit.
                    let label: String = b.label.chars().take(limits::MAX_BUTTON_TEXT).collect();
                    let mut e = json!({
                        "type": "button",
                        "text": {"type": "plain_text", "text": label, "emoji": true},
                        "value": b.token,
                        "action_id": format!("ork:{i}:{}", b.token),
                    });
                    match b.style {
                        ButtonStyle::Primary => e["style"] = json!("primary"),
                        ButtonStyle::Danger => e["style"] = json!("danger"),
                        ButtonStyle::Default => {}
                    }
                    e
                })
                .collect();
            json!({"type": "actions", "elements": elements})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(m: &RichMessage) -> Rendered {
        super::render(m, &Templates::default()).unwrap()
    }

    fn reply_body(reply: &Reply, replace_original: Option<bool>) -> Value {
        super::reply_body(reply, replace_original, &Templates::default())
    }

    fn all_text(r: &Rendered) -> String {
        format!("{} {}", r.text, serde_json::to_string(&r.blocks).unwrap())
    }

    #[test]
    fn hostile_text_cannot_ping_or_fake_links() {
        let m = RichMessage::titled(
            "<!channel> alert",
            "see <http://evil.example|bank> & <@U1> <!here>",
        )
        .with_field("<!everyone>", "<#C1>")
        .with_footer("by <@U2>");
        let r = render(&m);
        let all = all_text(&r);
        for bad in [
            "<!channel>",
            "<http://evil",
            "<@U1>",
            "<!here>",
            "<!everyone>",
            "<#C1>",
            "<@U2>",
        ] {
            assert!(!all.contains(bad), "{bad} survived: {all}");
        }
        assert!(all.contains("&lt;!channel&gt; alert"), "{all}");
        assert!(all.contains("&amp;"), "{all}");
        assert!(
            r.text.contains("&lt;http://evil.example|bank&gt;"),
            "{}",
            r.text
        );
    }

    #[test]
    fn already_escaped_looking_text_is_escaped_again() {
        // An agent writing "&lt;!channel&gt;" must see exactly that, not a ping.
        assert_eq!(
            Mrkdwn::escape("&lt;!channel&gt;").as_str(),
            "&amp;lt;!channel&amp;gt;"
        );
    }

    #[test]
    fn buttons_carry_the_token_and_style() {
        let m = RichMessage::text("ship?")
            .with_button(Button {
                label: "Approve".into(),
                token: "tokA".into(),
                style: ButtonStyle::Primary,
            })
            .with_button(Button {
                label: "Deny".into(),
                token: "tokD".into(),
                style: ButtonStyle::Danger,
            });
        let r = render(&m);
        let actions = r.blocks.last().unwrap();
        assert_eq!(actions["type"], "actions");
        assert_eq!(actions["elements"][0]["value"], "tokA");
        assert_eq!(actions["elements"][0]["style"], "primary");
        assert_eq!(actions["elements"][1]["value"], "tokD");
        assert_eq!(actions["elements"][1]["style"], "danger");
        assert_ne!(
            actions["elements"][0]["action_id"],
            actions["elements"][1]["action_id"]
        );
    }

    #[test]
    fn long_text_is_split_to_section_limits_without_breaking_entities() {
        let text = "a&b ".repeat(2000); // 8000 chars raw, 16000 escaped
        let r = render(&RichMessage::text(text));
        assert!(r.blocks.len() >= 5, "{}", r.blocks.len());
        let mut joined = String::new();
        for b in &r.blocks {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= limits::MAX_SECTION_TEXT);
            assert!(
                !t.ends_with('&') && !t.ends_with("&am"),
                "cut inside an entity"
            );
            joined.push_str(t);
        }
        assert_eq!(joined.matches("&amp;").count(), 2000);
        assert!(r.text.chars().count() <= limits::MAX_FALLBACK_TEXT);
    }

    #[test]
    fn unbreakable_text_is_not_cut_inside_an_entity() {
        let text = "&".repeat(5000);
        let r = render(&RichMessage::text(text));
        for b in &r.blocks {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= limits::MAX_SECTION_TEXT);
            assert_eq!(t.len() % 5, 0, "every piece holds whole &amp; entities");
        }
    }

    #[test]
    fn template_links_with_spaces_are_never_cut_inside() {
        // A template's mrkdwn: links whose labels have spaces, entities,
        // and a mention, repeated past a section's 3000 characters.
        let unit = "See <https://example.com/tasks/42?a=1&amp;b=2|the open task list for today> \
                    &amp; ask <@U123> about it. ";
        let text = unit.repeat(3 * limits::MAX_SECTION_TEXT / unit.len() + 2);
        let r = from_template(&text, None, &[]);
        assert!(r.blocks.len() >= 3, "{}", r.blocks.len());
        let mut joined = String::new();
        for b in &r.blocks {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= limits::MAX_SECTION_TEXT);
            assert_eq!(t.matches('<').count(), t.matches('>').count(), "{t}");
            assert!(
                safe_cuts(&t.chars().collect::<Vec<_>>()).last() == Some(&true),
                "{t}"
            );
            joined.push_str(t);
            joined.push(' ');
        }
        // Only the break characters at the cuts are gone.
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(squash(&joined), squash(&text));
    }

    #[test]
    fn cuts_fall_back_to_the_last_safe_place() {
        let w: Vec<char> = "aaaa <http://x|b c d e f g".chars().collect();
        // The spaces inside the unclosed link are not cut points.
        assert_eq!(best_cut(&w), Some(5));
        let w: Vec<char> = "bbbbbbbbbb&amp".chars().collect();
        assert_eq!(best_cut(&w), Some(10));
        // A lone `&` that never ends is not an entity.
        let w: Vec<char> = "R&D is where it happens every single day".chars().collect();
        assert_eq!(best_cut(&w), Some(37));
        // A token over the whole window cannot be kept whole.
        let w: Vec<char> = "<https://example.com/very/long".chars().collect();
        assert_eq!(best_cut(&w), None);
    }

    #[test]
    fn too_many_blocks_are_cut_but_buttons_stay() {
        let template: Vec<Value> = (0..80)
            .map(|i| json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("row {i}")}}))
            .collect();
        let button = Button {
            label: "Ok".into(),
            token: "t".into(),
            style: ButtonStyle::Default,
        };
        let blocks = serde_json::to_string(&template).unwrap();
        let r = from_template("x", Some(&blocks), &[button]);
        assert_eq!(r.blocks.len(), limits::MAX_BLOCKS);
        assert_eq!(r.blocks.last().unwrap()["type"], "actions");
        assert!(serde_json::to_string(&r.blocks).unwrap().contains("cut"));
    }

    #[test]
    fn template_output_is_used_as_is() {
        let r = from_template("*Brief* for <@U1>", None, &[]);
        assert_eq!(r.text, "*Brief* for <@U1>");
        assert_eq!(r.blocks[0]["text"]["text"], "*Brief* for <@U1>");
        // Blocks that are not a JSON array of blocks: the mrkdwn is shown.
        let r = from_template("*Brief* &lt;raw&gt;", Some("not json"), &[]);
        assert_eq!(r.blocks[0]["text"]["text"], "*Brief* &lt;raw&gt;");
    }

    #[test]
    fn replies_say_who_sees_them() {
        let b = reply_body(&Reply::error("nope <!channel>"), None);
        assert_eq!(b["response_type"], "ephemeral");
        assert_eq!(b["text"], "nope &lt;!channel&gt;");
        let b = reply_body(&Reply::ok(RichMessage::text("done")), Some(false));
        assert_eq!(b["response_type"], "in_channel");
        assert_eq!(b["replace_original"], false);
    }
}
