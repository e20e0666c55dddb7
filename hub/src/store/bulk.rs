//! Multi-row inserts for loading large data sets quickly (the brief
//! benchmark's 1,000,000 cost rows; imports): one transaction, as many rows
//! per statement as the engine's bound-parameter limit allows. Table and
//! column names come from the caller's code, never from input.

use super::{Dialect, Store, StoreError, placeholders};
use sqlx::AssertSqlSafe;

/// One bound value. Nulls are typed so PostgreSQL accepts them.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkValue {
    Int(i64),
    Float(f64),
    Text(String),
    NullInt,
    NullFloat,
    NullText,
}

// SQLite allows 32,766 bound values per statement and PostgreSQL 65,535,
// but SQLite binds `$n` names one by one, so very wide statements get slow:
// stay around the size the ingest path uses there.
fn max_binds(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 4_000,
        Dialect::Postgres => 30_000,
    }
}

impl Store {
    /// Insert `rows` into `table(columns)` in one transaction.
    pub async fn bulk_insert(
        &self,
        table: &'static str,
        columns: &[&'static str],
        rows: &[Vec<BulkValue>],
    ) -> Result<(), StoreError> {
        let per = (max_binds(self.dialect) / columns.len().max(1)).max(1);
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(per) {
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                columns.join(", "),
                placeholders::rows(self.dialect, columns.len(), chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                for v in row {
                    q = match v {
                        BulkValue::Int(i) => q.bind(*i),
                        BulkValue::Float(f) => q.bind(*f),
                        BulkValue::Text(s) => q.bind(s.clone()),
                        BulkValue::NullInt => q.bind(None::<i64>),
                        BulkValue::NullFloat => q.bind(None::<f64>),
                        BulkValue::NullText => q.bind(None::<String>),
                    };
                }
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Refresh the planner's statistics after a bulk load (PostgreSQL also
    /// sets the visibility map, which index-only scans need).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let sql = match self.dialect {
            Dialect::Sqlite => "ANALYZE",
            Dialect::Postgres => "VACUUM ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}
