//! Outbound webhooks: the HTTP side of sending one event to a receiver.
//!
//! - `sign`: the `X-Orkhub-Signature` header (`t=<unix>,v1=<hex HMAC-SHA256
//!   of "t.body">`) and its check, so receivers can refuse stale or replayed
//!   calls;
//! - `target`: which URLs may be called (server-side request forgery: no
//!   loopback, link-local, private or unspecified address unless allowed);
//! - `send`: one POST with a timeout, no redirects followed, and what the
//!   answer means (sent, retry, the subscription is gone).
//!
//! The hub owns the rest: which events go where, the durable queue, order,
//! backoff and the delivery log (hub/src/webhooks, hub/src/store/webhooks.rs).

mod send;
mod sign;
mod target;

pub use send::{Outcome, WebhookClient, WebhookRequest};
pub use sign::{EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header, verify_signature};
pub use target::{TargetError, check_target, forbidden_ip, parse_target};
