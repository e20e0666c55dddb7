//! The live feed across instances on PostgreSQL: events are written to
//! `feed_events` with the writing instance's origin and announced with
//! NOTIFY (the origin as payload). Each instance streams its own events in
//! process; its listener reads what other instances wrote since the last
//! sequence number it saw. (SQLite runs one instance and never calls these.)
//!
//! Replaying the feed to a viewer who reconnects reads the sent web
//! deliveries instead ([`Store::recorded_feed_events`]), on both engines.

use super::{Dialect, Store, StoreError, now_ms};
use sqlx::Row;
use sqlx::postgres::PgListener;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The NOTIFY channel.
const CHANNEL: &str = "orkhub_feed";
/// How long events are kept for instances catching up after a reconnect.
const KEEP_MS: i64 = 10 * 60 * 1000;

/// A sequence number skipped this long is taken as a rolled-back insert.
const GAP_PATIENCE: Duration = Duration::from_secs(5);

/// A LISTEN connection plus the position this instance has read to.
///
/// Sequence numbers are handed out at insert but become visible at commit,
/// so seq 7 can appear after seq 8. The reader keeps a floor (every seq at or
/// below it is handled) and the set of seqs above it already streamed, so a
/// late row is still streamed once and a duplicate never is.
pub struct FeedListener {
    listener: PgListener,
    store: Store,
    window: SeqWindow,
    /// When the table was last read; announcements of this instance's own
    /// events do not count, so this bounds how long a missed one waits.
    last_read: Instant,
}

/// Which sequence numbers have been streamed: all at or below `floor`, plus
/// `seen` above it.
#[derive(Debug)]
struct SeqWindow {
    floor: i64,
    seen: BTreeSet<i64>,
    gap_since: Option<Instant>,
}

/// A live feed event as recorded: a web delivery that was sent (published).
/// Read back to replay the feed to a viewer who reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFeedEvent {
    /// The event's feed ID: the sent message's ID, or for an edit the ID
    /// of the message it edits.
    pub feed_id: String,
    pub recipient: String,
    pub edited: bool,
    /// When it was recorded as sent (epoch ms).
    pub sent_at: i64,
    pub title: Option<String>,
    pub body: String,
    pub fields_json: String,
    /// The delivery's ID, the tie-breaker of the replay order.
    pub delivery_id: String,
}

