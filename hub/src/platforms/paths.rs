//! The webhook paths the enabled platforms serve on the hub's HTTP server,
//! checked before any route is built: axum panics on a route that overlaps
//! another (a Slack `commands_path` of `/api/v1/notifications` took the
//! whole hub down at start), and on a path without a leading `/`.

use adapters::platform::Platform;

/// Paths the hub itself serves, or keeps for itself.
const HUB_PATHS: &[&str] = &["/healthz", "/metrics"];
const API_PREFIX: &str = "/api/";

/// Each path starts with `/`, is not the hub's own, and is used once.
pub fn check(enabled: &[Box<dyn Platform>]) -> anyhow::Result<()> {
    let paths: Vec<(&'static str, String)> =
        enabled.iter().flat_map(|p| p.webhook_paths()).collect();
    for (i, (key, path)) in paths.iter().enumerate() {
        if !path.starts_with('/') {
            anyhow::bail!("{key} = {path:?}: a path starts with \"/\", e.g. \"/{path}\"");
        }
        if HUB_PATHS.contains(&path.as_str()) || path.starts_with(API_PREFIX) || path == "/api" {
            anyhow::bail!(
                "{key} = {path:?}: /healthz, /metrics and everything under /api/ are the hub's own; choose another path"
            );
        }
        if let Some((other, _)) = paths[..i].iter().find(|(_, p)| p == path) {
            anyhow::bail!(
                "{key} = {path:?} is also {other}: each endpoint needs a path of its own"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use crate::config::Config;

    fn check(config: &Config) -> anyhow::Result<()> {
        let enabled: Vec<_> = super::super::platforms(config)
            .into_iter()
            .filter(|p| p.enabled())
            .collect();
        super::check(&enabled)
    }

    fn config(toml: &str) -> Config {
        Config::from_toml(toml).expect("config")
    }

    #[test]
    fn paths_that_would_overlap_are_refused_with_their_key() {
        let slack =
            "[adapters.slack]\nenabled = true\nbot_token = \"xoxb-1\"\nsigning_secret = \"s\"\n";
        let e = check(&config(&format!(
            "{slack}commands_path = \"/api/v1/notifications\"\n"
        )))
        .unwrap_err()
        .to_string();
        assert!(e.contains("adapters.slack.commands_path"), "{e}");
        let e = check(&config(&format!(
            "{slack}interactions_path = \"/healthz\"\n"
        )))
        .unwrap_err()
        .to_string();
        assert!(e.contains("adapters.slack.interactions_path"), "{e}");
        let e = check(&config(&format!(
            "{slack}interactions_path = \"/hooks\"\n[adapters.discord]\nenabled = true\ninteractions_path = \"/hooks\"\n"
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("adapters.discord.interactions_path")
                && e.contains("adapters.slack.interactions_path"),
            "{e}"
        );
        let e = check(&config(&format!("{slack}commands_path = \"slack\"\n")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("starts with"), "{e}");
        // The defaults, and a platform not serving HTTP (Socket Mode), pass.
        assert!(check(&config(slack)).is_ok());
        let socket = format!("{slack}mode = \"socket\"\ncommands_path = \"/metrics\"\n");
        assert!(check(&config(&socket)).is_ok());
    }
}
