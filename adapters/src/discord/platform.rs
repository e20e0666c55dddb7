//! Discord as the hub starts it: the outbound adapter for the dispatcher,
//! the slash commands registered from the hub's command catalogue (see
//! `register`), the Interactions Endpoint on the hub's HTTP server (see
//! `listen`), and with `gateway = true` the Gateway for replies (see
//! `gateway`).

use super::command_list::discord_application_commands;
use super::gateway::Gateway;
use super::inbound::SignatureCheck;
use super::listen::{BODY_LIMIT, Endpoint, Listener};
use super::register::register;
use super::{DiscordAdapter, DiscordConfig};
use crate::platform::{HubLink, Platform, PlatformError, Started, WebhookRoute};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub struct DiscordPlatform(pub DiscordConfig);

impl DiscordPlatform {
    /// The interactions' signature key, checked.
    fn signature_check(&self) -> Result<SignatureCheck, PlatformError> {
        SignatureCheck::new(&self.0.public_key)
            .map_err(|e| PlatformError::new("discord: adapters.discord.public_key", e))
    }
}

#[async_trait]
impl Platform for DiscordPlatform {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn enabled(&self) -> bool {
        self.0.enabled
    }

    fn webhook_paths(&self) -> Vec<(&'static str, String)> {
        vec![(
            "adapters.discord.interactions_path",
            self.0.interactions_path.clone(),
        )]
    }

    fn check(&self) -> Result<(), PlatformError> {
        DiscordAdapter::new(&self.0).map_err(|e| PlatformError::new("discord", e))?;
        self.signature_check()?;
        Ok(())
    }

    /// A wrong setting fails the start at once. The slash commands are
    /// registered while the HTTP API already listens: Discord refusing them
    /// (401 for a wrong token) fails the start; an outage (network, 5xx,
    /// 429) does not, and the registration is retried in the background
    /// until it is done.
    async fn start(
        &self,
        hub: &HubLink,
        stop: watch::Receiver<bool>,
    ) -> Result<Started, PlatformError> {
        let config = &self.0;
        let adapter = Arc::new(
            DiscordAdapter::new(config)
                .map_err(|e| PlatformError::new("discord", e))?
                .with_templates(hub.templates.clone()),
        );
        if let Some(slots) = hub.slots.clone() {
            adapter.share_pace(slots);
        }
        let check = self.signature_check()?;
        let mut started = Started::new(adapter.clone());
        let (verdict_tx, verdict) = oneshot::channel();
        let list = discord_application_commands(&hub.catalogue);
        started.tasks.push(tokio::spawn(register(
            adapter.clone(),
            list,
            verdict_tx,
            stop.clone(),
        )));
        started.checks.push(Box::pin(async move {
            match verdict.await {
                Ok(Err(e)) => Err(PlatformError::new("discord", e)),
                Ok(Ok(())) | Err(_) => Ok(()),
            }
        }));
        if config.gateway {
            let gateway = Arc::new(Gateway {
                inbox: hub.inbox.clone(),
                adapter: adapter.clone(),
                config: config.clone(),
            });
            let gateway_stop = stop.clone();
            started.tasks.push(tokio::spawn(async move {
                if let Err(e) = gateway.listen(gateway_stop).await {
                    tracing::error!(error = %e, "discord: the Gateway listener stopped");
                }
            }));
        }
        let listener = Arc::new(Listener {
            inbox: hub.inbox.clone(),
            adapter,
            check,
            deadline: Duration::from_millis(config.ack_deadline_ms),
        });
        started.routes.push(WebhookRoute {
            key: "adapters.discord.interactions_path",
            path: config.interactions_path.clone(),
            body_limit: Some(BODY_LIMIT),
            handler: Arc::new(Endpoint(listener)),
        });
        tracing::info!(endpoint = %config.interactions_path, "discord adapter started");
        Ok(started)
    }
}
