//! Slack as the hub starts it: the outbound adapter for the dispatcher, its
//! tokens checked with Slack while the hub's API already listens, and the
//! inbound side — the HTTP endpoints (`mode = "http"`) or a Socket Mode
//! listener (`mode = "socket"`), see `listen`.

use super::listen::{BODY_LIMIT, Endpoint, EndpointKind, Listener, serve_socket};
use super::{SlackAdapter, SlackConfig, SlackMode, TokenCheck, socket};
use crate::platform::{HubLink, Platform, PlatformError, Started, WebhookRoute};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

pub struct SlackPlatform(pub SlackConfig);

#[async_trait]
impl Platform for SlackPlatform {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn enabled(&self) -> bool {
        self.0.enabled
    }

    fn webhook_paths(&self) -> Vec<(&'static str, String)> {
        match self.0.mode {
            SlackMode::Http => vec![
                ("adapters.slack.commands_path", self.0.commands_path.clone()),
                (
                    "adapters.slack.interactions_path",
                    self.0.interactions_path.clone(),
                ),
                ("adapters.slack.events_path", self.0.events_path.clone()),
            ],
            SlackMode::Socket => Vec::new(),
        }
    }

    fn check(&self) -> Result<(), PlatformError> {
        SlackAdapter::new(&self.0).map_err(|e| PlatformError::new("slack", e))?;
        Ok(())
    }

    async fn start(
        &self,
        hub: &HubLink,
        stop: watch::Receiver<bool>,
    ) -> Result<Started, PlatformError> {
        let config = &self.0;
        let adapter = Arc::new(
            SlackAdapter::new(config)
                .map_err(|e| PlatformError::new("slack", e))?
                .with_templates(hub.templates.clone()),
        );
        if let Some(slots) = hub.slots.clone() {
            adapter.share_pace(slots);
        }
        let mut started = Started::new(adapter.clone());
        // A token Slack refuses fails the start, naming its key; an outage
        // only warns (sends retry through the outbox, Socket Mode keeps
        // reconnecting).
        let (checker, check_config) = (adapter.clone(), config.clone());
        started.checks.push(Box::pin(async move {
            match checker.check_tokens(&check_config).await {
                Ok(()) => Ok(()),
                Err(e @ TokenCheck::Refused { .. }) => Err(PlatformError::new("slack", e)),
                Err(e) => {
                    tracing::warn!(error = %e, "slack: starting anyway");
                    Ok(())
                }
            }
        }));
        let slack = Arc::new(Listener {
            inbox: hub.inbox.clone(),
            adapter,
            config: config.clone(),
        });
        match config.mode {
            SlackMode::Http => {
                started.routes.push(WebhookRoute {
                    key: "adapters.slack.commands_path",
                    path: config.commands_path.clone(),
                    body_limit: Some(BODY_LIMIT),
                    handler: Arc::new(Endpoint {
                        listener: slack.clone(),
                        kind: EndpointKind::Commands,
                    }),
                });
                started.routes.push(WebhookRoute {
                    key: "adapters.slack.interactions_path",
                    path: config.interactions_path.clone(),
                    body_limit: Some(BODY_LIMIT),
                    handler: Arc::new(Endpoint {
                        listener: slack.clone(),
                        kind: EndpointKind::Interactions,
                    }),
                });
                started.routes.push(WebhookRoute {
                    key: "adapters.slack.events_path",
                    path: config.events_path.clone(),
                    body_limit: Some(BODY_LIMIT),
                    handler: Arc::new(Endpoint {
                        listener: slack,
                        kind: EndpointKind::Events,
                    }),
                });
                tracing::info!(commands = %config.commands_path, interactions = %config.interactions_path, events = %config.events_path, "slack: HTTP endpoints ready");
            }
            SlackMode::Socket => {
                let (tx, rx) = mpsc::channel(64);
                let listener_config = config.clone();
                let listener_stop = stop.clone();
                started.tasks.push(tokio::spawn(async move {
                    if let Err(e) = socket::listen(&listener_config, tx, listener_stop).await {
                        tracing::error!(error = %e, "slack: Socket Mode stopped");
                    }
                }));
                started
                    .tasks
                    .push(tokio::spawn(serve_socket(slack, rx, stop)));
                tracing::info!("slack: Socket Mode listener started");
            }
        }
        Ok(started)
    }
}
