//! A SQLite VFS for the ingest writer's connection that writes each
//! commit's WAL frames in two system calls instead of two per frame.
//!
//! Why: SQLite writes a WAL frame as two `pwrite`s, its 24-byte header and
//! then its page, so a batch's commit of some 26 frames was 52 `pwrite`s
//! (`perf stat` under `bench/external.sh sqlite`: 2.1 per notification),
//! and each one pays the system call and the file system's per-call work
//! on the two or three page-cache pages a 4,120-byte frame straddles
//! (`vfs_write`: 9% of the hub's CPU). This VFS is SQLite's default
//! (`unix`) for every file but the WAL; for the WAL it keeps the frames of
//! the transaction being written in a buffer and writes them as one
//! `pwrite` when the commit frame's header arrives, then that frame's page.
//!
//! What keeps it safe, from SQLite's `walFrames` (sqlite3.c, 3.51):
//! - Every commit ends with a new frame whose header says it commits
//!   (bytes 4–7, the database's size in pages, are not zero; "WAL Format"
//!   in SQLite's file format document); the last dirty page of a commit is
//!   never rewritten in place. When that header is written, the buffer
//!   is written out with it, and the page that follows it goes straight
//!   to the file. After a commit returns nothing is held back, before any
//!   other connection can see the commit (SQLite publishes it in the
//!   WAL index only after these writes) and before the hub answers.
//! - A transaction that rewrote a frame it had spilled earlier rewrites
//!   the checksums of its frames after the commit frame, ending with the
//!   commit frame's header again: that header is written out too.
//! - A read, a sync, a truncation, the file's size and a file control
//!   write out what is held first, so SQLite never sees the file without
//!   its own writes; a write that does not follow on from the buffer
//!   writes the buffer first, so writes reach the file in SQLite's order.
//! - What is still held when SQLite releases its WAL write lock belongs to
//!   a transaction that never committed (a commit holds nothing back by
//!   then): it is dropped, never written. Written after the lock is
//!   released, its frames could overwrite frames another connection
//!   committed since. The release is a call on the database file
//!   (`xShmLock`), so the database file keeps SQLite's own methods but
//!   that one (and `xClose`), which drops what its WAL holds first. (A
//!   rollback that reads the WAL writes the frames out before that, while
//!   the lock is still held: harmless, past the last commit, and the next
//!   transaction writes over them.) What is held when the WAL closes is
//!   dropped too. (With `locking_mode=EXCLUSIVE` SQLite takes no such
//!   lock; the writer does not set it.)
//!
//! With `synchronous=NORMAL` SQLite does not sync the WAL at a commit, so
//! a commit is in the kernel's page cache when it returns, with or without
//! this VFS: safe from a crash of the hub, as before.

use rusqlite::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::ptr::null_mut;
use std::sync::{Mutex, OnceLock};

/// The name the writer opens its connection with.
pub(super) const NAME: &CStr = c"orkhub-wal-batch";

/// A WAL frame's header: a 24-byte write (the WAL's own header is 32).
const FRAME_HEADER: usize = 24;

/// At most this many bytes are held: SQLite's own VFS writes at most
/// 128 KiB - 1 per call (`seekAndWrite` masks the length with `0x1ffff`;
/// a longer write fails as SQLITE_FULL). A batch's commit is about 100
/// KiB; a larger transaction is written in several calls.
const MAX_HELD: usize = 0x1ffff & !0xfff;

/// WAL_WRITE_LOCK in sqlite3.c: the shared-memory lock a writer holds.
const WAL_WRITE_LOCK: c_int = 0;

/// The default VFS's file size rounded up to 8 bytes: where a database
/// file's link to its WAL is.
static BASE_FILE_SIZE: OnceLock<usize> = OnceLock::new();

