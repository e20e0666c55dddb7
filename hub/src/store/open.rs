//! Opening the database: pick the engine from the URL, create the SQLite file
//! (WAL) on first start, and run that engine's migrations.

use super::{Dialect, Store, StoreError};
use crate::config::redact_url;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// A URL of no engine the store speaks.
fn unsupported(url: &str) -> StoreError {
    StoreError::Open {
        url: redact_url(url),
        source: sqlx::Error::Configuration(
            format!(
                "unsupported database URL {:?}: use sqlite://FILE or postgres://...",
                redact_url(url)
            )
            .into(),
        ),
    }
}

impl Store {
    /// What [`Store::open`] checks of `url` before it connects (the engine,
    /// the URL's syntax and options), without connecting or creating
    /// anything: for `orkhub check-config`.
    pub fn check_url(url: &str) -> Result<(), StoreError> {
        sqlx::any::install_default_drivers();
        let known = ["postgres://", "postgresql://", "sqlite:"];
        if !known.iter().any(|p| url.starts_with(p)) {
            return Err(unsupported(url));
        }
        AnyConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            url: redact_url(url),
            source,
        })?;
        Ok(())
    }

    /// Open (and migrate) the database at `url`: `sqlite://path/to/file.db` or
    /// `postgres://...`. A SQLite file and its folder are created if missing.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let open_err = |source| StoreError::Open {
            url: redact_url(url),
            source,
        };
        let (dialect, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, loopback_without_tls(url))
        } else if url.starts_with("sqlite:") {
            // The folder of the file sqlx will open (its name decoded).
            if let Some(file) = sqlite_file(url)
                && let Some(dir) = file.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
            // WAL (set after connect) lets readers run beside the single
            // writer; NORMAL sync is durable across process crashes (kill -9).
            let sep = if url.contains('?') { '&' } else { '?' };
            (Dialect::Sqlite, format!("{url}{sep}mode=rwc"))
        } else {
            return Err(unsupported(url));
        };
        let options = AnyConnectOptions::from_str(&url).map_err(open_err)?;
        // The hooks hold it weakly: it holds the pool, and a strong
        // reference from the pool's own hooks would keep a dropped store's
        // pool, and every connection in it, open for the process's life.
        let surplus = std::sync::Arc::new(super::surplus::Surplus::default());
        let weak = std::sync::Arc::downgrade(&surplus);
        let (on_acquire, on_connect, on_release) = (weak.clone(), weak.clone(), weak);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it hands out: one more round trip
            // before each claim, record and read (to PostgreSQL, or to the
            // SQLite connection's thread) — on the urgent path a claim paid
            // two. A connection back from use within the last second is
            // known to be alive (sqlx also pings it when it comes back);
            // one idle longer, e.g. across a database restart, is still
            // checked first, and a dead one is replaced.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                if let Some(s) = on_acquire.upgrade() {
                    s.on_acquire();
                }
                Box::pin(async move {
                    if meta.idle_for >= RECENTLY_USED {
                        use sqlx::Connection;
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                if let Some(s) = on_connect.upgrade() {
                    s.on_acquire();
                }
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        use sqlx::Executor;
                        conn.execute(SQLITE_SETUP).await?;
                    }
                    Ok(())
                })
            })
            .after_release(move |_conn, _meta| {
                let keep = on_release.upgrade().is_none_or(|s| s.keep_on_release());
                Box::pin(async move { Ok(keep) })
            })
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        surplus.attach(&pool);
        match dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store {
            pool,
            dialect,
            sqlite_file: match dialect {
                Dialect::Sqlite => sqlite_file(&url).map(Into::into),
                Dialect::Postgres => None,
            },
            url: url.into(),
            origin: format!("{:016x}", rand::random::<u64>()).into(),
            keys_revoked: Default::default(),
            webhook_presence: Default::default(),
            dependency_edges: Default::default(),
            surplus,
            background: super::background::pool(dialect, &options),
            wal_rewind: Default::default(),
        })
    }
}

/// The database file behind a SQLite URL (`sqlite://path?mode=rwc`,
/// `sqlite:path`), read as sqlx reads it: the path percent-decoded (a `?`,
/// `#` or space in a file name). None for an in-memory database, which
/// only the pool's connections share, and for a path that does not decode.
pub(super) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory =
        path.is_empty() || path == ":memory:" || query.split('&').any(|o| o == "mode=memory");
    if in_memory {
        return None;
    }
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    Some(PathBuf::from(&*path))
}

/// What every SQLite connection of the hub sets first (both pools; see
/// background.rs): WAL, and no checkpoints inside commits (`wal.rs` runs
/// them in the background; after a restart the WAL file is cut back to
/// 64 MiB).
pub(super) const SQLITE_SETUP: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
     PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; \
     PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;";

/// A pooled connection used this recently is handed out without a ping.
const RECENTLY_USED: Duration = Duration::from_secs(1);

/// A PostgreSQL URL for this machine's own server gets `sslmode=disable`
/// unless it names an sslmode. TLS to a database on the same host protects
/// nothing, and with sqlx 0.9 it is slow: sqlx 0.9.0 no longer sets
/// TCP_NODELAY (transact-rs/sqlx#4335), and rustls writes a statement as
/// several TLS records, so Nagle's algorithm holds the last one back until
/// the server's delayed ACK — ingest on PostgreSQL ran 5× slower over TLS.
fn loopback_without_tls(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    if !loopback || url.contains("sslmode=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=disable")
}

#[cfg(test)]
mod tests {
    use super::loopback_without_tls;
    use super::sqlite_file;
    use std::path::PathBuf;

    #[test]
    fn only_a_loopback_url_without_sslmode_loses_tls() {
        assert_eq!(
            loopback_without_tls("postgres://postgres@127.0.0.1:5432/db"),
            "postgres://postgres@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u:p@localhost/db?application_name=x"),
            "postgres://u:p@localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u@[::1]:5432/db"),
            "postgres://u@[::1]:5432/db?sslmode=disable"
        );
        for kept in [
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres://u@db.internal:5432/db",
            "postgresql://u@10.0.0.5/db",
        ] {
            assert_eq!(loopback_without_tls(kept), kept);
        }
    }

    #[test]
    fn the_file_is_read_from_the_url_and_memory_has_none() {
        let file = |u: &str| sqlite_file(u);
        assert_eq!(
            file("sqlite://data/orkhub.db?mode=rwc"),
            Some(PathBuf::from("data/orkhub.db"))
        );
        assert_eq!(
            file("sqlite:///var/lib/orkhub/hub.db"),
            Some(PathBuf::from("/var/lib/orkhub/hub.db"))
        );
        assert_eq!(file("sqlite:hub.db"), Some(PathBuf::from("hub.db")));
        assert_eq!(
            file("sqlite://my%20data/hub%3F.db"),
            Some(PathBuf::from("my data/hub?.db")),
            "decoded as sqlx decodes it"
        );
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("sqlite://x.db?mode=memory&cache=shared"), None);
        assert_eq!(file("postgres://localhost/db"), None);
    }
}
