//! One-time links into the web console that a platform puts in what it
//! sends (the email digest's "Open in orkhub", a decision email's "Review
//! and decide"). A link is a credential: it
//! is minted when the message is sent — never kept in the outbox with the
//! message — and never logged. The hub implements this over its console's
//! login links; without the console there are none.

use async_trait::async_trait;
use routing::ChannelKind;

/// Where a link lands once its reader has signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// The console's inbox (the digest's "Open in orkhub").
    Inbox,
    /// A decision's page, with its Approve and Deny form (a decision
    /// email's "Review and decide"): opening it decides nothing.
    Decision(i64),
}

#[async_trait]
pub trait SignInLinks: Send + Sync {
    /// A one-time sign-in link for the person reached at `address` on
    /// `channel`, landing on `landing`; `None` when that is no known
    /// person's address. An error says why none could be made (the
    /// database is away).
    async fn link(
        &self,
        channel: ChannelKind,
        address: &str,
        landing: Landing,
    ) -> Result<Option<String>, String>;
}
