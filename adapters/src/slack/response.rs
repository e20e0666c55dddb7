//! A follow-up addressed to a request's `response_url`, carried through
//! the outbox.
//!
//! A command still running after Slack's 3 s acknowledgement, and a button
//! press, are answered later at the request's `response_url`, not with
//! chat.postMessage: the URL keeps an ephemeral answer ephemeral (only the
//! person who asked sees it), needs no channel membership, and can replace
//! or keep the message a button was on. The outbox names a send's place by
//! chat and, in `Destination::thread`, the platform message it answers; a
//! follow-up's delivery carries a [`ResponseTarget`] there instead (encoded
//! by [`ResponseTarget::encode`]), so it is queued, paced and retried with
//! the channel's other messages and [`crate::slack::SlackAdapter`] posts it
//! to the URL.
//!
//! The URL is a credential of its own (anyone holding it may post to that
//! conversation, up to 5 times within 30 minutes), so it sits in the
//! delivery row like a message ID does; after 30 minutes Slack refuses it
//! and the delivery ends dead with Slack's answer.

use super::render;
use crate::template::Templates;
use neutral::{Reply, RichMessage, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Marks a target as a response target (a message ID is `conversation:ts`
/// and never starts with this).
const PREFIX: &str = "response_url ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseTarget {
    pub url: String,
    /// Only the person who asked sees it.
    pub ephemeral: bool,
    /// `Some(false)`: keep the message a button was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// The thread the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

impl ResponseTarget {
    /// Where `reply` to a request goes, with the reply's visibility.
    pub fn for_reply(
        url: &str,
        reply: &Reply,
        replace_original: Option<bool>,
        thread_ts: Option<&str>,
    ) -> Self {
        ResponseTarget {
            url: url.to_string(),
            ephemeral: reply.visibility == Visibility::Ephemeral,
            replace_original,
            thread_ts: thread_ts.map(str::to_string),
        }
    }

    /// As kept in a delivery's target.
    pub fn encode(&self) -> String {
        crate::target::encode(PREFIX, self)
    }

    /// A target made by [`ResponseTarget::encode`]; `None` for anything
    /// else (a message ID).
    pub fn decode(target: &str) -> Option<Self> {
        crate::target::decode(PREFIX, target)
    }

    /// The body posted to the URL for `message` (a brief rendered from
    /// `templates`).
    pub fn body(&self, message: &RichMessage, templates: &Templates) -> Value {
        let reply = Reply {
            message: message.clone(),
            visibility: if self.ephemeral {
                Visibility::Ephemeral
            } else {
                Visibility::Public
            },
            is_error: false,
            secret: false,
        };
        let mut body = render::reply_body(&reply, self.replace_original, templates);
        if let Some(ts) = &self.thread_ts {
            body["thread_ts"] = serde_json::json!(ts);
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_and_message_ids_are_not_targets() {
        let reply = Reply::error("no");
        let t = ResponseTarget::for_reply("https://hooks.slack.com/x", &reply, Some(false), None);
        assert!(t.ephemeral);
        assert_eq!(ResponseTarget::decode(&t.encode()), Some(t.clone()));
        assert_eq!(ResponseTarget::decode("C1:1700000000.000100"), None);
        let body = t.body(&RichMessage::text("hi <!channel>"), &Templates::default());
        assert_eq!(body["response_type"], "ephemeral");
        assert_eq!(body["replace_original"], false);
        assert!(body["text"].as_str().unwrap().contains("&lt;!channel&gt;"));
    }
}
