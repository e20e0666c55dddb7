//! Discord settings (`[adapters.discord]`). Secrets can come from the
//! environment instead of the file: `ORKHUB_ADAPTERS__DISCORD__TOKEN`.
//! (The application's public key is not a secret: Discord shows it on the
//! app's General Information page so that anyone can verify its signatures.)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordConfig {
    pub enabled: bool,
    /// The bot token (Developer Portal → Bot). Sent as `Authorization: Bot …`.
    #[serde(serialize_with = "redact")]
    pub token: String,
    /// The application ID (General Information): slash commands are
    /// registered under it, and deferred replies are edited through it.
    pub application_id: String,
    /// The application's Ed25519 public key, 64 hex digits: every
    /// interaction Discord posts is signed with the matching private key.
    pub public_key: String,
    /// Register the slash commands in this guild only (they appear at once)
    /// instead of globally (which can take Discord up to an hour to show).
    pub guild_id: Option<String>,
    /// API base without a trailing slash: `https://discord.com`, a proxy, or
    /// a test server. Requests go to `{api_url}/api/v10/...`.
    pub api_url: String,
    /// Path of the Interactions Endpoint URL on the hub's HTTP server.
    pub interactions_path: String,
    /// Open the Gateway to read replies to the hub's messages (a reply to a
    /// question's message answers it). Needs the privileged Message Content
    /// Intent switched on for the bot (Developer Portal → Bot); off: answer
    /// on Discord with the buttons or `/answer`.
    pub gateway: bool,
    /// How long a command may run before Discord gets a deferred answer
    /// ("thinking…") and the result is edited in afterwards (Discord waits
    /// 3 s for the first answer).
    pub ack_deadline_ms: u64,
    /// Discord's per-channel message bucket: `channel_burst` messages per
    /// `channel_window_ms` (5 per 5 s), refilled all at once at the reset.
    /// Discord's `X-RateLimit-Remaining` / `Reset-After` answers take over
    /// once it has sent them.
    pub channel_burst: u32,
    pub channel_window_ms: u64,
    /// No longer used (the bucket refills at once, not one per interval);
    /// still read so that older config files load.
    #[serde(skip_serializing)]
    pub channel_interval_ms: Option<u64>,
    /// Requests per second across the bot (Discord's global limit is 50).
    pub global_per_second: u32,
    /// Timeout of one API call.
    pub request_timeout_ms: u64,
    /// A PEM bundle of CA certificates trusted for `api_url` besides the
    /// system's (a proxy with a private CA). Unset: `[tls] ca_file` applies.
    pub ca_file: Option<String>,
}

/// A setting that keeps the Discord adapter from starting; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DiscordConfigError(pub String);

/// Secrets never leave the process through a printed config; only whether
/// one is set shows.
fn redact<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if value.is_empty() { "" } else { "<redacted>" })
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            enabled: false,
            token: String::new(),
            application_id: String::new(),
            public_key: String::new(),
            guild_id: None,
            api_url: "https://discord.com".into(),
            interactions_path: "/discord/interactions".into(),
            gateway: false,
            ack_deadline_ms: 2_500,
            channel_burst: 5,
            channel_window_ms: 5_000,
            channel_interval_ms: None,
            global_per_second: 50,
            request_timeout_ms: 10_000,
            ca_file: None,
        }
    }
}

/// A Discord snowflake: a decimal u64 other than 0.
pub(crate) fn snowflake(s: &str) -> Option<u64> {
    s.trim().parse::<u64>().ok().filter(|n| *n != 0)
}

impl DiscordConfig {
    /// What is missing or wrong, naming the key, before anything starts.
    pub fn check(&self) -> Result<(), DiscordConfigError> {
        self.first_problem().map_err(DiscordConfigError)
    }

    fn first_problem(&self) -> Result<(), String> {
        if self.token.trim().is_empty() {
            return Err(
                "adapters.discord.token is empty (or set ORKHUB_ADAPTERS__DISCORD__TOKEN)".into(),
            );
        }
        if snowflake(&self.application_id).is_none() {
            return Err(format!(
                "adapters.discord.application_id = {:?}: expected the numeric application ID from the Developer Portal",
                self.application_id
            ));
        }
        if self.public_key.len() != 64 || !self.public_key.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "adapters.discord.public_key = {:?}: expected the application's public key, 64 hex digits",
                self.public_key
            ));
        }
        if let Some(g) = &self.guild_id
            && snowflake(g).is_none()
        {
            return Err(format!(
                "adapters.discord.guild_id = {g:?}: expected a numeric guild ID (or leave it out for global commands)"
            ));
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://"))
            || self.api_url.ends_with('/')
        {
            return Err(format!(
                "adapters.discord.api_url = {:?}: expected an http(s) URL without a trailing slash",
                self.api_url
            ));
        }
        if !self.interactions_path.starts_with('/') {
            return Err(format!(
                "adapters.discord.interactions_path = {:?}: must start with /",
                self.interactions_path
            ));
        }
        if self.ack_deadline_ms == 0 || self.ack_deadline_ms > 2_900 {
            return Err(format!(
                "adapters.discord.ack_deadline_ms = {}: must be 1 to 2900 (Discord gives up after 3000 ms)",
                self.ack_deadline_ms
            ));
        }
        if self.channel_burst == 0 || self.channel_window_ms == 0 || self.global_per_second == 0 {
            return Err("adapters.discord.channel_burst, channel_window_ms and global_per_second must be above 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> DiscordConfig {
        DiscordConfig {
            enabled: true,
            token: "bot-token".into(),
            application_id: "1100".into(),
            public_key: "ab".repeat(32),
            ..Default::default()
        }
    }

    #[test]
    fn printed_config_hides_the_token() {
        let json = serde_json::to_string(&ok()).unwrap();
        assert!(!json.contains("bot-token"), "{json}");
        assert!(json.contains("<redacted>"), "{json}");
    }

    #[test]
    fn problems_name_their_key() {
        assert!(ok().check().is_ok());
        let cases: [(DiscordConfig, &str); 6] = [
            (
                DiscordConfig {
                    token: " ".into(),
                    ..ok()
                },
                "token",
            ),
            (
                DiscordConfig {
                    application_id: "my-app".into(),
                    ..ok()
                },
                "application_id",
            ),
            (
                DiscordConfig {
                    public_key: "abc".into(),
                    ..ok()
                },
                "public_key",
            ),
            (
                DiscordConfig {
                    guild_id: Some("0".into()),
                    ..ok()
                },
                "guild_id",
            ),
            (
                DiscordConfig {
                    api_url: "https://discord.com/".into(),
                    ..ok()
                },
                "api_url",
            ),
            (
                DiscordConfig {
                    ack_deadline_ms: 3_000,
                    ..ok()
                },
                "ack_deadline_ms",
            ),
        ];
        for (config, key) in cases {
            let e = config.check().unwrap_err().0;
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
