//! One escape function per output format: whatever a person or an agent
//! wrote (task titles, decision context, failure reasons, the LLM's text)
//! must come out as literal text in that format, never as markup.

/// HTML entities, for Telegram's HTML parse mode and email HTML. Telegram
/// accepts `&lt; &gt; &amp; &quot;` and numeric entities.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Slack mrkdwn: only `& < >` are control characters (`<!channel>`,
/// `<@U123>` and links all start with `<`), escaped as HTML entities.
pub fn mrkdwn(s: &str) -> String {
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

/// Slack mrkdwn inside a JSON string (the Block Kit template).
pub fn mrkdwn_json(s: &str) -> String {
    let quoted = serde_json::Value::String(mrkdwn(s)).to_string();
    // Drop the surrounding quotes: the template supplies them.
    quoted[1..quoted.len() - 1].to_string()
}

/// Discord markdown: backslash before every formatting character, and a
/// zero-width space that breaks `@everyone` / `@here` mass mentions (the
/// adapter also sends with mentions disabled; this keeps the text inert
/// wherever it is pasted).
pub fn discord(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '<'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out.replace("@everyone", "@\u{200B}everyone")
        .replace("@here", "@\u{200B}here")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_neutralises_its_markup() {
        let hostile = "<b>x</b> & *_~ <!channel> @everyone";
        assert_eq!(
            html(hostile),
            "&lt;b&gt;x&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone"
        );
        assert_eq!(
            mrkdwn(hostile),
            "&lt;b&gt;x&lt;/b&gt; &amp; *_~ &lt;!channel&gt; @everyone"
        );
        assert_eq!(
            discord(hostile),
            "\\<b\\>x\\</b\\> & \\*\\_\\~ \\<!channel\\> @\u{200B}everyone"
        );
        assert_eq!(mrkdwn_json("a\"b\n<"), "a\\\"b\\n&lt;");
    }
}
