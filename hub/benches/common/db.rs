//! The benchmarks' database: a fresh PostgreSQL database when
//! `ORKHUB_BENCH_PG` names a server (dropped afterwards), else a SQLite file
//! (`ORKHUB_BENCH_SQLITE` keeps one between runs, else a temporary one).

pub struct BenchDb {
    pub url: String,
    pub engine: &'static str,
    /// (admin URL, database name) of a PostgreSQL database to drop.
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchDb {
    pub async fn create() -> anyhow::Result<BenchDb> {
        if let Ok(admin) = std::env::var("ORKHUB_BENCH_PG") {
            return BenchDb::postgres(&admin).await;
        }
        let dir = tempfile::tempdir()?;
        let url = match std::env::var("ORKHUB_BENCH_SQLITE") {
            Ok(path) => format!("sqlite://{path}"),
            Err(_) => format!("sqlite://{}/bench.db", dir.path().display()),
        };
        Ok(BenchDb {
            url,
            engine: "SQLite",
            pg: None,
            _dir: dir,
        })
    }

    /// A fresh database on the PostgreSQL server `admin` names.
    pub async fn postgres(admin: &str) -> anyhow::Result<BenchDb> {
        sqlx::any::install_default_drivers();
        let name = format!("orkhub_bench_{}", rand::random::<u32>());
        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Ok(BenchDb {
            url: format!("{base}/{name}"),
            engine: "PostgreSQL",
            pg: Some((admin.to_string(), name)),
            _dir: tempfile::tempdir()?,
        })
    }

    /// Drop the PostgreSQL database (a SQLite file goes with its folder).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.pg {
            let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await?;
        }
        Ok(())
    }
}
