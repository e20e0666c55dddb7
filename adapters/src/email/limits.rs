//! Email's own limits. There is no body limit worth enforcing here (servers
//! take megabytes), but a Subject is one header line: RFC 5322 caps a line at
//! 998 bytes and mail clients show far less, so it is kept short and on one line.

/// Characters of Subject kept before it is cut with "…".
pub const SUBJECT_MAX_CHARS: usize = 150;

/// The Subject for a message: its title, else the first line of its text.
/// Line breaks and other control characters are dropped — a header must
/// stay one line, whatever an agent put in the title.
pub fn subject(title: Option<&str>, text: &str) -> String {
    let raw = title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| text.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed.is_empty() {
        return "orkhub".to_string();
    }
    if trimmed.chars().count() <= SUBJECT_MAX_CHARS {
        return trimmed;
    }
    let mut cut: String = trimmed.chars().take(SUBJECT_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_one_short_line() {
        assert_eq!(subject(Some("Deploy\r\nBcc: x@y"), ""), "Deploy Bcc: x@y");
        assert_eq!(subject(None, "\n  first line\nsecond"), "first line");
        assert_eq!(subject(Some("  "), ""), "orkhub");
        let long = "x".repeat(500);
        let s = subject(Some(&long), "");
        assert_eq!(s.chars().count(), SUBJECT_MAX_CHARS);
        assert!(s.ends_with('…'));
    }
}
