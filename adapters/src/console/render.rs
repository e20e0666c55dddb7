//! One printable line per delivery. Control characters in agent text are
//! replaced so nobody can rewrite the operator's terminal.

use neutral::RichMessage;

pub fn line(address: &str, id: &str, message: &RichMessage, edited: bool) -> String {
    let verb = if edited { "edit" } else { "deliver" };
    let text = message.plain_text().replace('\n', " | ");
    format!(
        "[console] {verb} #{id} to {}: {}",
        clean(address),
        clean(&text)
    )
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        let m = RichMessage::titled("t", "red \u{1b}[31m text");
        let l = line("alice", "1", &m, false);
        assert!(!l.contains('\u{1b}'), "{l}");
        assert!(l.starts_with("[console] deliver #1 to alice: t | red"));
    }
}