/// Register the VFS once per process (not as the default); the name to
/// open a connection with, or None when SQLite has no default VFS to wrap.
pub(super) fn register() -> Option<&'static CStr> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find initializes SQLite and returns the
        // default VFS, which lives as long as the process. The VFS built
        // from it is leaked: SQLite keeps the pointer until the process ends.
        unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            if base.is_null() {
                return false;
            }
            let base_size = ((*base).szOsFile as usize).next_multiple_of(8);
            let _ = BASE_FILE_SIZE.set(base_size);
            let mut vfs = *base;
            // A WAL: a `Wal`, then the default VFS's file. A database file:
            // the default VFS's file, then the link to its WAL's `Wal`.
            vfs.szOsFile = (wal_size() + base_size) as c_int;
            vfs.pNext = null_mut();
            vfs.zName = NAME.as_ptr();
            // The default VFS's other methods do not read their VFS
            // argument's fields (os_unix.c), so they are used as they are;
            // only opening a file needs the default VFS itself.
            vfs.pAppData = base.cast();
            vfs.xOpen = Some(open);
            ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0) == ffi::SQLITE_OK
        }
    });
    ok.then_some(NAME)
}

/// The WAL file as this VFS holds it: SQLite's file handle, then the
/// default VFS's file (`inner`) in the same allocation.
#[repr(C)]
struct Wal {
    /// Points at [`METHODS`]; must come first (SQLite's `sqlite3_file`).
    file: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Frames written by SQLite, not yet written to the file.
    held: Vec<u8>,
    /// Where `held` goes in the file.
    at: i64,
    /// The offset of the page of a commit frame whose header was just
    /// written: that write goes straight to the file.
    commit_page_at: Option<i64>,
    /// The database file whose link points here (null if none).
    db: *mut ffi::sqlite3_file,
}

/// The size of [`Wal`] rounded up so the inner file is 8-byte aligned
/// (larger than a database file's link).
fn wal_size() -> usize {
    std::mem::size_of::<Wal>().next_multiple_of(8)
}

/// A database file's link to its WAL's `Wal` (null while none is open): a
/// pointer after the default VFS's file, in the memory SQLite gives every
/// file of this VFS.
///
/// # Safety
/// `db` must be a database file hooked by [`hook_database`].
unsafe fn link(db: *mut ffi::sqlite3_file) -> *mut *mut Wal {
    let offset = BASE_FILE_SIZE.get().copied().unwrap_or(0);
    // SAFETY: `szOsFile` leaves room for the link after the default VFS's
    // file (`register`, which sets the offset first), 8-byte aligned.
    unsafe { db.cast::<u8>().add(offset).cast::<*mut Wal>() }
}

/// The database files opened through this VFS and not yet closed, by the
/// address of their name: SQLite gives a database's WAL a name in the same
/// allocation (`sqlite3_filename_database`), so that is how a WAL finds
/// its database file. One entry per open writer connection.
static DATABASES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// The hooked database file of the WAL named `wal_name`, or null.
///
/// # Safety
/// `wal_name` must be the name SQLite passed to `xOpen` for a WAL.
unsafe fn database_of(wal_name: ffi::sqlite3_filename) -> *mut ffi::sqlite3_file {
    // SAFETY: per the function's contract.
    let name = unsafe { ffi::sqlite3_filename_database(wal_name) } as usize;
    DATABASES
        .lock()
        .ok()
        .and_then(|dbs| dbs.iter().find(|&&(n, _)| n == name).map(|&(_, db)| db))
        .map_or(null_mut(), |db| db as *mut ffi::sqlite3_file)
}

type ShmLock = unsafe extern "C" fn(*mut ffi::sqlite3_file, c_int, c_int, c_int) -> c_int;
type Close = unsafe extern "C" fn(*mut ffi::sqlite3_file) -> c_int;

/// SQLite's own methods for a database file, but `xShmLock` and `xClose`
/// ours; the methods they replace, and the address they were copied from.
struct DatabaseMethods {
    methods: ffi::sqlite3_io_methods,
    from: usize,
    shm_lock: ShmLock,
    close: Close,
}

/// Set from the first database file opened; None when SQLite's methods
/// have no `xShmLock` to hook.
static DATABASE_METHODS: OnceLock<Option<DatabaseMethods>> = OnceLock::new();

