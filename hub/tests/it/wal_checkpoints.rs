//! SQLite's WAL is checkpointed in the background, not inside commits: a
//! commit never pays for copying the WAL into the database file, the
//! background task does copy it, and under writes that never pause the WAL
//! still comes back to its start instead of growing without end.
use crate::common;
use common::TestDb;
use hub::store::{NewNotification, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `count` notifications with 2 KiB bodies, IDs unique per `tag`.
fn batch(tag: &str, count: usize) -> Vec<NewNotification> {
    (0..count)
        .map(|i| common::stored_notification(format!("n_{tag}_{i:05}"), "x".repeat(2048)))
        .collect()
}

fn file_len(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn db_path(db: &TestDb) -> PathBuf {
    PathBuf::from(db.url().trim_start_matches("sqlite://"))
}

async fn notifications(store: &Store) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notifications")
        .fetch_one(store.pool())
        .await
        .unwrap();
    n
}

/// Batches of ten notifications committed back to back until stopped:
/// through the pool (`insert_batch`) or as the ingest writer does, on its
/// own connection (`insert_ingest_batch_on`).
struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(store: &Store, ingest: bool) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let (store, stop2, written2) = (store.clone(), stop.clone(), written.clone());
        let task = tokio::spawn(async move {
            let mut own = hub::store::WriterConnection::default();
            let mut b = 0;
            while !stop2.load(Ordering::Relaxed) {
                let rows = batch(&format!("w{b}"), 10);
                if ingest {
                    let rows = hub::store::BatchRows {
                        notifications: rows,
                        ..Default::default()
                    };
                    store.insert_ingest_batch_on(&mut own, rows, &[]).await
                } else {
                    store.insert_batch(&rows, &[], &[]).await
                }
                .unwrap();
                written2.fetch_add(10, Ordering::Relaxed);
                b += 1;
            }
            own.close().await;
        });
        Writer {
            stop,
            written,
            task,
        }
    }

    /// Stop; the rows written.
    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.written.load(Ordering::Relaxed)
    }
}

/// What checkpoint passes saw while writers ran.
struct Passes {
    /// Passes that found fewer frames than the pass before: the WAL went
    /// back to its start in between (or in the pass, by its RESTART).
    rewinds: usize,
    /// Passes that restarted the WAL themselves.
    restarts: usize,
}

/// A checkpoint pass every 10 ms for `time`, or until the WAL has gone
/// back to its start `enough` times. (Counted rather than bounding the
/// WAL's size, which depends on how fast the machine's writers run against
/// the checkpointer.)
async fn checkpoint_passes(
    checkpointer: &mut hub::store::WalCheckpointer,
    time: Duration,
    enough: usize,
) -> Passes {
    let mut previous = 0;
    let mut passes = Passes {
        rewinds: 0,
        restarts: 0,
    };
    let until = Instant::now() + time;
    while Instant::now() < until && passes.rewinds < enough {
        let pass = checkpointer.checkpoint().await.unwrap();
        passes.rewinds += usize::from(pass.wal_frames < previous);
        previous = pass.wal_frames;
        passes.restarts += usize::from(pass.restarted);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    passes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_leave_the_wal_alone_and_the_background_task_copies_it() {
    let db = TestDb::sqlite().await;
    let store = db.store().clone();
    let path = db_path(&db);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let empty = file_len(&path);
    // ~8 MiB of rows: with SQLite's default (checkpoint at 1,000 pages) the
    // commits would have copied most of it into the database file already.
    for b in 0..40 {
        store
            .insert_batch(&batch(&format!("a{b}"), 100), &[], &[])
            .await
            .unwrap();
    }
    assert!(
        file_len(&wal) > 8 << 20,
        "everything is still in the WAL: {} bytes",
        file_len(&wal)
    );
    assert!(
        file_len(&path) < empty + (1 << 20),
        "no commit copied pages into the database file ({} → {} bytes)",
        empty,
        file_len(&path)
    );

    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = hub::wal_checkpoints::spawn(&store, Duration::from_millis(10), 1_000_000, stop_rx)
        .await
        .unwrap()
        .expect("SQLite has a checkpointer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while file_len(&path) < empty + (8 << 20) {
        assert!(
            Instant::now() < deadline,
            "the background task never copied the WAL: database file {} bytes",
            file_len(&path)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(notifications(&store).await, 4_000);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_writes_that_never_pause_the_wal_still_restarts() {
    let db = TestDb::sqlite().await;
    let store = db.store().clone();
    let restart_frames = 500;
    let mut checkpointer = store
        .wal_checkpointer(restart_frames)
        .await
        .unwrap()
        .expect("SQLite has a checkpointer");

    // Writers committing back to back for the whole test.
    let writer = Writer::start(&store, false);
    // Without checkpoints the WAL only grows, and a PASSIVE checkpoint alone
    // never lets it rewind while writes keep coming.
    let passes = checkpoint_passes(&mut checkpointer, Duration::from_secs(3), usize::MAX).await;
    let total = writer.stop().await;
    // Each row takes about a page of the WAL (a 2 KiB body plus index
    // entries), so without checkpoints the WAL would hold ~`total` frames.
    assert!(
        total > 2 * restart_frames as usize,
        "the writers wrote enough to matter: {total} rows"
    );
    assert!(
        passes.restarts > 0,
        "the WAL reached the limit and was restarted"
    );
    assert!(
        passes.rewinds >= 2,
        "the WAL went back to its start {} times while {total} rows were written",
        passes.rewinds
    );
    assert_eq!(notifications(&store).await, total as i64);
    db.finish().await;
}

/// The ingest writer rewinds the WAL itself when the checkpointer asks
/// (store/wal.rs): under its writes that never pause, the WAL goes back to
/// its start again and again without the checkpointer's RESTART (which
/// would hold the writer behind SQLite's busy-handler sleeps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_writer_rewinds_the_wal_without_a_restart() {
    let db = TestDb::sqlite().await;
    let store = db.store().clone();
    // Far above what the writer adds between two passes (1,000-2,000
    // frames in a debug build, whose passes are slow), as 8,192 is in
    // production (passes every 100 ms).
    let restart_frames = 6_000;
    let mut checkpointer = store
        .wal_checkpointer(restart_frames)
        .await
        .unwrap()
        .expect("SQLite has a checkpointer");

    let writer = Writer::start(&store, true);
    // Until the WAL has gone back to its start ten times (or 20 s pass).
    let passes = checkpoint_passes(&mut checkpointer, Duration::from_secs(20), 10).await;
    let total = writer.stop().await;
    assert!(
        passes.rewinds >= 10,
        "the WAL went back to its start {} times while {total} rows were written",
        passes.rewinds
    );
    // Without the writer's rewinds every one is a RESTART. A pass delayed
    // on a loaded machine may still find the WAL at the limit once.
    assert!(
        passes.restarts * 5 <= passes.rewinds,
        "{} of the WAL's {} rewinds were RESTARTs",
        passes.restarts,
        passes.rewinds
    );
    assert_eq!(notifications(&store).await, total as i64);
    db.finish().await;
}

#[tokio::test]
async fn postgresql_needs_no_checkpointer() {
    let db = TestDb::postgres().await;
    assert!(db.store().wal_checkpointer(100).await.unwrap().is_none());
    db.finish().await;
}
