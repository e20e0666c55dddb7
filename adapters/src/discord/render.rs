//! RichMessage → Discord messages (content in Discord markdown, buttons as
//! message components) and command replies → interaction responses.
//!
//! Text is never pasted into markdown: a message becomes runs of raw text
//! with a style, each character is escaped on its own (`\*`, `\<`, …, and a
//! zero-width space after the `@` of `@everyone`/`@here`), and parts are cut
//! between escaped characters, with every style closed in the part that
//! opened it. So nobody's text can add formatting, mentions or masked links,
//! and a split can never separate a backslash from what it escapes. Every
//! message also goes out with mentions disabled (`allowed_mentions`), so even
//! a template cannot ping anyone.
//!
//! A message carrying a document is rendered here when it is sent: a brief
//! from this adapter's template (`discord/brief.md.hbs`), a digest from its
//! neutral message.

use super::limits::{
    EPHEMERAL, MAX_BUTTON_LABEL, MAX_BUTTONS_PER_ROW, MAX_CONTENT_CHARS, MAX_CUSTOM_ID, MAX_ROWS,
};
use crate::template::{Mode, TemplateError, Templates};
use neutral::{ButtonStyle, Document, Reply, RichMessage, Visibility};
use serde_json::{Value, json};
use serenity::all::{
    ButtonStyle as DiscordButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton,
    CreateInteractionResponse, CreateInteractionResponseMessage,
};

/// Why a message cannot be rendered for Discord.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the message has no text to send (Discord refuses empty messages)")]
    Empty,
    #[error(
        "button {label:?}: its token is {len} characters, over Discord's {MAX_CUSTOM_ID}-character custom_id limit"
    )]
    CustomIdTooLong { label: String, len: usize },
    #[error("button {label:?}: its token is empty")]
    CustomIdEmpty { label: String },
    #[error("{0} buttons: Discord shows at most {max} on a message", max = MAX_BUTTONS_PER_ROW * MAX_ROWS)]
    TooManyButtons(usize),
    /// Even the built-in template failed (an edited one that fails gives
    /// way to it): a fault in the hub's own template, not in the message.
    #[error("rendering the brief for Discord: {0}")]
    Template(#[from] TemplateError),
}

/// A message ready to send: its content in parts (each within Discord's
/// limit, in order) and the buttons, which go on the last part.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub parts: Vec<String>,
    pub components: Vec<CreateActionRow>,
}

/// Mentions off: nothing in a message can ping a user, a role or everyone.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// Escape text for Discord markdown. Discord takes a backslash before any
/// punctuation as "this character, literally", so every character that
/// starts formatting, a mention, a masked link, a heading, a quote or a
/// list is escaped.
pub fn escape(s: &str) -> String {
    tokens(s).concat()
}

/// Each character of `s` as its escaped form: the units a split may not cut.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        let token = match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']' | '(' | ')' | '-' => {
                format!("\\{c}")
            }
            // Mass mentions stay inert wherever the text is pasted.
            '@' if s[i + 1..].starts_with("everyone") || s[i + 1..].starts_with("here") => {
                "@\u{200B}".to_string()
            }
            c => c.to_string(),
        };
        out.push(token);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Italic,
}

impl Style {
    fn marker(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "**",
            Style::Italic => "*",
        }
    }
}

/// Raw (unescaped) text with one style.
struct Run {
    style: Style,
    text: String,
}

fn run(style: Style, text: impl Into<String>) -> Run {
    Run {
        style,
        text: text.into(),
    }
}

/// Render `message`: a brief from its template in `templates` (an edited
/// template that fails gives way to the built-in one), else the title in
/// bold, the text, a line per field and the footer in italics.
pub fn render(message: &RichMessage, templates: &Templates) -> Result<Rendered, RenderError> {
    render_with_limit(message, templates, MAX_CONTENT_CHARS)
}

pub(crate) fn render_with_limit(
    message: &RichMessage,
    templates: &Templates,
    limit: usize,
) -> Result<Rendered, RenderError> {
    let parts = match &message.document {
        Some(Document::Brief(brief)) => {
            split_markdown(&super::brief::render(templates, brief, Mode::Send)?, limit)
        }
        Some(Document::Digest(digest)) => split(&runs(&digest.message()), limit),
        None => split(&runs(message), limit),
    };
    if parts.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(Rendered {
        parts,
        components: buttons(message)?,
    })
}

