//! Email in the hub: an outbound adapter only (replies to emails are not
//! read). Digests reach it through the outbox like any other delivery.

use super::Platforms;
use adapters::email::{EmailAdapter, EmailConfig};
use std::sync::Arc;

/// Start email if it is enabled (a wrong setting fails the start).
pub fn start(cfg: &EmailConfig, platforms: &mut Platforms) -> anyhow::Result<()> {
    if !cfg.enabled {
        return Ok(());
    }
    let adapter = EmailAdapter::from_config(cfg)?;
    tracing::info!(host = %cfg.host, port = cfg.port(), tls = ?cfg.tls, "email adapter ready");
    platforms.adapters.push(Arc::new(adapter));
    Ok(())
}
