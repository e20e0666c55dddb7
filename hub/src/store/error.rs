use thiserror::Error;

/// What can go wrong in the store, phrased for the person who has to act.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database did not answer (connection refused or lost, the pool
    /// timed out waiting for a connection, the server shutting down or
    /// busy): nothing is wrong with the data, the same request can succeed
    /// once it is back.
    #[error("the database is unavailable ({0}); nothing was changed, retry shortly")]
    Unavailable(String),
    #[error("database error: {0}")]
    Sql(#[source] sqlx::Error),
    /// From SQLite's ingest writer, which binds rows through rusqlite
    /// (sqlite_ingest.rs) rather than sqlx.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    /// A value refused before anything was written.
    #[error("{0}")]
    Invalid(String),
    /// One failure reported to every request that shared it (an ingest
    /// batch): the original's text, as the original could not be copied.
    #[error("{0}")]
    Shared(String),
}

impl StoreError {
    /// True when the database did not answer, rather than refused or
    /// could not read what it was asked.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// The same failure for another request of the same batch: an outage
    /// stays an outage, anything else keeps its text.
    pub fn shared(&self) -> StoreError {
        match self {
            StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
            other => StoreError::Shared(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if unreachable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Sql(e)
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // The same codes as through sqlx: busy or locked after the busy timeout.
        if e.sqlite_error()
            .is_some_and(|f| busy_or_locked(f.extended_code.into()))
        {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Sqlite(e)
        }
    }
}

/// Whether `e` says the database could not be reached or is not serving,
/// as opposed to a statement it refused.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        // The PostgreSQL wire protocol cut mid-message also reads as a
        // protocol error.
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| unavailable_code(&c)),
        _ => false,
    }
}

/// SQLSTATE classes meaning "not serving now": 08 connection exception,
/// 57P01-57P03 shutting down / cannot connect now, 53300 too many
/// connections. SQLite: 5 (SQLITE_BUSY) and 6 (SQLITE_LOCKED) after the
/// busy timeout, extended codes included (the low byte).
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300") {
        return true;
    }
    code.parse::<i64>().is_ok_and(busy_or_locked)
}

/// SQLITE_BUSY or SQLITE_LOCKED, extended codes included (the low byte).
fn busy_or_locked(code: i64) -> bool {
    matches!(code & 0xff, 5 | 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_that_does_not_answer_is_unavailable_not_corrupt() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            let s = StoreError::from(e);
            assert!(s.is_unavailable(), "{s}");
            assert!(s.to_string().contains("database is unavailable"), "{s}");
            assert!(s.shared().is_unavailable());
        }
        let refused = StoreError::from(sqlx::Error::RowNotFound);
        assert!(!refused.is_unavailable(), "{refused}");
        assert!(!refused.shared().is_unavailable());
        assert!(unavailable_code("08006") && unavailable_code("57P03") && unavailable_code("5"));
        assert!(unavailable_code("517") && !unavailable_code("23505") && !unavailable_code("19"));
    }

    #[test]
    fn a_busy_sqlite_writer_is_unavailable_and_a_refused_row_is_not() {
        let failure = |code| {
            StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(failure(rusqlite::ffi::SQLITE_BUSY).is_unavailable());
        assert!(failure(rusqlite::ffi::SQLITE_BUSY_SNAPSHOT).is_unavailable());
        assert!(failure(rusqlite::ffi::SQLITE_LOCKED).is_unavailable());
        let refused = failure(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY);
        assert!(!refused.is_unavailable(), "{refused}");
        assert!(
            refused.to_string().starts_with("database error: "),
            "{refused}"
        );
    }
}