impl Store {
    /// The feed events recorded at or after `since_ms` (for one recipient,
    /// if given), in the order they were made, at most `limit`; `after`
    /// continues a page from the last event of the previous one (its
    /// delivery ID). The same on both engines: every web event, whichever
    /// instance published it, is a sent web delivery. Read by delivery ID,
    /// which starts with the time it was made: the primary key serves the
    /// range, so ingest keeps no index of its own for a reconnect's sake.
    pub async fn recorded_feed_events(
        &self,
        since_ms: i64,
        after: Option<&str>,
        recipient: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RecordedFeedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.op, d.address, \
             CASE WHEN d.op = 'edit' THEN d.target_message_id ELSE d.platform_message_id END, \
             d.sent_at, n.title, n.body, n.fields, d.id \
             FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE d.id >= $1 AND d.id > $2 AND d.id < 'e' AND d.channel = 'web' AND d.status = 'sent' \
             AND ($4 IS NULL OR d.address = $4) ORDER BY d.id LIMIT $3",
        )
        .bind(crate::ids::first_id_at("d", since_ms))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            // A send recorded without its message ID has nothing to resume by.
            let Some(feed_id) = r.try_get::<Option<String>, _>(2)? else {
                continue;
            };
            out.push(RecordedFeedEvent {
                edited: r.try_get::<String, _>(0)? == "edit",
                recipient: r.try_get(1)?,
                feed_id,
                sent_at: r.try_get::<Option<i64>, _>(3)?.unwrap_or(since_ms),
                title: r.try_get(4)?,
                body: r.try_get(5)?,
                fields_json: r.try_get(6)?,
                delivery_id: r.try_get(7)?,
            });
        }
        Ok(out)
    }

    /// True when the live feed must be relayed between instances.
    pub fn feed_is_shared(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Write one event (JSON) for the other instances and announce it, in
    /// one statement.
    pub async fn relay_feed_event(&self, event_json: &str) -> Result<(), StoreError> {
        sqlx::query(
            "WITH e AS (INSERT INTO feed_events (at, event, origin) VALUES ($1, $2, $3)) \
             SELECT pg_notify('orkhub_feed', $3)",
        )
        .bind(now_ms())
        .bind(event_json)
        .bind(&*self.origin)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inside `tx`, tell the other instances on a shared database that
    /// `question` was answered: a `feed_events` row of its own kind
    /// ([`question_answered_event`]) and the NOTIFY, both at commit, so an
    /// agent's SSE feed and long poll on another instance hear of it at
    /// once. Nothing on SQLite (one instance).
    pub(crate) async fn relay_question_answered_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        question: &commands::Question,
    ) -> Result<(), StoreError> {
        if !self.feed_is_shared() {
            return Ok(());
        }
        let event = question_answered_event(question)?;
        sqlx::query(
            "WITH e AS (INSERT INTO feed_events (at, event, origin) VALUES ($1, $2, $3)) \
             SELECT pg_notify('orkhub_feed', $3)",
        )
        .bind(now_ms())
        .bind(event)
        .bind(&*self.origin)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Start listening; events written from now on will be read.
    pub async fn listen_feed(&self) -> Result<FeedListener, StoreError> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        let (last_seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM feed_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(FeedListener {
            listener,
            store: self.clone(),
            window: SeqWindow::after(last_seq),
            last_read: Instant::now(),
        })
    }

    /// Forget events every instance has had time to read.
    pub async fn prune_feed_events(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM feed_events WHERE at < $1")
            .bind(now_ms() - KEEP_MS)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// What `feed_events` carries besides the web feed's events.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Relayed {
    /// A question answered on another instance.
    #[serde(rename = "question_answered")]
    QuestionAnswered(commands::Question),
}

/// A `feed_events` row's JSON for an answered question.
fn question_answered_event(q: &commands::Question) -> Result<String, StoreError> {
    serde_json::to_string(&Relayed::QuestionAnswered(q.clone()))
        .map_err(|e| StoreError::Invalid(format!("an answered question as JSON: {e}")))
}

impl FeedListener {
    /// Wait for another instance's announcement (or `patience`, to settle
    /// gaps and catch up on a missed one), then return every event (JSON)
    /// other instances wrote that was not streamed yet, in order. This
    /// instance's own rows are read for their sequence numbers only. After a
    /// lost connection PgListener reconnects by itself; reading by sequence
    /// catches up on whatever was announced meanwhile.
    pub async fn next_events(&mut self, patience: Duration) -> Result<Vec<String>, StoreError> {
        let origin = self.store.origin.clone();
        loop {
            let wait = patience.saturating_sub(self.last_read.elapsed());
            match tokio::time::timeout(wait, self.listener.try_recv()).await {
                // Our own commit: its events are already on this instance's
                // feed. Keep waiting, unless it is time to read anyway.
                Ok(Ok(Some(n))) if n.payload() == &*origin && !wait.is_zero() => continue,
                Ok(Err(e)) => return Err(e.into()),
                _ => break,
            }
        }
        self.last_read = Instant::now();
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT seq, CASE WHEN origin = $2 THEN NULL ELSE event END \
             FROM feed_events WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(self.window.floor)
        .bind(&*origin)
        .fetch_all(&self.store.pool)
        .await?;
        let fresh = rows
            .into_iter()
            .filter(|(seq, _)| self.window.accept(*seq))
            .filter_map(|(_, event)| event)
            .collect();
        self.window.settle(Instant::now());
        Ok(fresh)
    }
}

impl SeqWindow {
    fn after(floor: i64) -> Self {
        SeqWindow {
            floor,
            seen: BTreeSet::new(),
            gap_since: None,
        }
    }

    /// True the first time `seq` is offered.
    fn accept(&mut self, seq: i64) -> bool {
        seq > self.floor && self.seen.insert(seq)
    }

    /// Raise the floor over every contiguous seen seq; give up on a gap that
    /// stayed open longer than [`GAP_PATIENCE`].
    fn settle(&mut self, now: Instant) {
        loop {
            while self.seen.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
            let Some(&next) = self.seen.first() else {
                self.gap_since = None;
                return;
            };
            let since = *self.gap_since.get_or_insert(now);
            if now.duration_since(since) < GAP_PATIENCE {
                return;
            }
            self.floor = next - 1;
            self.gap_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_committed_late_is_streamed_once() {
        let mut w = SeqWindow::after(10);
        let t0 = Instant::now();
        // 12 commits before 11.
        assert!(w.accept(12));
        w.settle(t0);
        assert_eq!(w.floor, 10, "the floor waits for 11");
        assert!(!w.accept(12), "12 is not streamed twice");
        assert!(w.accept(11));
        w.settle(t0);
        assert_eq!(w.floor, 12);
        assert!(w.seen.is_empty());
        assert!(!w.accept(11) && !w.accept(9));
    }

    #[test]
    fn a_gap_left_by_a_rollback_is_given_up_after_patience() {
        let mut w = SeqWindow::after(0);
        let t0 = Instant::now();
        assert!(w.accept(2) && w.accept(3));
        w.settle(t0);
        assert_eq!(w.floor, 0);
        w.settle(t0 + GAP_PATIENCE / 2);
        assert_eq!(w.floor, 0);
        w.settle(t0 + GAP_PATIENCE);
        assert_eq!(w.floor, 3);
        assert!(w.seen.is_empty());
    }
}
