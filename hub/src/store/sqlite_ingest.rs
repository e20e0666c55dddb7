//! SQLite's ingest batch: each row bound straight into a prepared insert,
//! on a connection of the writer's own (rusqlite), run on a blocking thread.
//!
//! Why not sqlx's one call with each table's rows as one JSON parameter (as
//! PostgreSQL still does, where it saves round trips): on SQLite there is no
//! round trip to save — the engine is in this process — and the JSON was
//! the work. Rust printed every row as JSON text, SQLite parsed it into its
//! binary form, and each column was a lookup from the row's start
//! (`jsonLookupStep`, `jsonReturnFromBlob`, …): 7.4% of the hub's CPU under
//! `bench/external.sh sqlite`. Bound value by value into multi-row inserts
//! of a few fixed sizes ([`CHUNKS`]), prepared once per connection, a row
//! costs a `sqlite3_bind_*` per value. sqlx cannot bind a varying number of
//! rows without a new statement text per batch size, nor run code on its
//! connection's thread; rusqlite (the same SQLite library, see Cargo.toml)
//! can. The inserts themselves bind through SQLite's C API, so that text
//! is read in place rather than copied first (sqlite_statement.rs).
//!
//! The transaction is the same as before: BEGIN IMMEDIATE, the
//! notifications, their deliveries, the idempotency records, the webhook
//! events (when a webhook is active), COMMIT. A batch that fails rolls back
//! and its connection is closed; the next batch opens a fresh one. The
//! connection writes the WAL through a VFS of its own that holds a
//! transaction's frames until its commit and writes them in one call
//! (sqlite_wal_vfs.rs).

use super::json_rows::Table;
use super::notifications::{
    BatchRows, DELIVERIES, IDEMPOTENCY, IDEMPOTENCY_CONFLICT, NOTIFICATIONS, notifications_json,
};
use super::sqlite_statement::{Bind, Statement};
use super::writer_connection::WriterConnection;
use super::{Dialect, Store, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::sync::LazyLock;

/// Rows per insert statement: a batch goes in as the fewest statements of
/// these sizes, its row count in binary (28 rows: 16, 8 and 4). Each
/// execution of an insert has a fixed cost whatever its rows: a cursor on
/// the table and each index, and their pages released after (a mutex each
/// in SQLite's page cache). One statement per row cost more than the JSON
/// it replaced; sizes 64, 16, 4 and 1 took seven statements for 28
/// notifications and five for their 56 deliveries — now three and three.
/// Each size is prepared once per connection, on its first use.
const CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// Each table's insert of `CHUNKS[i]` rows.
struct Inserts {
    notifications: [String; CHUNKS.len()],
    deliveries: [String; CHUNKS.len()],
    idempotency: [String; CHUNKS.len()],
}

/// The writer's connection and the inserts prepared on it. The statements
/// come first: fields drop in order, and a statement must be finalized
/// before its connection closes (rusqlite's close would fail, busy, and
/// leave the file open).
pub(super) struct Own {
    /// Boxed: 21 statements would make every `Kept` that large.
    prepared: Box<Prepared>,
    conn: Connection,
}

/// Each table's insert of `CHUNKS[i]` rows, once prepared.
#[derive(Default)]
struct Prepared {
    notifications: [Option<Statement>; CHUNKS.len()],
    deliveries: [Option<Statement>; CHUNKS.len()],
    idempotency: [Option<Statement>; CHUNKS.len()],
}

impl Own {
    /// The connection, for a query of its settings (tests).
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Finalize the statements, then close the connection.
    pub(super) fn close(self) -> Result<(), rusqlite::Error> {
        let Own { prepared, conn } = self;
        drop(prepared);
        conn.close().map_err(|(_, e)| e)
    }
}

static INSERTS: LazyLock<Inserts> = LazyLock::new(|| {
    let sizes = |t: &Table, tail: &str| CHUNKS.map(|rows| t.insert_rows(rows, tail));
    Inserts {
        notifications: sizes(&NOTIFICATIONS, ""),
        deliveries: sizes(&DELIVERIES, ""),
        idempotency: sizes(&IDEMPOTENCY, IDEMPOTENCY_CONFLICT),
    }
});

/// The `notification.created` events of a batch, built by SQLite from the
/// notification rows as JSON (`?1`): only when a webhook is active, so
/// the JSON is printed only then.
static FAN_OUT: LazyLock<String> =
    LazyLock::new(|| super::webhooks::notification_fan_out_sql(Dialect::Sqlite, 1));

impl Store {
    /// The ingest batch on the SQLite file `file`: on the writer's own
    /// connection (opened on its first batch, or after a failed one), on a
    /// blocking thread.
    pub(super) async fn write_ingest_batch_to_file(
        &self,
        own: &mut WriterConnection,
        file: Arc<Path>,
        rows: BatchRows,
    ) -> Result<(), StoreError> {
        let events = if !rows.notifications.is_empty() && self.any_active_webhook().await? {
            Some(notifications_json(&rows.notifications)?)
        } else {
            None
        };
        let batch = Batch {
            rows,
            events,
            now: super::now_ms(),
        };
        let rewind = self.rewind_wanted();
        let kept = own.take_sqlite();
        // If this future is dropped, the thread still finishes the batch
        // (committed or rolled back) and then closes the connection.
        let (back, busy, written) = tokio::task::spawn_blocking(move || {
            let mut own = match kept {
                Some(own) => own,
                None => match open(&file) {
                    Ok(conn) => Own {
                        prepared: Box::default(),
                        conn,
                    },
                    Err(e) => return (None, false, Err(e)),
                },
            };
            let busy = rewind && self::rewind(&own.conn);
            let written = write(&mut own, &batch);
            (written.is_ok().then_some(own), busy, written)
        })
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!("the ingest writer's SQLite thread stopped: {e}"))
        })?;
        if busy {
            // The checkpointer's own pass: the next batch tries again.
            self.ask_rewind();
        }
        if let Some(back) = back {
            own.put_back_sqlite(back);
        }
        written
    }
}

