//! Chat and email platforms wired into the hub: each contributes an outbound
//! adapter for the dispatcher, and may contribute inbound listeners (long
//! polling, Socket Mode) and webhook routes served by the hub's HTTP server.
//! Platform details stay in `adapters`; this module only connects them to
//! the hub's state (inbound commands, the store, the stop signal).

mod discord;
mod slack;

use crate::api::AppState;
use crate::config::Config;
use adapters::Adapter;
use axum::Router;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod email;
mod paths;
mod send_slots;
mod telegram;

/// What the configured platforms add to the hub.
#[derive(Default)]
pub struct Platforms {
    /// Outbound senders, handed to the dispatcher.
    pub adapters: Vec<Arc<dyn Adapter>>,
    /// Webhook endpoints, merged into the HTTP server's router.
    pub routes: Router,
    /// Long-lived listeners; each ends when `stop` turns true.
    pub tasks: Vec<JoinHandle<()>>,
    /// Start-up checks that ask the platforms (a token check, the first
    /// registration attempt). They run while the HTTP API already listens,
    /// so no platform call holds the API closed; each ends with the
    /// platform's first answer: Err when it refused the configuration (a
    /// wrong token), which fails the start; Ok when it accepted, or is only
    /// unreachable for now (then the platform retries in the background).
    pub checks: Vec<StartupCheck>,
}

/// See [`Platforms::checks`].
pub type StartupCheck = futures::future::BoxFuture<'static, anyhow::Result<()>>;

/// Start every enabled platform. A platform that is configured but cannot
/// start (bad token format, unreachable base URL at startup) fails the start
/// with an error naming it, rather than running half-configured.
pub async fn start(
    config: &Config,
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Platforms> {
    // Before any route is built: axum panics on overlapping routes.
    paths::check(config)?;
    let mut platforms = Platforms::default();
    // One line per platform; each returns at once when it is not enabled.
    telegram::start(
        &config.adapters.telegram,
        state,
        stop.clone(),
        &mut platforms,
    )
    .await?;
    if config.adapters.slack.enabled {
        slack::start(&config.adapters.slack, state, stop.clone(), &mut platforms).await?;
    }
    discord::start(
        &config.adapters.discord,
        state,
        stop.clone(),
        &mut platforms,
    )
    .await?;
    if config.adapters.email.enabled {
        email::start(&config.adapters.email, state, stop.clone(), &mut platforms).await?;
    }
    Ok(platforms)
}

/// Every check [`start`] makes before it connects anywhere, for `orkhub
/// check-config`: each enabled platform's settings, as its adapter is built
/// (tokens' shape, addresses, keys, TLS files), without a request sent.
pub fn check(config: &Config) -> anyhow::Result<()> {
    use anyhow::Context;
    paths::check(config)?;
    let a = &config.adapters;
    if a.telegram.enabled {
        adapters::telegram::TelegramAdapter::new(&a.telegram).context("telegram")?;
    }
    if a.slack.enabled {
        adapters::slack::SlackAdapter::new(&a.slack).context("slack")?;
    }
    if a.discord.enabled {
        adapters::discord::DiscordAdapter::new(&a.discord).context("discord")?;
        discord::check_public_key(&a.discord)?;
    }
    if a.email.enabled {
        adapters::email::EmailAdapter::from_config(&a.email).context("email")?;
    }
    Ok(())
}
