//! The webhook sender: claims each receiver's oldest due delivery (one call
//! in flight per receiver, so each gets its events in the order recorded),
//! calls it, and records the outcome — sent; retried after an exponential
//! backoff with jitter; dead after the subscription's last attempt; or, on
//! 410, the subscription disabled. Up to `concurrency` receivers are called
//! at once; a slow one holds up only itself.

use crate::config::WebhookSenderConfig;
use crate::store::{ClaimedWebhook, Store, StoreError};
use adapters::webhook::{Outcome, WebhookClient, WebhookRequest};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Sender {
    pub store: Store,
    pub client: WebhookClient,
    pub config: WebhookSenderConfig,
}

impl Sender {
    /// Run until `stop` turns true; then the calls in hand finish (each
    /// bounded by the timeout) and their outcomes are recorded.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let mut calls: JoinSet<()> = JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let room = self.config.concurrency.saturating_sub(calls.len());
            if room > 0 {
                match self.claim(room).await {
                    Ok(claimed) => {
                        for c in claimed {
                            let store = self.store.clone();
                            let client = self.client.clone();
                            let allow_private =
                                c.source == "config" || self.config.allow_private_targets;
                            calls.spawn(async move {
                                call(&store, &client, c, allow_private).await;
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim webhook deliveries; trying again")
                    }
                }
            }
            tokio::select! {
                // A call finished: its receiver's next delivery may be due.
                Some(_) = calls.join_next(), if !calls.is_empty() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
        while calls.join_next().await.is_some() {}
    }

    async fn claim(&self, limit: usize) -> Result<Vec<ClaimedWebhook>, StoreError> {
        let now = crate::store::now_ms();
        let lease = (self.config.lease_secs * 1000) as i64;
        self.store
            .claim_webhooks(now, now + lease, limit as i64)
            .await
    }
}

/// Call the receiver once and record what came of it.
async fn call(store: &Store, client: &WebhookClient, c: ClaimedWebhook, allow_private: bool) {
    let request = WebhookRequest {
        url: &c.url,
        secret: c.secret.as_bytes(),
        event_id: &c.event_id,
        body: &c.body,
        allow_private,
    };
    let outcome = client.send(&request, chrono::Utc::now().timestamp()).await;
    let now = crate::store::now_ms();
    let recorded = match &outcome {
        Outcome::Sent { status } => {
            tracing::debug!(webhook = %c.subscription_id, delivery = c.id, event = %c.event_id, status, "webhook sent");
            store.webhook_sent(c.id, *status, now).await
        }
        Outcome::Gone { status } => {
            tracing::warn!(webhook = %c.subscription_id, "the receiver answered 410 Gone; the webhook is disabled");
            store.webhook_gone(c.id, &c.subscription_id, *status).await
        }
        Outcome::Failed { status, error } => {
            let next = (c.attempts < c.max_attempts).then(|| {
                let delay = crate::dispatch::backoff::delay(
                    c.attempts.max(1) as u32,
                    c.base_backoff_ms.max(1) as u64,
                    c.max_backoff_ms.max(1) as u64,
                    None,
                    rand::random::<f64>(),
                );
                now + delay.as_millis() as i64
            });
            if next.is_none() {
                tracing::warn!(webhook = %c.subscription_id, delivery = c.id, event = %c.event_id, attempts = c.attempts, %error, "webhook delivery dead after its last attempt");
            } else {
                tracing::debug!(webhook = %c.subscription_id, delivery = c.id, attempts = c.attempts, %error, "webhook call failed; will retry");
            }
            store.webhook_failed(c.id, *status, error, next).await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the delivery is claimed again: at least
        // once, never lost.
        tracing::error!(error = %e, delivery = c.id, "could not record a webhook call's outcome; it will be sent again after its lease");
    }
}