/// What one batch writes.
struct Batch {
    rows: BatchRows,
    /// The notification rows as JSON for [`FAN_OUT`], when a webhook is active.
    events: Option<String>,
    now: i64,
}

/// Open the writer's connection: the pool's set-up, and temporary storage
/// in memory (each batch's statement journal past 64 KiB was otherwise a
/// new file in /var/tmp: a dozen system calls and ~2 page writes per
/// batch). The pool's connections keep the default: their GROUP BY sorts
/// allocate every row on its own when temporary storage is in memory.
fn open(path: &Path) -> Result<Connection, StoreError> {
    // The store created the file; the connection is used by one thread at
    // a time (moved between blocking threads, never shared).
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Each commit's WAL frames in one write (sqlite_wal_vfs.rs).
    let conn = match super::sqlite_wal_vfs::register() {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.execute_batch(super::open::SQLITE_SETUP)?;
    conn.execute_batch("PRAGMA temp_store=MEMORY")?;
    // Foreign keys off for this connection's inserts only: each
    // delivery's notification is in the same batch, checked before the
    // batch is written ([`check_deliveries_belong`]). SQLite's own check
    // made every delivery insert a statement that may have to undo itself
    // (the constraint is immediate), which SQLite journals page by page,
    // plus a lookup of the notification per delivery: 7,200 instructions
    // per notification, 4.4% of the hub's (`bench/instructions.sh`).
    // Every other connection (the pool's) still enforces the foreign
    // keys, cascades included.
    conn.execute_batch("PRAGMA foreign_keys=OFF")?;
    // CHECK constraints off for this connection's inserts too, for the same
    // reason: the writer's values are checked before the batch is written
    // ([`check_enumerated`]). SQLite evaluates a CHECK's `IN (…)` of three
    // values or more by building a small temporary table and looking the
    // value up in it, and in an insert's CHECK it builds that table again
    // for every row (`EXPLAIN`: OpenEphemeral inside the row loop, no
    // Once): one B-tree insert per listed value, three for a notification
    // (`urgency`) and seven for each delivery (`status`) — 25,000 of the
    // 139,000 instructions per notification (`bench/instructions.sh`:
    // 138,819 → 113,910).
    conn.execute_batch("PRAGMA ignore_check_constraints=ON")?;
    // The webhook events' statement (the inserts are the writer's own).
    conn.set_prepared_statement_cache_capacity(1);
    Ok(conn)
}

/// Copy the rest of the WAL into the database file before a batch, so that
/// the batch begins with every frame copied and SQLite writes it at the
/// WAL's start (see wal.rs). PASSIVE never waits on a lock. Returns true
/// when it found the checkpointer in the middle of its own pass (busy): the
/// next batch tries again, a millisecond later, instead of waiting for the
/// next pass's request. Frames a reader still needs are left to that pass
/// (a retry per batch would copy, and sync the file, at every batch).
fn rewind(conn: &Connection) -> bool {
    // Its row: busy, frames in the WAL, frames copied.
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
        Ok(busy) => busy != 0,
        Err(e) => {
            tracing::debug!(error = %e, "the ingest writer could not rewind the WAL");
            false
        }
    }
}

