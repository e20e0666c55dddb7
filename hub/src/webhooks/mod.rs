//! Outbound webhooks, the hub's side: which events exist (`events`), the
//! subscriptions declared in config.toml (written into the store at start)
//! and the sender loop (`sender`). The HTTP call itself is the adapter's
//! (adapters/src/webhook); the queue and the log are the store's
//! (store/webhooks.rs).

pub mod events;
pub mod sender;

use crate::config::{Config, secret_from_env};
use crate::store::{NewSubscription, Store, StoreError};

/// Write the webhooks of config.toml into the store (secrets read from
/// their environment variables, checked by `Config::validate`).
pub async fn sync_config(store: &Store, config: &Config) -> Result<(), StoreError> {
    let subs = config
        .webhooks
        .iter()
        .map(|w| {
            Ok(NewSubscription {
                id: w.id.clone(),
                url: w.url.clone(),
                secret: secret_from_env(&w.secret_env, &format!("webhooks.{}.secret_env", w.id))
                    .map_err(StoreError::Invalid)?,
                events: w.events.clone(),
                max_attempts: i64::from(w.max_attempts),
                base_backoff_ms: w.base_backoff_ms as i64,
                max_backoff_ms: w.max_backoff_ms as i64,
                created_by: "config".into(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    store.sync_config_webhooks(&subs).await
}
