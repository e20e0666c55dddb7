//! RichMessage → Block Kit blocks plus the plain-text `text` fallback.
//! Every piece of person or agent text becomes [`Mrkdwn`] only through
//! [`Mrkdwn::escape`], so it can never produce `<!channel>`, `<@U…>` or a
//! disguised `<http://x|link>`: Slack reads `&`, `<` and `>` as control
//! characters and nothing else. Only template output that was escaped for
//! Slack when it was rendered (`formats::SLACK_MRKDWN`, `SLACK_BLOCKS`) is
//! taken as is.

use super::limits;
use commands::message::formats;
use commands::{ButtonStyle, Reply, RichMessage, Visibility};
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

    /// Text a template already escaped for Slack (`formats::SLACK_MRKDWN`).
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
/// second half, else the last space, else before any unfinished `&...;` or
/// `<...>` at the end.
fn best_cut(window: &[char]) -> Option<usize> {
    let half = window.len() / 2;
    if let Some(i) = window
        .iter()
        .rposition(|&c| c == '\n')
        .filter(|&i| i >= half)
    {
        return Some(i + 1);
    }
    if let Some(i) = window
        .iter()
        .rposition(|&c| c == ' ')
        .filter(|&i| i >= half)
    {
        return Some(i + 1);
    }
    let open_amp = window.iter().rposition(|&c| c == '&');
    let close_amp = window.iter().rposition(|&c| c == ';');
    let open_lt = window.iter().rposition(|&c| c == '<');
    let close_gt = window.iter().rposition(|&c| c == '>');
    let mut cut = window.len();
    if let Some(a) = open_amp
        && close_amp.is_none_or(|s| s < a)
    {
        cut = cut.min(a);
    }
    if let Some(a) = open_lt
        && close_gt.is_none_or(|s| s < a)
    {
        cut = cut.min(a);
    }
    (cut > 0).then_some(cut)
}

/// What goes into chat.postMessage / chat.update / a response_url post.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The plain-text fallback (notifications, screen readers), escaped.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// Render a message into Block Kit blocks and a fallback text.
pub fn render(message: &RichMessage) -> Rendered {
    let text = fallback_text(message);
    let mut blocks = match message
        .preformatted(formats::SLACK_BLOCKS)
        .and_then(template_blocks)
    {
        Some(b) => b,
        None => match message.preformatted(formats::SLACK_MRKDWN) {
            Some(m) => text_sections(&Mrkdwn::trusted(m)),
            None => structured_blocks(message),
        },
    };
    let actions = actions_blocks(message);
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
pub fn reply_body(reply: &Reply, replace_original: Option<bool>) -> Value {
    let r = render(&reply.message);
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

fn fallback_text(message: &RichMessage) -> String {
    let escaped = match message.preformatted(formats::SLACK_MRKDWN) {
        Some(m) => Mrkdwn::trusted(m),
        None => Mrkdwn::escape(&message.plain_text()),
    };
    match escaped.chunks(limits::MAX_FALLBACK_TEXT).into_iter().next() {
        Some(first) => first.0,
        // Slack refuses a message with neither text nor blocks (`no_text`).
        None => " ".into(),
    }
}

/// Blocks a template produced: a JSON array of objects, else ignored (and
/// the structured rendering is used instead).
fn template_blocks(json: &str) -> Option<Vec<Value>> {
    match serde_json::from_str::<Vec<Value>>(json) {
        Ok(blocks) if blocks.iter().all(Value::is_object) => Some(blocks),
        _ => {
            tracing::warn!(
                "slack_blocks in a message is not a JSON array of blocks; rendering its fields instead"
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
fn actions_blocks(m: &RichMessage) -> Vec<Value> {
    m.buttons
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
    use commands::Button;

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
    fn too_many_blocks_are_cut_but_buttons_stay() {
        let template: Vec<Value> = (0..80)
            .map(|i| json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("row {i}")}}))
            .collect();
        let m = RichMessage::text("x")
            .with_preformatted(
                formats::SLACK_BLOCKS,
                serde_json::to_string(&template).unwrap(),
            )
            .with_button(Button {
                label: "Ok".into(),
                token: "t".into(),
                style: ButtonStyle::Default,
            });
        let r = render(&m);
        assert_eq!(r.blocks.len(), limits::MAX_BLOCKS);
        assert_eq!(r.blocks.last().unwrap()["type"], "actions");
        assert!(serde_json::to_string(&r.blocks).unwrap().contains("cut"));
    }

    #[test]
    fn template_output_is_used_as_is() {
        let m = RichMessage::text("<raw>")
            .with_preformatted(formats::SLACK_MRKDWN, "*Brief* for <@U1>");
        let r = render(&m);
        assert_eq!(r.text, "*Brief* for <@U1>");
        assert_eq!(r.blocks[0]["text"]["text"], "*Brief* for <@U1>");
        // A broken blocks template falls back to the structured rendering.
        let m = RichMessage::text("<raw>").with_preformatted(formats::SLACK_BLOCKS, "not json");
        let r = render(&m);
        assert_eq!(r.blocks[0]["text"]["text"], "&lt;raw&gt;");
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
