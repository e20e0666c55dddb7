//! A follow-up address an adapter keeps in a delivery's target in place of
//! a platform message ID (a Slack `response_url`, a Discord interaction
//! token): its own tag, then the address as JSON. The tag tells it apart
//! from a message ID when the adapter reads the target back at send time.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` tagged with `prefix`, as kept in a delivery's target.
pub(crate) fn encode(prefix: &str, value: &impl Serialize) -> String {
    // The targets are strings, enums and booleans: serializing cannot fail.
    format!(
        "{prefix}{}",
        serde_json::to_string(value).unwrap_or_default()
    )
}

/// A target made by [`encode`] with `prefix`; `None` for anything else (a
/// message ID, another adapter's target).
pub(crate) fn decode<T: DeserializeOwned>(prefix: &str, target: &str) -> Option<T> {
    serde_json::from_str(target.strip_prefix(prefix)?).ok()
}
