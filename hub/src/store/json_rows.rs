//! Each table's insert statement for many rows, in the forms the store
//! binds them:
//! - [`Table::insert`]: the rows as one JSON array of arrays, unpacked by
//!   the statement (`jsonb_each` on SQLite, `jsonb_array_elements` on
//!   PostgreSQL): the pool's batches (scheduled jobs, tests).
//! - [`Table::insert_rows`]: a multi-row VALUES list, each value bound on
//!   its own: SQLite's ingest writer (sqlite_ingest.rs).
//! - [`Table::insert_unnest`]: one array parameter per column, unpacked by
//!   unnest: PostgreSQL's ingest writer (postgres_ingest.rs).
//!
//! Why one JSON parameter rather than a VALUES list on the pool: a VALUES
//! list makes a new statement for every batch size, so every commit parsed
//! (and PostgreSQL planned) a statement of up to 7,000 placeholders — 7% of
//! the ingest benchmark's CPU on SQLite went to `sqlite3_prepare` alone.
//! With the rows in one JSON value the statement text never changes: it is
//! prepared once per connection and cached, and binding is one value
//! instead of thousands. The ingest writers went further, each where its
//! engine allows (see their files).

use super::Dialect;

/// How a column comes out of the JSON: text as is, integers as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Text,
    Int,
}

/// A table's insert: its name, column list and column types (in the order
/// of each row's array).
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Col)],
}

impl Table {
    /// `INSERT INTO name (cols) SELECT ... FROM <rows of parameter n>`, plus
    /// `tail` (an ON CONFLICT clause). On SQLite the parameter is `?n`.
    pub fn insert(&self, dialect: Dialect, param: usize, tail: &str) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let values: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, col))| match (dialect, col) {
                // SQLite's ->> gives a JSON integer back as an INTEGER.
                (Dialect::Sqlite, _) => format!("value->>{i}"),
                (Dialect::Postgres, Col::Text) => format!("e->>{i}"),
                (Dialect::Postgres, Col::Int) => format!("(e->>{i})::bigint"),
            })
            .collect();
        let source = match dialect {
            // jsonb_each hands each row over as JSONB, which ->> reads
            // without turning it back into text first.
            Dialect::Sqlite => format!("jsonb_each(?{param})"),
            // jsonb: parsed once, then each ->> is a lookup (on plain json
            // every ->> parses the row's text again from its start).
            Dialect::Postgres => format!("jsonb_array_elements(${param}::jsonb) AS e"),
        };
        // SQLite reads `ON CONFLICT` right after `FROM x` as a join
        // constraint; a WHERE clause in between settles it (SQLite docs,
        // "UPSERT", parsing ambiguity).
        let filter = if tail.is_empty() { "" } else { " WHERE true" };
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {source}{filter}{tail}",
            self.name,
            names.join(", "),
            values.join(", ")
        )
    }

    /// `INSERT INTO name (cols) SELECT unnest($p::text[]), …`, one array
    /// parameter per column from `$first` on, plus `tail`: for
    /// PostgreSQL's ingest writer (postgres_ingest.rs).
    ///
    /// Why in the select list rather than `FROM UNNEST(…)`: there the
    /// server first copies every row into a tuplestore (a table
    /// function's result), then reads it back — 10% of its CPU per
    /// notification under bench/external.sh; in the select list the
    /// arrays are walked in step, a row at a time (ProjectSet). The arrays
    /// are all the batch's length, so neither pads with NULLs.
    pub fn insert_unnest(&self, first: usize, tail: &str) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let values: Vec<String> = self
            .arrays(first)
            .iter()
            .map(|a| format!("unnest({a})"))
            .collect();
        format!(
            "INSERT INTO {} ({}) SELECT {}{tail}",
            self.name,
            names.join(", "),
            values.join(", ")
        )
    }

    /// `$first::text[]`, `$first+1::bigint[]`, …: one typed array
    /// parameter per column, for unnest.
    pub fn arrays(&self, first: usize) -> Vec<String> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, (_, col))| match col {
                Col::Text => format!("${}::text[]", first + i),
                Col::Int => format!("${}::bigint[]", first + i),
            })
            .collect()
    }

    /// `INSERT OR ROLLBACK INTO name (cols) VALUES (?1, …, ?n), …` for
    /// `rows` rows, plus `tail`: rows bound value by value, for SQLite's
    /// ingest writer (sqlite_ingest.rs).
    ///
    /// Why OR ROLLBACK: a multi-row insert that could fail part-way (a
    /// CHECK, NOT NULL or unique constraint, whose default is to undo only
    /// the failing statement) makes SQLite open a statement journal for
    /// it and copy every page the statement changes into it first — 2.4%
    /// of the hub's instructions under `bench/instructions.sh`
    /// (`subjournalPageIfRequired`, `memjrnlWrite`). The writer never
    /// wants half a batch: any failed statement already ends the whole
    /// transaction. With OR ROLLBACK a violation rolls the transaction
    /// back at once, and SQLite has nothing to journal for these
    /// constraints. (An immediate foreign key would still need the
    /// journal: the writer's connection checks that one itself, see
    /// sqlite_ingest.rs.) An ON CONFLICT `tail` still decides the
    /// conflicts on its own target.
    pub fn insert_rows(&self, rows: usize, tail: &str) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let width = self.columns.len();
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let params: Vec<String> =
                    (1..=width).map(|c| format!("?{}", r * width + c)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!(
            "INSERT OR ROLLBACK INTO {} ({}) VALUES {}{tail}",
            self.name,
            names.join(", "),
            values.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table {
        name: "t",
        columns: &[("a", Col::Text), ("b", Col::Int)],
    };

    #[test]
    fn statements_unpack_one_json_parameter() {
        assert_eq!(
            T.insert(Dialect::Sqlite, 1, ""),
            "INSERT INTO t (a, b) SELECT value->>0, value->>1 FROM jsonb_each(?1)"
        );
        assert_eq!(
            T.insert(Dialect::Postgres, 2, " ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) SELECT e->>0, (e->>1)::bigint FROM jsonb_array_elements($2::jsonb) AS e WHERE true ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn unnest_inserts_take_an_array_per_column() {
        assert_eq!(
            T.insert_unnest(3, " ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) SELECT unnest($3::text[]), unnest($4::bigint[]) ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn row_inserts_number_a_parameter_per_value() {
        assert_eq!(
            T.insert_rows(1, " ON CONFLICT DO NOTHING"),
            "INSERT OR ROLLBACK INTO t (a, b) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            T.insert_rows(3, ""),
            "INSERT OR ROLLBACK INTO t (a, b) VALUES (?1, ?2), (?3, ?4), (?5, ?6)"
        );
    }
}
