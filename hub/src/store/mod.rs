//! The store: the only module that writes SQL. One schema, two engines
//! (SQLite embedded default, PostgreSQL for production and scale-out), reached
//! through sqlx's `Any` driver so every query is written once (but one: the
//! ingest writer's SQLite batch binds its rows through rusqlite, see
//! sqlite_ingest.rs). Times are UTC
//! epoch milliseconds; the few statements that differ per engine branch on
//! [`Dialect`].

mod audit;
mod background;
mod brief;
mod bulk;
mod channels;
pub mod commands_backend;
mod console;
mod console_pages;
mod costs;
mod decision_copies;
mod delivery;
mod dependency_edges;
mod digests;
mod error;
mod feed;
mod github;
mod idempotency;
mod inbound_requests;
mod json_rows;
mod keys;
mod notifications;
mod open;
mod outbox;
mod placeholders;
mod postgres_ingest;
mod scheduled_runs;
mod send_slots;
mod sent_briefs;
mod spend_plan;
mod sqlite_ingest;
mod sqlite_statement;
mod sqlite_wal_vfs;
mod surplus;
mod wal;
mod watch;
mod webhook_presence;
mod webhooks;
mod writer_connection;

pub use audit::AuditRow;
pub use brief::BriefPerson;
pub use bulk::BulkValue;
pub use channels::{ChannelSeed, PreferencesSeed};
pub use commands_backend::{
    BoardEdge, BoardFilter, NewQuestion, QuestionCallback, QuestionEdit, QuestionRows,
};
pub use console::{ConsoleSession, InboxItem, LinkRefusal};
pub use console_pages::{AgentTaskCounts, SpendBy};
pub use costs::{MAX_COST_USD, MICROS_PER_USD, NewCost, micros_from_usd, usd_from_micros};
pub use decision_copies::{Announcement, DecisionEdit, DecisionRows};
pub use delivery::{DeliveryOp, DeliveryState};
pub use digests::{DigestRun, HeldItem};
pub use error::StoreError;
pub use feed::{FeedListener, RecordedFeedEvent, Relayed};
pub use github::{GithubApplied, GithubEffect};
pub use idempotency::Reservation;
pub use inbound_requests::RequestClaim;
pub use keys::{KeyListing, KeyRecord};
pub use notifications::{
    BatchRows, IdempotencyRecord, NewDelivery, NewNotification, StoredResponse,
};
pub use outbox::{ClaimedDelivery, DeliveryStatus, NotificationRecord};
pub use sent_briefs::SENT_BRIEF_DAYS;
pub use wal::{WalCheckpoint, WalCheckpointer};
pub use watch::{BudgetUse, OpenAnomaly, SlaOutcome, SlaSubject};
pub use webhooks::{ClaimedWebhook, NewSubscription, Subscription, WebhookDelivery, WebhookEvent};
pub use writer_connection::WriterConnection;

use sqlx::AnyPool;

/// Which engine is behind the pool; for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A handle to the shared database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Kept for connections outside the pool (PostgreSQL LISTEN).
    url: std::sync::Arc<str>,
    /// The SQLite file the ingest writer opens itself (None: PostgreSQL, or
    /// an in-memory database; see sqlite_ingest.rs), read from the URL once.
    sqlite_file: Option<std::sync::Arc<std::path::Path>>,
    /// This hub instance, in the live feed events it writes (see feed.rs).
    origin: std::sync::Arc<str>,
    /// Counts keys revoked through this store (any clone), so the API's key
    /// cache in this process drops a revoked key at once.
    keys_revoked: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether any webhook is active (SQLite; see webhook_presence.rs).
    webhook_presence: std::sync::Arc<webhook_presence::WebhookPresence>,
    /// The brief's cycle-candidate edges, until a dependency changes (see
    /// dependency_edges.rs).
    dependency_edges: std::sync::Arc<dependency_edges::CachedEdges>,
    /// The pool's recent demand: connections beyond it close (see
    /// surplus.rs).
    surplus: std::sync::Arc<surplus::Surplus>,
    /// The pool of work no one waits on (SQLite; see background.rs).
    background: Option<AnyPool>,
    /// The checkpointer's request that the ingest writer rewind the WAL
    /// (SQLite; see wal.rs).
    wal_rewind: std::sync::Arc<wal::RewindWanted>,
}

impl Store {
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// How long the pool remembers how many connections were in use at
    /// once (a minute; tests shorten it; see surplus.rs).
    pub fn set_pool_quiet_spell(&self, quiet: std::time::Duration) {
        self.surplus.set_quiet(quiet);
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(background) = &self.background {
            background.close().await;
        }
    }
}

/// Current time as stored: UTC epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Convert stored milliseconds back to a UTC time.
pub fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