/// Give a database file SQLite just opened our `xShmLock` and `xClose`,
/// and remember it for its WAL. A file whose methods are not the ones seen
/// first (another locking style) keeps its own; its WAL still drops what
/// it holds when it closes.
///
/// # Safety
/// `file` must be a database file the default VFS just opened (methods
/// set) in memory of this VFS's `szOsFile`, under the name `name`.
unsafe fn hook_database(file: *mut ffi::sqlite3_file, name: ffi::sqlite3_filename) {
    // SAFETY: per the function's contract; the methods SQLite sets are
    // static, so their copy stays valid.
    unsafe {
        let own = (*file).pMethods;
        let hooked = DATABASE_METHODS.get_or_init(|| {
            let mut methods = *own;
            let shm_lock = methods.xShmLock?;
            let close = methods.xClose?;
            methods.xShmLock = Some(database_shm_lock);
            methods.xClose = Some(database_close);
            Some(DatabaseMethods {
                methods,
                from: own as usize,
                shm_lock,
                close,
            })
        });
        let Some(hooked) = hooked else { return };
        if hooked.from != own as usize {
            return;
        }
        link(file).write(null_mut());
        (*file).pMethods = &hooked.methods;
        if let Ok(mut dbs) = DATABASES.lock() {
            dbs.push((name as usize, file as usize));
        }
    }
}

/// SQLite's `xShmLock` on a hooked database file; on the release of the
/// WAL write lock, what the WAL holds is dropped first.
unsafe extern "C" fn database_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let Some(Some(hooked)) = DATABASE_METHODS.get() else {
        return ffi::SQLITE_MISUSE;
    };
    if offset == WAL_WRITE_LOCK
        && n == 1
        && flags == ffi::SQLITE_SHM_UNLOCK | ffi::SQLITE_SHM_EXCLUSIVE
    {
        // SAFETY: a hooked database file's link is null or its open WAL's
        // `Wal` (cleared when that closes), used by this same connection.
        unsafe {
            let wal = *link(file);
            if !wal.is_null() {
                (*wal).drop_held();
            }
        }
    }
    // SAFETY: SQLite's own method, with the arguments SQLite gave this one.
    unsafe { (hooked.shm_lock)(file, offset, n, flags) }
}

