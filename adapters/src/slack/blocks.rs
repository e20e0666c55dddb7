//! Block Kit's size limits on what the `slack.blocks.json` template made:
//! Slack refuses the whole message (`invalid_blocks`) when one section's
//! text is over 3,000 characters or a header's over 150. Free text in the
//! templates is already cut short (`trunc`), but how many lines a section
//! holds depends on the data (every agent over budget, every project, the
//! list limit), so long sections are split here into several, at line
//! breaks. The adapter keeps the 50-block limit (it knows how many button
//! blocks it adds).

use serde_json::Value;

/// Most characters in a section's text.
pub const MAX_SECTION_TEXT: usize = 3000;
/// Most characters in a header's plain text.
pub const MAX_HEADER_TEXT: usize = 150;

/// `blocks` with every over-long section split and every over-long header cut.
pub fn fit(blocks: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(blocks.len());
    for mut block in blocks {
        match block["type"].as_str() {
            Some("section") => {
                let Some(text) = block["text"]["text"].as_str().map(str::to_string) else {
                    out.push(block);
                    continue;
                };
                if text.chars().count() <= MAX_SECTION_TEXT {
                    out.push(block);
                    continue;
                }
                for chunk in split(&text, MAX_SECTION_TEXT) {
                    let mut part = block.clone();
                    part["text"]["text"] = Value::String(chunk);
                    out.push(part);
                }
            }
            Some("header") => {
                if let Some(text) = block["text"]["text"].as_str()
                    && text.chars().count() > MAX_HEADER_TEXT
                {
                    // plain_text: no entities to keep whole.
                    let mut cut: String = text.chars().take(MAX_HEADER_TEXT - 1).collect();
                    cut.push('…');
                    block["text"]["text"] = Value::String(cut);
                }
                out.push(block);
            }
            _ => out.push(block),
        }
    }
    out
}

/// `text` in pieces of at most `max` characters, cut at line breaks; a
/// single line longer than `max` is cut before an `&…;` entity it would
/// otherwise split.
fn split(text: &str, max: usize) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0usize;
    for line in text.split('\n') {
        let mut line = line.to_string();
        loop {
            let len = line.chars().count();
            let sep = usize::from(current_len > 0);
            if current_len + sep + len <= max {
                if sep == 1 {
                    current.push('\n');
                }
                current.push_str(&line);
                current_len += sep + len;
                break;
            }
            if current_len > 0 {
                pieces.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            // One line alone is too long: cut it.
            let at = cut_point(&line, max);
            let rest = line.split_off(at);
            pieces.push(line);
            line = rest;
        }
    }
    if !current.trim().is_empty() {
        pieces.push(current);
    }
    pieces.retain(|p| !p.trim().is_empty());
    pieces
}

/// A byte index to cut `line` at: at most `max` characters before it, and
/// not inside an entity (`&amp;` and the like are at most 10 characters).
fn cut_point(line: &str, max: usize) -> usize {
    let at = line.char_indices().nth(max).map_or(line.len(), |(i, _)| i);
    let head = &line[..at];
    match head.rfind('&') {
        Some(amp) if at - amp <= 10 && !head[amp..].contains(';') && amp > 0 => amp,
        _ => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_sections_split_at_lines_and_headers_are_cut() {
        let line = format!("• {}", "x".repeat(1000));
        let text = [line.as_str(); 7].join("\n");
        let blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(400)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        ];
        let out = fit(blocks);
        assert_eq!(
            out[0]["text"]["text"].as_str().unwrap().chars().count(),
            150
        );
        let sections: Vec<&str> = out[1..]
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(sections.len(), 4, "two 1,002-character lines per section");
        assert!(sections.iter().all(|s| s.chars().count() <= 3000));
        assert_eq!(sections.join("\n"), text);
    }

    #[test]
    fn a_single_long_line_is_cut_outside_entities() {
        // One character first, so a cut at 3,000 would land inside one.
        let text = format!("x{}", "&amp;".repeat(1000));
        let pieces = split(&text, 3000);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces.concat(), text);
        for p in &pieces {
            assert!(p.chars().count() <= 3000);
            assert!(p.ends_with(';'), "{p}");
        }
        assert!(pieces[1].starts_with("&amp;"));
    }
}
