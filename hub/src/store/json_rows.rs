//! Many rows through one parameter: the rows travel as a JSON array of
//! arrays and the statement unpacks them (`jsonb_each` on SQLite,
//! `jsonb_array_elements` on PostgreSQL).
//!
//! Why: a multi-row `VALUES` list makes a new statement for every batch size,
//! so every ingest commit parsed (and PostgreSQL planned) a statement of up
//! to 7,000 placeholders — 7% of the ingest benchmark's CPU on SQLite went to
//! `sqlite3_prepare` alone. With the rows in one JSON value the statement
//! text never changes: it is prepared once per connection and cached, and
//! binding is one value instead of thousands.

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