fn runs(m: &RichMessage) -> Vec<Run> {
    let mut blocks: Vec<Vec<Run>> = Vec::new();
    if let Some(t) = m.title.as_deref().filter(|t| !t.trim().is_empty()) {
        blocks.push(vec![run(Style::Bold, t)]);
    }
    if !m.text.trim().is_empty() {
        blocks.push(vec![run(Style::Plain, m.text.clone())]);
    }
    if !m.fields.is_empty() {
        let mut lines = Vec::new();
        for (i, f) in m.fields.iter().enumerate() {
            if i > 0 {
                lines.push(run(Style::Plain, "\n"));
            }
            lines.push(run(Style::Bold, format!("{}:", f.name)));
            lines.push(run(Style::Plain, format!(" {}", f.value)));
        }
        blocks.push(lines);
    }
    if let Some(footer) = m.footer.as_deref().filter(|f| !f.trim().is_empty()) {
        blocks.push(vec![run(Style::Italic, format!("— {footer}"))]);
    }
    let mut out = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.push(run(Style::Plain, "\n\n"));
        }
        out.extend(block);
    }
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Cut runs into contents of at most `limit` characters. A run that does
/// not fit is cut between escaped characters, at the last line break or
/// space that fits when there is one.
fn split(runs: &[Run], limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0usize;
    for r in runs.iter().filter(|r| !r.text.is_empty()) {
        let marker = r.style.marker();
        let overhead = 2 * chars(marker);
        let all = tokens(&r.text);
        let mut rest: &[String] = &all;
        while !rest.is_empty() {
            let room = limit.saturating_sub(used + overhead);
            let (fit, _) = prefix_fitting(rest, room);
            let piece = if fit == rest.len() {
                fit
            } else {
                // Cut after a newline or space if one fits; in an empty part
                // only if it keeps at least half of what would fit.
                let at_break = rest[..fit]
                    .iter()
                    .rposition(|t| t == "\n" || t == " ")
                    .map(|i| i + 1);
                match at_break {
                    Some(b) if used > 0 || b * 2 >= fit => b,
                    _ if used > 0 => 0,
                    _ => fit,
                }
            };
            if piece == 0 {
                if used == 0 {
                    // Not one character fits beside the style's markers
                    // (an absurdly small limit): send some unstyled.
                    let n = prefix_fitting(rest, limit).0.max(1);
                    current.push_str(&rest[..n].concat());
                    rest = &rest[n..];
                }
                // Otherwise nothing of this run fits well here: start a new part.
                parts.push(std::mem::take(&mut current));
                used = 0;
                continue;
            }
            let text = rest[..piece].concat();
            push_styled(&mut current, marker, &text);
            used += chars(&text) + overhead;
            rest = &rest[piece..];
            if !rest.is_empty() {
                parts.push(std::mem::take(&mut current));
                used = 0;
            }
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// How many tokens fit in `room` characters, and their length.
fn prefix_fitting(tokens: &[String], room: usize) -> (usize, usize) {
    let mut len = 0;
    for (i, t) in tokens.iter().enumerate() {
        let l = chars(t);
        if len + l > room {
            return (i, len);
        }
        len += l;
    }
    (tokens.len(), len)
}

/// `text` wrapped in `marker`s. Markdown does not style a span that begins
/// or ends in whitespace, so the markers go around the visible middle.
fn push_styled(out: &mut String, marker: &str, text: &str) {
    if marker.is_empty() {
        out.push_str(text);
        return;
    }
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len();
    if start >= end {
        out.push_str(text);
        return;
    }
    out.push_str(&text[..start]);
    out.push_str(marker);
    out.push_str(&text[start..end]);
    out.push_str(marker);
    out.push_str(&text[end..]);
}

/// A template's markdown (every value already escaped) split at line
/// breaks; a line longer than the limit is cut between characters, never
/// right after a backslash (which would escape the next part's first
/// character instead).
fn split_markdown(markdown: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(2);
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in markdown.split_inclusive('\n') {
        if chars(&current) + chars(line) <= limit {
            current.push_str(line);
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        let mut rest = line;
        while chars(rest) > limit {
            let mut cut = rest
                .char_indices()
                .nth(limit)
                .map_or(rest.len(), |(i, _)| i);
            while cut > 1 && rest[..cut].ends_with('\\') {
                cut -= 1;
            }
            parts.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        current.push_str(rest);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// The message's buttons as action rows of up to five.
pub fn buttons(message: &RichMessage) -> Result<Vec<CreateActionRow>, RenderError> {
    if message.buttons.len() > MAX_BUTTONS_PER_ROW * MAX_ROWS {
        return Err(RenderError::TooManyButtons(message.buttons.len()));
    }
    let mut made = Vec::with_capacity(message.buttons.len());
    for b in &message.buttons {
        let len = chars(&b.token);
        if len == 0 {
            return Err(RenderError::CustomIdEmpty {
                label: b.label.clone(),
            });
        }
        if len > MAX_CUSTOM_ID {
            return Err(RenderError::CustomIdTooLong {
                label: b.label.clone(),
                len,
            });
        }
        let style = match b.style {
            ButtonStyle::Default => DiscordButtonStyle::Secondary,
            ButtonStyle::Primary => DiscordButtonStyle::Success,
            ButtonStyle::Danger => DiscordButtonStyle::Danger,
        };
        let label: String = b.label.chars().take(MAX_BUTTON_LABEL).collect();
        made.push(CreateButton::new(b.token.clone()).label(label).style(style));
    }
    Ok(made
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect())
}

/// A command's reply as the interaction's immediate response, and any
/// further parts, which go out as follow-up messages.
pub fn reply_response(
    reply: &Reply,
    templates: &Templates,
) -> (CreateInteractionResponse, Vec<String>) {
    let (first, rest) = reply_message(reply, templates);
    (CreateInteractionResponse::Message(first), rest)
}

/// The first part of a reply, which answers the interaction itself.
#[derive(Debug, Clone)]
pub struct FirstPart {
    pub content: String,
    pub components: Vec<CreateActionRow>,
}

/// A reply split for an interaction: the first part (with the buttons, so
/// they show with the answer) and the parts that follow it.
pub fn reply_parts(reply: &Reply, templates: &Templates) -> (FirstPart, Vec<String>) {
    let rendered = render(&reply.message, templates).unwrap_or_else(|e| Rendered {
        parts: vec![escape(&e.to_string())],
        components: Vec::new(),
    });
    let mut parts = rendered.parts.into_iter();
    let first = FirstPart {
        content: parts.next().unwrap_or_default(),
        components: rendered.components,
    };
    (first, parts.collect())
}

/// The reply's first part as an interaction message, and the other parts.
pub fn reply_message(
    reply: &Reply,
    templates: &Templates,
) -> (CreateInteractionResponseMessage, Vec<String>) {
    let (first, rest) = reply_parts(reply, templates);
    let message = CreateInteractionResponseMessage::new()
        .content(first.content)
        .components(first.components)
        .allowed_mentions(no_mentions())
        .ephemeral(is_ephemeral(reply));
    (message, rest)
}

pub fn is_ephemeral(reply: &Reply) -> bool {
    reply.is_error || reply.visibility == Visibility::Ephemeral
}

/// The pressed message replaced by `message` (type 7, UPDATE_MESSAGE):
/// its first part, and no buttons unless `message` has some.
pub fn update_response(message: &RichMessage, templates: &Templates) -> CreateInteractionResponse {
    let rendered = render(message, templates).unwrap_or_else(|e| Rendered {
        parts: vec![escape(&e.to_string())],
        components: Vec::new(),
    });
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(rendered.parts.into_iter().next().unwrap_or_default())
            .components(rendered.components)
            .allowed_mentions(no_mentions()),
    )
}

/// Deferred answers (Discord shows "thinking…"; the result is edited in):
/// type 5 for a command, type 6 for a button press.
pub fn deferred_command(ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral))
}

pub fn deferred_update() -> CreateInteractionResponse {
    CreateInteractionResponse::Acknowledge
}

/// PING (type 1) is answered with PONG.
pub fn pong() -> Value {
    json!({ "type": 1 })
}

/// An interaction response as the JSON body of the endpoint's answer.
pub fn body(response: &CreateInteractionResponse) -> Value {
    serde_json::to_value(response).unwrap_or_else(
        |_| json!({"type": 4, "data": {"content": "Something went wrong.", "flags": EPHEMERAL}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutral::Button;
    use test_servers::discord_server::shown;

    fn render(m: &RichMessage) -> Result<Rendered, RenderError> {
        super::render(m, &Templates::default())
    }

    fn render_with_limit(m: &RichMessage, limit: usize) -> Result<Rendered, RenderError> {
        super::render_with_limit(m, &Templates::default(), limit)
    }

    fn reply_response(reply: &Reply) -> (CreateInteractionResponse, Vec<String>) {
        super::reply_response(reply, &Templates::default())
    }

    /// The markdown with every escaped character removed: what is left is
    /// what Discord could read as markup.
    fn bare(md: &str) -> String {
        let mut out = String::new();
        let mut chars = md.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                chars.next();
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn hostile_text_is_inert() {
        let hostile = "**bold** _x_ <@123> <@&9> @everyone @here [click](https://evil) # H\n> quote `code` ||spoiler|| \\";
        let e = escape(hostile);
        let left = bare(&e);
        for bad in [
            "*",
            "_",
            "<",
            "[",
            "(",
            "|",
            "`",
            ">",
            "#",
            "@everyone",
            "@here",
        ] {
            assert!(!left.contains(bad), "{bad} left in {e}");
        }
        assert_eq!(shown(&e), hostile, "everything shows as typed");
    }

    #[test]
    fn title_fields_and_footer_are_styled_around_escaped_text() {
        let m = RichMessage::titled("Deploy *failed*", "prod <down>")
            .with_field("Env", "p_r_o_d")
            .with_footer("by @here");
        let r = render(&m).unwrap();
        assert_eq!(
            r.parts,
            [
                "**Deploy \\*failed\\***\n\nprod \\<down\\>\n\n**Env:** p\\_r\\_o\\_d\n\n*— by @\u{200B}here*"
            ]
        );
    }

    #[test]
    fn long_text_splits_between_escaped_characters_within_the_limit() {
        let text: String = "a*b<c\\d ".repeat(400); // 3200 characters, 1600 escapes
        let m = RichMessage::titled("Log", text.clone());
        let r = render(&m).unwrap();
        assert!(r.parts.len() >= 3, "{} parts", r.parts.len());
        for p in &r.parts {
            assert!(chars(p) <= MAX_CONTENT_CHARS, "{}", chars(p));
            assert!(!p.ends_with('\\') || p.ends_with("\\\\"), "{p:?}");
        }
        let joined: String = r.parts.iter().map(|p| shown(p)).collect();
        assert_eq!(
            joined,
            format!("**Log**\n\n{text}"),
            "nothing lost or repeated"
        );
    }

    #[test]
    fn a_styled_run_cut_across_parts_is_closed_and_reopened() {
        let m = RichMessage::titled("x".repeat(30), "");
        let r = render_with_limit(&m, 12).unwrap();
        assert!(r.parts.len() >= 3);
        for p in &r.parts {
            assert!(p.starts_with("**") && p.ends_with("**"), "{p:?}");
            assert!(chars(p) <= 12);
        }
    }

    #[test]
    fn buttons_go_in_rows_of_five_and_tokens_are_checked() {
        let mut m = RichMessage::text("pick");
        for i in 0..7 {
            m = m.with_button(Button {
                label: format!("b{i}"),
                token: format!("t{i}"),
                style: ButtonStyle::Default,
            });
        }
        let rows = serde_json::to_value(render(&m).unwrap().components).unwrap();
        assert_eq!(rows.as_array().map(Vec::len), Some(2));
        assert_eq!(rows[0]["components"].as_array().map(Vec::len), Some(5));
        assert_eq!(rows[1]["components"][1]["custom_id"], "t6");
        let long = RichMessage::text("x").with_button(Button {
            label: "Approve".into(),
            token: "t".repeat(101),
            style: ButtonStyle::Primary,
        });
        assert!(matches!(
            render(&long),
            Err(RenderError::CustomIdTooLong { len: 101, .. })
        ));
    }

    #[test]
    fn templates_markdown_is_split_at_lines_and_never_after_a_backslash() {
        let md = format!(
            "**Brief**\n{}\n{}\\*end\n",
            "line\n".repeat(5),
            "y".repeat(19)
        );
        let parts = split_markdown(&md, 20);
        assert_eq!(parts.concat(), md);
        for p in &parts {
            assert!(chars(p) <= 20, "{p:?}");
            assert!(!p.ends_with('\\'), "{p:?}");
        }
    }

    #[test]
    fn replies_are_ephemeral_when_errors_and_never_mention() {
        let (response, rest) = reply_response(&Reply::error("no <@1>"));
        assert!(rest.is_empty());
        let v = body(&response);
        assert_eq!(v["type"], 4);
        assert_eq!(v["data"]["flags"], EPHEMERAL);
        assert_eq!(v["data"]["content"], "no \\<@1\\>");
        assert_eq!(v["data"]["allowed_mentions"]["parse"], json!([]));
        assert!(render(&RichMessage::default()).is_err());
    }
}
