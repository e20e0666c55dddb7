//! A prepared statement of the SQLite ingest writer whose text values
//! SQLite reads where they are, for the length of one execution.
//!
//! Why not rusqlite's statements: rusqlite binds every text value with
//! `SQLITE_TRANSIENT`, so SQLite copies it into memory of its own (an
//! allocation, a copy, and a free when the statement's cached copy is
//! cleared) before the insert reads it once. The writer binds about 25
//! text values per notification (8 for it, 17 for its two deliveries);
//! binding took about 9% of the hub's instructions under
//! `bench/instructions.sh` (`sqlite3VdbeMemSetStr`, `sqlite3VdbeMemGrow`,
//! `vdbeUnbind`, `sqlite3_clear_bindings`, the allocator, `memcpy`), and
//! binding in place took 5.4% off the total (109,056 → 103,141).
//! rusqlite has no way to bind with `SQLITE_STATIC`, so this binds
//! through SQLite's C API directly, on the handle of the writer's
//! rusqlite connection.
//!
//! Safety rests on two rules, both kept inside [`Statement::execute`]:
//! a value borrowed by a binding lives for the whole call (the call
//! borrows it), and every binding is cleared before the call returns, so
//! SQLite never holds a pointer past it. And one kept by the owner: a
//! statement is finalized before its connection closes (the writer's
//! prepared statements drop before the connection they were prepared on;
//! see `sqlite_ingest::Own`).

use super::StoreError;
use rusqlite::ffi;
use std::ffi::{CStr, c_char, c_int};
use std::ptr::{NonNull, null_mut};

/// One value of a row, borrowed for one execution.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bind<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> Bind<'a> {
    pub(super) fn opt_text(s: Option<&'a str>) -> Bind<'a> {
        s.map_or(Bind::Null, Bind::Text)
    }

    pub(super) fn opt_int(i: Option<i64>) -> Bind<'a> {
        i.map_or(Bind::Null, Bind::Int)
    }
}

/// A statement prepared on the writer's connection, finalized on drop.
pub(super) struct Statement {
    raw: NonNull<ffi::sqlite3_stmt>,
    /// The connection it was prepared on, for its error messages.
    db: NonNull<ffi::sqlite3>,
}

// The statement moves between blocking threads with its connection (opened
// with SQLITE_OPEN_NO_MUTEX), which is used by one thread at a time and
// never shared, as rusqlite's own `Connection` is `Send`.
unsafe impl Send for Statement {}

impl Statement {
    /// Prepare `sql` on `conn`, to be run many times (`PERSISTENT`).
    pub(super) fn prepare(conn: &rusqlite::Connection, sql: &str) -> Result<Statement, StoreError> {
        // SAFETY: only read: the open connection's handle, which it keeps.
        let db = unsafe { conn.handle() };
        let db = NonNull::new(db).ok_or_else(|| {
            StoreError::Unavailable("the ingest writer's SQLite connection is closed".into())
        })?;
        let mut raw = null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| {
            StoreError::Invalid(format!("an insert of {} bytes is too long", sql.len()))
        })?;
        // SAFETY: an open connection; SQLite reads `sql` for its given
        // length (no NUL needed) during the call only.
        let code = unsafe {
            ffi::sqlite3_prepare_v3(
                db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut raw,
                null_mut(),
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(failure(db, code));
        }
        let raw = NonNull::new(raw).ok_or_else(|| {
            StoreError::Invalid("the ingest writer's insert has no statement in it".into())
        })?;
        Ok(Statement { raw, db })
    }

    /// Bind `values` (the statement's parameters in order, all of them),
    /// run it to completion, and clear the bindings again.
    pub(super) fn execute<'a>(
        &mut self,
        values: impl IntoIterator<Item = Bind<'a>>,
    ) -> Result<(), StoreError> {
        let bound = self.bind(values);
        let outcome = bound.and_then(|()| {
            // SAFETY: a prepared statement; every value bound borrows from
            // `values`, which outlives this call.
            match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
                ffi::SQLITE_DONE => Ok(()),
                ffi::SQLITE_ROW => Err(StoreError::Invalid(
                    "the ingest writer's insert returned rows".into(),
                )),
                code => Err(failure(self.db, code)),
            }
        });
        // SAFETY: reset and clear before the borrowed values go out of
        // scope: SQLite keeps no pointer to them after this.
        unsafe {
            ffi::sqlite3_reset(self.raw.as_ptr());
            ffi::sqlite3_clear_bindings(self.raw.as_ptr());
        }
        outcome
    }

    fn bind<'a>(&mut self, values: impl IntoIterator<Item = Bind<'a>>) -> Result<(), StoreError> {
        let stmt = self.raw.as_ptr();
        for (i, value) in values.into_iter().enumerate() {
            let index = c_int::try_from(i + 1)
                .map_err(|_| StoreError::Invalid(format!("parameter {} is out of range", i + 1)))?;
            // SAFETY: `stmt` is prepared; a text value is read in place
            // (SQLITE_STATIC) and stays borrowed until `execute` clears it.
            let code = unsafe {
                match value {
                    Bind::Text(s) => ffi::sqlite3_bind_text64(
                        stmt,
                        index,
                        s.as_ptr().cast::<c_char>(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Bind::Int(n) => ffi::sqlite3_bind_int64(stmt, index, n),
                    Bind::Null => ffi::sqlite3_bind_null(stmt, index),
                }
            };
            if code != ffi::SQLITE_OK {
                return Err(failure(self.db, code));
            }
        }
        Ok(())
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: prepared by `prepare`, finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

/// SQLite's error for `code`, with the connection's message (what
/// rusqlite reports), converted as every SQLite error of the store is.
fn failure(db: NonNull<ffi::sqlite3>, code: c_int) -> StoreError {
    // SAFETY: the connection is open; its message is a NUL-terminated
    // string SQLite owns until the next call on it, copied at once.
    let (extended, message) = unsafe {
        let extended = ffi::sqlite3_extended_errcode(db.as_ptr());
        let message = ffi::sqlite3_errmsg(db.as_ptr());
        let message =
            (!message.is_null()).then(|| CStr::from_ptr(message).to_string_lossy().into_owned());
        (extended, message)
    };
    // The extended code when SQLite has one for this failure (the unique
    // constraint, busy snapshot), else the code itself.
    let code = if extended & 0xff == code & 0xff {
        extended
    } else {
        code
    };
    StoreError::from(rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        message,
    ))
}
