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
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}
