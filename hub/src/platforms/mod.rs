//! Chat and email platforms wired into the hub: each contributes an outbound
//! adapter for the dispatcher, and may contribute inbound listeners (long
//! polling, Socket Mode) and webhook routes served by the hub's HTTP server.
//! Platform details stay in `adapters`; this module only connects them to
//! the hub's state (inbound commands, the store, the stop signal).

mod discord;
mod slack;

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

/// What the hub gives every platform at start: the inbox its listeners hand
/// commands and button presses to (claimed once, answered through the
/// outbox), and the send slots shared by every instance on PostgreSQL
/// (`None` on SQLite, where in-process pacing is exact).
pub struct Hub {
    pub inbox: Arc<dyn adapters::inbox::Inbox>,
    pub slots: Option<Arc<dyn adapters::shared_pace::SharedSlots>>,
}

impl Hub {
    pub fn new(inbox: Arc<crate::inbox::HubInbox>, store: &crate::store::Store) -> Hub {
        Hub {
            inbox,
            slots: send_slots::shared(store),
        }
    }
}

/// Start every enabled platform. A platform that is configured but cannot
/// start (bad token format, unreachable base URL at startup) fails the start
/// with an error naming it, rather than running half-configured.
pub async fn start(
    config: &Config,
    hub: &Hub,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Platforms> {
    // Before any route is built: axum panics on overlapping routes.
    paths::check(config)?;
    let mut platforms = Platforms::default();
    let a = &config.adapters;
    // One line per platform; each returns at once when it is not enabled.
    telegram::start(&a.telegram, hub, stop.clone(), &mut platforms).await?;
    slack::start(&a.slack, hub, stop.clone(), &mut platforms).await?;
    discord::start(&a.discord, hub, stop.clone(), &mut platforms).await?;
    email::start(&a.email, &mut platforms)?;
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
