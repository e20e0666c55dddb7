//! Email as the hub starts it: an outbound adapter only (replies to emails
//! are not read). Digests reach it through the outbox like any other
//! delivery.

use super::{EmailAdapter, EmailConfig};
use crate::platform::{HubLink, Platform, PlatformError, Started};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::watch;

pub struct EmailPlatform(pub EmailConfig);

#[async_trait]
impl Platform for EmailPlatform {
    fn name(&self) -> &'static str {
        "email"
    }

    fn enabled(&self) -> bool {
        self.0.enabled
    }

    fn check(&self) -> Result<(), PlatformError> {
        EmailAdapter::from_config(&self.0).map_err(|e| PlatformError::new("email", e))?;
        Ok(())
    }

    async fn start(
        &self,
        hub: &HubLink,
        _stop: watch::Receiver<bool>,
    ) -> Result<Started, PlatformError> {
        let cfg = &self.0;
        let adapter = EmailAdapter::from_config(cfg)
            .map_err(|e| PlatformError::new("email", e))?
            .with_templates(hub.templates.clone())
            .with_sign_in(hub.sign_in.clone());
        tracing::info!(host = %cfg.host, port = cfg.port(), tls = ?cfg.tls, "email adapter ready");
        Ok(Started::new(Arc::new(adapter)))
    }
}