/// Write `batch` in one transaction on `own`'s connection. On an error
/// the transaction is rolled back (dropped) and the caller closes the
/// connection.
fn write(own: &mut Own, batch: &Batch) -> Result<(), StoreError> {
    use Bind::{Int, Text};
    check_deliveries_belong(&batch.rows)?;
    check_enumerated(&batch.rows)?;
    let Own { prepared, conn } = own;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let target = (&INSERTS.notifications, &mut prepared.notifications);
    insert(&tx, target, &batch.rows.notifications, |n| {
        [
            Text(&n.id),
            Text(&n.source),
            Text(&n.kind),
            Text(n.urgency),
            Text(n.recipient_kind),
            Text(&n.recipient_id),
            Bind::opt_text(n.project_id.as_deref()),
            Bind::opt_text(n.title.as_deref()),
            Text(&n.body),
            Text(&n.fields_json),
            Bind::opt_int(n.decision_id),
            Bind::opt_text(n.dedupe_key.as_deref()),
            Int(n.duplicate as i64),
            Int(n.created_at),
        ]
    })?;
    let target = (&INSERTS.deliveries, &mut prepared.deliveries);
    insert(&tx, target, &batch.rows.deliveries, |d| {
        [
            Text(&d.id),
            Text(&d.notification_id),
            Bind::opt_text(d.person_id.as_deref()),
            Text(&d.channel),
            Text(&d.address),
            Text(d.op.as_str()),
            Bind::opt_text(d.target_message_id.as_deref()),
            Text(d.status.as_str()),
            Int(d.next_attempt_at),
            Text(&d.fallbacks),
            Int(d.created_at),
            Int(d.created_at),
            Bind::opt_text(d.published_id()),
            Bind::opt_int(d.sent_at()),
        ]
    })?;
    let target = (&INSERTS.idempotency, &mut prepared.idempotency);
    insert(&tx, target, &batch.rows.idempotency, |r| {
        [
            Text(&r.agent_id),
            Text(&r.key),
            Text(&r.request_hash),
            Int(r.status_code),
            Text(&r.response_body),
            Int(batch.now),
        ]
    })?;
    if let Some(rows) = &batch.events {
        tx.prepare_cached(&FAN_OUT)?.execute([rows])?;
    }
    tx.commit()?;
    Ok(())
}

/// The foreign key the writer's connection does not check itself: every
/// delivery's notification is one of the batch's. True by construction
/// (the writer plans a notification's deliveries with it); a batch that
/// broke it would fail here and write nothing, as SQLite's check would.
fn check_deliveries_belong(rows: &BatchRows) -> Result<(), StoreError> {
    let ids: foldhash::HashSet<&str> = rows.notifications.iter().map(|n| n.id.as_str()).collect();
    match rows
        .deliveries
        .iter()
        .find(|d| !ids.contains(d.notification_id.as_str()))
    {
        Some(d) => Err(StoreError::Invalid(format!(
            "delivery {} is for notification {}, which is not in the same ingest batch; nothing was written",
            d.id, d.notification_id
        ))),
        None => Ok(()),
    }
}

/// The CHECK constraints the writer's connection does not evaluate itself
/// (the schema's `IN (…)` lists, migrations/*/0001_init.sql): a
/// notification's urgency and recipient kind. A delivery's `op` and
/// `status` are enums whose names are the schema's. A batch that broke
/// one would fail here and write nothing, as SQLite's check would.
fn check_enumerated(rows: &BatchRows) -> Result<(), StoreError> {
    let unlisted = |column: &str, value: &str, id: &str| {
        StoreError::Invalid(format!(
            "notification {id} has {column} {value:?}, which the schema does not allow; nothing was written"
        ))
    };
    for n in &rows.notifications {
        if !matches!(n.urgency, "urgent" | "info" | "fyi") {
            return Err(unlisted("urgency", n.urgency, &n.id));
        }
        if !matches!(n.recipient_kind, "person" | "channel") {
            return Err(unlisted("recipient_kind", n.recipient_kind, &n.id));
        }
    }
    Ok(())
}

/// Insert `rows` through the fewest statements of [`CHUNKS`] sizes on
/// `tx`, each row's values from `values` in the table's column order.
/// `(sql, prepared)`: the table's statement of each size, and those
/// prepared so far; a size is prepared on its first use.
fn insert<T, const N: usize>(
    tx: &rusqlite::Transaction<'_>,
    (sql, prepared): (
        &[String; CHUNKS.len()],
        &mut [Option<Statement>; CHUNKS.len()],
    ),
    rows: &[T],
    values: impl Fn(&T) -> [Bind<'_>; N],
) -> Result<(), StoreError> {
    let mut rest = rows;
    for (i, size) in CHUNKS.iter().enumerate() {
        while rest.len() >= *size {
            let (chunk, after) = rest.split_at(*size);
            let statement = match &mut prepared[i] {
                Some(statement) => statement,
                empty => empty.insert(Statement::prepare(tx, &sql[i])?),
            };
            statement.execute(chunk.iter().flat_map(&values))?;
            rest = after;
        }
    }
    Ok(())
}