/// SQLite's `xClose` on a hooked database file, after forgetting it.
unsafe extern "C" fn database_close(file: *mut ffi::sqlite3_file) -> c_int {
    let Some(Some(hooked)) = DATABASE_METHODS.get() else {
        return ffi::SQLITE_MISUSE;
    };
    if let Ok(mut dbs) = DATABASES.lock() {
        dbs.retain(|&(_, db)| db != file as usize);
    }
    // SAFETY: as in `database_shm_lock`. A WAL still open (SQLite closes it
    // first) no longer points here.
    unsafe {
        let wal = *link(file);
        if !wal.is_null() {
            (*wal).db = null_mut();
        }
        (hooked.close)(file)
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 1: the WAL file is only read and written (shared memory and
    // memory-mapped reads are the database file's).
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// SQLite opens a file: the default VFS's own for any file but a WAL.
unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY (whole function): SQLite passes our VFS (its pAppData is the
    // default VFS, set by `register`) and `szOsFile` bytes at `file`, which
    // hold a `Wal` followed by the default VFS's file.
    unsafe {
        let base = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
        let Some(base_open) = (*base).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            let rc = base_open(base, name, file, flags, out_flags);
            if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 && !(*file).pMethods.is_null() {
                hook_database(file, name);
            }
            return rc;
        }
        let inner = file
            .cast::<u8>()
            .add(wal_size())
            .cast::<ffi::sqlite3_file>();
        (*inner).pMethods = std::ptr::null();
        let rc = base_open(base, name, inner, flags, out_flags);
        if (*inner).pMethods.is_null() {
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        let db = database_of(name);
        let wal = file.cast::<Wal>();
        wal.write(Wal {
            file: ffi::sqlite3_file { pMethods: &METHODS },
            inner,
            held: Vec::new(),
            at: 0,
            commit_page_at: None,
            db,
        });
        if !db.is_null() {
            link(db).write(wal);
        }
        rc
    }
}

/// The `Wal` behind a file SQLite opened through [`open`].
///
/// # Safety
/// `file` must be a WAL file opened by [`open`] and not yet closed, used
/// by one thread at a time (SQLite's connection is).
unsafe fn wal<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Wal {
    // SAFETY: per the function's contract.
    unsafe { &mut *file.cast::<Wal>() }
}

impl Wal {
    /// Drop what is held: frames of a transaction that did not commit.
    fn drop_held(&mut self) {
        self.held.clear();
        self.commit_page_at = None;
    }

    /// The default VFS's methods for the inner file.
    fn inner(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `open` keeps a Wal only when the inner open set them,
        // and they are static in SQLite.
        unsafe { &*(*self.inner).pMethods }
    }

    /// Write what is held to the file, in one call.
    fn write_out(&mut self) -> c_int {
        if self.held.is_empty() {
            return ffi::SQLITE_OK;
        }
        let rc = self.write_through(self.held.as_ptr().cast(), self.held.len(), self.at);
        self.held.clear();
        rc
    }

    fn write_through(&mut self, data: *const c_void, len: usize, at: i64) -> c_int {
        let (Some(xwrite), Ok(len)) = (self.inner().xWrite, c_int::try_from(len)) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        #[cfg(test)]
        tests::WRITES.with(|n| n.set(n.get() + 1));
        // SAFETY: `data` holds `len` bytes (SQLite's buffer or `held`).
        unsafe { xwrite(self.inner, data, len, at) }
    }

    fn hold(&mut self, data: &[u8], at: i64) -> c_int {
        let follows = self.at + self.held.len() as i64 == at;
        if !self.held.is_empty() && (!follows || self.held.len() + data.len() > MAX_HELD) {
            let rc = self.write_out();
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if data.len() > MAX_HELD {
            return self.write_through(data.as_ptr().cast(), data.len(), at);
        }
        if self.held.is_empty() {
            self.at = at;
        }
        self.held.extend_from_slice(data);
        ffi::SQLITE_OK
    }
}

/// Bytes 4–7 of a frame header: the database's size after a commit, zero
/// in every other frame.
fn commits(header: &[u8]) -> bool {
    header[4..8] != [0, 0, 0, 0]
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    at: i64,
) -> c_int {
    // SAFETY: SQLite calls this on a file opened by `open`, with `amount`
    // bytes at `data`.
    let (w, data) = unsafe {
        let len = usize::try_from(amount).unwrap_or(0);
        (
            wal(file),
            std::slice::from_raw_parts(data.cast::<u8>(), len),
        )
    };
    if w.commit_page_at.take() == Some(at) {
        // The commit frame's page: everything before it is written.
        return w.write_through(data.as_ptr().cast(), data.len(), at);
    }
    let rc = w.hold(data, at);
    if rc != ffi::SQLITE_OK || data.len() != FRAME_HEADER || !commits(data) {
        return rc;
    }
    // A commit frame's header: write out everything up to it now, so that
    // nothing of a commit is still held when its last write returns.
    w.commit_page_at = Some(at + FRAME_HEADER as i64);
    w.write_out()
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file opened by `open` once; the Wal is read
    // out of its memory here and never used again.
    unsafe {
        let w = file.cast::<Wal>().read();
        if !w.db.is_null() {
            link(w.db).write(null_mut());
        }
        // Still held: frames of a transaction that did not commit. Dropped.
        let rc = match w.inner().xClose {
            Some(xclose) => xclose(w.inner),
            None => ffi::SQLITE_OK,
        };
        (*file).pMethods = std::ptr::null();
        rc
    }
}

/// Write out what is held, then run `then` on the inner file.
fn after_write_out(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(&ffi::sqlite3_io_methods, *mut ffi::sqlite3_file) -> Option<c_int>,
) -> c_int {
    // SAFETY: SQLite calls the methods below on a file opened by `open`.
    let rc = unsafe { wal(file) }.write_out();
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    pass(file, then)
}

/// Run `then` on the inner file (nothing held needs writing first).
fn pass(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(&ffi::sqlite3_io_methods, *mut ffi::sqlite3_file) -> Option<c_int>,
) -> c_int {
    // SAFETY: as in `after_write_out`.
    let w = unsafe { wal(file) };
    then(w.inner(), w.inner).unwrap_or(ffi::SQLITE_MISUSE)
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    amount: c_int,
    at: i64,
) -> c_int {
    // SAFETY (each closure below): the inner method is called with the
    // arguments SQLite gave this one.
    after_write_out(file, |m, f| {
        m.xRead.map(|x| unsafe { x(f, data, amount, at) })
    })
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_write_out(file, |m, f| m.xTruncate.map(|x| unsafe { x(f, size) }))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_write_out(file, |m, f| m.xSync.map(|x| unsafe { x(f, flags) }))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_write_out(file, |m, f| m.xFileSize.map(|x| unsafe { x(f, size) }))
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    after_write_out(file, |m, f| {
        m.xFileControl.map(|x| unsafe { x(f, op, arg) })
    })
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass(file, |m, f| m.xLock.map(|x| unsafe { x(f, level) }))
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass(file, |m, f| m.xUnlock.map(|x| unsafe { x(f, level) }))
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    pass(file, |m, f| {
        m.xCheckReservedLock.map(|x| unsafe { x(f, out) })
    })
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    pass(file, |m, f| m.xSectorSize.map(|x| unsafe { x(f) }))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    pass(file, |m, f| {
        m.xDeviceCharacteristics.map(|x| unsafe { x(f) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};
    use std::cell::Cell;
    use std::path::Path;

    thread_local! {
        /// Writes this thread's WAL files made to the file system.
        pub(super) static WRITES: Cell<u64> = const { Cell::new(0) };
    }

    fn writes() -> u64 {
        WRITES.with(Cell::get)
    }

    /// A connection as the ingest writer opens it: this VFS, WAL,
    /// `synchronous=NORMAL`, no automatic checkpoint.
    fn writer(path: &Path) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags_and_vfs(path, flags, register().unwrap()).unwrap();
        conn.execute_batch(crate::store::open::SQLITE_SETUP)
            .unwrap();
        conn
    }

    /// Another connection on SQLite's own VFS, as the pool's are.
    fn plain(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(crate::store::open::SQLITE_SETUP)
            .unwrap();
        conn
    }

    /// The database as a crash of the process would leave it: its file and
    /// WAL as the kernel has them, copied and opened elsewhere (SQLite
    /// recovers the WAL there, keeping only frames whose checksums hold, up
    /// to the last commit frame).
    fn after_a_crash(path: &Path) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.db");
        std::fs::copy(path, &copy).unwrap();
        std::fs::copy(
            path.with_extension("db-wal"),
            dir.path().join("copy.db-wal"),
        )
        .unwrap();
        let conn = Connection::open(&copy).unwrap();
        (dir, conn)
    }

    /// Bytes `conn`'s WAL file holds back now.
    fn held(conn: &Connection) -> usize {
        let mut file: *mut ffi::sqlite3_file = null_mut();
        // SAFETY: the connection's handle is valid while `conn` lives, and
        // SQLITE_FCNTL_JOURNAL_POINTER writes the WAL's file (opened by
        // this VFS: `writer`) to `file`, a pointer.
        unsafe {
            let rc = ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_JOURNAL_POINTER,
                (&raw mut file).cast(),
            );
            assert_eq!(rc, ffi::SQLITE_OK);
            assert!(!file.is_null() && std::ptr::eq((*file).pMethods, &METHODS));
            wal(file).held.len()
        }
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }

    fn table(conn: &Connection) {
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
             CREATE INDEX t_body ON t(body);",
        )
        .unwrap();
    }

    /// A new database with the table, and the writer's connection on it;
    /// with `cache_pages`, SQLite's page cache that small (a transaction
    /// larger than it spills frames before its commit).
    fn database(cache_pages: Option<u32>) -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let w = writer(&path);
        table(&w);
        if let Some(pages) = cache_pages {
            w.execute_batch(&format!("PRAGMA cache_size={pages}"))
                .unwrap();
        }
        (dir, path, w)
    }

    /// The files as a crash would leave them hold `rows` rows, intact.
    fn whole_after_a_crash(path: &Path, rows: i64, round: i64) {
        let (_copy, crashed) = after_a_crash(path);
        assert_eq!(count(&crashed), rows, "round {round}: after a crash");
        assert_eq!(integrity(&crashed), "ok", "round {round}: after a crash");
    }

    /// Insert `n` rows of `size` random bytes each.
    fn insert(conn: &Connection, n: usize, size: usize) {
        let mut st = conn
            .prepare_cached("INSERT INTO t(body) VALUES (randomblob(?1))")
            .unwrap();
        for _ in 0..n {
            st.execute([size as i64]).unwrap();
        }
    }

    /// Frames in the WAL file as the file system has it (nothing
    /// checkpoints it in these tests, so it only grows).
    fn frames(path: &Path) -> i64 {
        let len = std::fs::metadata(path.with_extension("db-wal"))
            .unwrap()
            .len() as i64;
        (len - 32) / (FRAME_HEADER as i64 + 4096)
    }

    /// A commit of a batch's size (some 20 frames) reaches the file in two
    /// writes (its frames up to the commit frame's header, then that
    /// frame's page), where SQLite alone makes two per frame; a commit
    /// larger than one write (128 KiB at most) in a few. Every commit is
    /// whole in the file when it returns: another connection reads it, and
    /// the files as a crash would leave them hold it.
    #[test]
    fn a_commit_is_two_writes_and_in_the_file_when_it_returns() {
        let (_dir, path, w) = database(None);
        let r = plain(&path);
        let mut rows = 0;
        for round in 1..=20 {
            // 4 rows of 3,000 bytes (a page of the table and two or more of
            // the index each: under 128 KiB), or 100 (about 1.2 MB).
            let n = if round % 5 == 0 { 100 } else { 4 };
            let frames_before = frames(&path);
            let tx = w.unchecked_transaction().unwrap();
            insert(&tx, n, 3000);
            let before = writes();
            tx.commit().unwrap();
            let made = writes() - before;
            let framed = frames(&path) - frames_before;
            assert!(made >= 1, "round {round}: written through this VFS");
            rows += n as i64;
            if n == 4 {
                assert!(framed >= 8, "round {round}: {framed} frames");
                assert!(made <= 2, "round {round}: {framed} frames in {made} writes");
            } else {
                assert!(framed >= 200, "round {round}: {framed} frames");
                assert!(
                    made <= 12,
                    "round {round}: {framed} frames in {made} writes"
                );
            }
            assert_eq!(count(&r), rows, "round {round}: read by another connection");
            whole_after_a_crash(&path, rows, round);
        }
    }

    /// A transaction larger than SQLite's page cache spills frames before
    /// its commit and, when it changes a spilled page again, rewrites that
    /// frame in place and then the checksums of every frame after it, the
    /// commit frame's last (sqlite3.c, `walRewriteChecksums`). That last
    /// header is written too: the files as a crash would leave them hold
    /// the whole transaction.
    #[test]
    fn a_transaction_that_rewrote_spilled_frames_is_whole_after_a_crash() {
        let (_dir, path, w) = database(Some(8));
        let r = plain(&path);
        for round in 1..=5 {
            let tx = w.unchecked_transaction().unwrap();
            insert(&tx, 400, 200);
            // Every row again: pages spilled earlier change again.
            tx.execute("UPDATE t SET body = randomblob(200)", [])
                .unwrap();
            tx.commit().unwrap();
            assert_eq!(count(&r), round * 400);
            whole_after_a_crash(&path, round * 400, round);
        }
    }

    /// Frames of a transaction that rolled back are never written: the
    /// connection after it writes its own frames at the same place in the
    /// WAL, and the rolled-back ones, written late, would overwrite them.
    /// They are dropped when SQLite releases the write lock, so the same
    /// connection can go on writing, and at close.
    #[test]
    fn frames_of_a_transaction_that_rolled_back_are_never_written() {
        let (_dir, path, w) = database(Some(8));
        for round in 1..=2 {
            // Every page in the database file, none in the WAL: the
            // rollback below reads its pages back from the file, not from
            // the WAL (a read of the WAL writes out what is held first,
            // harmlessly: the writer still holds SQLite's write lock then).
            w.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
            let tx = w.unchecked_transaction().unwrap();
            // Spills frames, held (under MAX_HELD) after the WAL's new header.
            insert(&tx, 60, 200);
            assert!(
                held(&tx) > 0,
                "round {round}: the transaction spilled frames"
            );
            drop(tx);
            assert_eq!(held(&w), 0, "round {round}: dropped at the rollback");
            let r = plain(&path);
            r.execute_batch("BEGIN IMMEDIATE").unwrap();
            insert(&r, 300, 200);
            r.execute_batch("COMMIT").unwrap();
            drop(r);
            // The same connection writes on (round 1) or closes (round 2).
            if round == 1 {
                insert(&w, 1, 200);
            }
        }
        drop(w);
        let r = plain(&path);
        assert_eq!(count(&r), 601);
        assert_eq!(integrity(&r), "ok");
        whole_after_a_crash(&path, 601, 2);
    }
}
