//! Telegram's `setMyCommands` list, from the hub's command catalogue.

use neutral::CommandInfo;

/// Telegram's limit for a command's description.
const DESCRIPTION_MAX: usize = 256;

/// `setMyCommands` entries: top-level names only (Telegram has no
/// subcommands), lowercase, ≤ 32 characters, descriptions ≤ 256.
pub fn telegram_commands(catalogue: &[CommandInfo]) -> Vec<(String, String)> {
    catalogue
        .iter()
        .map(|c| {
            let description: String = c.summary.chars().take(DESCRIPTION_MAX).collect();
            (c.name.clone(), description)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn valid_name(s: &str) -> bool {
        !s.is_empty()
            && s.chars().count() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }

    #[test]
    fn telegram_list_fits_limits() {
        let list = telegram_commands(&commands::catalogue());
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "task",
                "decisions",
                "approve",
                "deny",
                "answer",
                "brief",
                "cost",
                "whoami",
                "login",
                "help"
            ]
        );
        for (name, desc) in &list {
            assert!(valid_name(name) && !name.contains('-'), "{name}");
            assert!(!desc.is_empty() && desc.chars().count() <= 256, "{desc}");
        }
    }
}
