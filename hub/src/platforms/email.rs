//! Email in the hub: an outbound adapter only (replies to emails are not
//! read). Digests reach it through the outbox like any other delivery.

use super::Platforms;
use crate::api::AppState;
use adapters::email::{EmailAdapter, EmailConfig};
use std::sync::Arc;
use tokio::sync::watch;

pub async fn start(
    cfg: &EmailConfig,
    _state: &AppState,
    _stop: watch::Receiver<bool>,
    platforms: &mut Platforms,
) -> anyhow::Result<()> {
    let adapter = EmailAdapter::from_config(cfg)?;
    tracing::info!(host = %cfg.host, port = cfg.port(), tls = ?cfg.tls, "email adapter ready");
    platforms.adapters.push(Arc::new(adapter));
    Ok(())
}
