//! Placeholder lists for statements whose row count is only known at run
//! time. Only placeholders are generated here: values are always bound,
//! never inlined.
//!
//! PostgreSQL needs numbered `$1, $2, ...` (sqlx's QueryBuilder over `Any`
//! emits `?`, which it refuses). SQLite gets anonymous `?` for a list that
//! starts the statement: it treats `$7` as a *named* parameter, and both
//! preparing (name lookup) and binding (sqlx asks each parameter's name) scan
//! the statement's whole name list, which made a 7,000-value batch insert
//! quadratic. A list after other parameters gets `?NNN` on SQLite: sqlx
//! numbers anonymous `?` from 1 whatever comes before them.

use super::Dialect;

/// `($1, $2), ($3, $4)` (PostgreSQL) or `(?, ?), (?, ?)` (SQLite) for `rows`
/// rows of `cols` columns, numbered from 1.
pub fn rows(dialect: Dialect, cols: usize, rows: usize) -> String {
    rows_from(dialect, 1, cols, rows)
}

/// [`rows`] numbered from `first` (for several lists in one statement; on
/// SQLite the lists must come in binding order).
pub fn rows_from(dialect: Dialect, first: usize, cols: usize, rows: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            push(&mut out, dialect, first, first + r * cols + c);
        }
        out.push(')');
    }
    out
}

/// An IN list of `n` values numbered from `first`.
pub fn list(dialect: Dialect, first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 6);
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        push(&mut out, dialect, first, i);
    }
    out
}

fn push(out: &mut String, dialect: Dialect, first: usize, number: usize) {
    match dialect {
        Dialect::Sqlite if first == 1 => out.push('?'),
        Dialect::Sqlite => {
            out.push('?');
            out.push_str(&number.to_string());
        }
        Dialect::Postgres => {
            out.push('$');
            out.push_str(&number.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_in_order_on_postgres() {
        assert_eq!(rows(Dialect::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(list(Dialect::Postgres, 3, 3), "$3, $4, $5");
        assert_eq!(rows_from(Dialect::Postgres, 5, 2, 2), "($5, $6), ($7, $8)");
    }

    #[test]
    fn anonymous_on_sqlite() {
        assert_eq!(rows(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(list(Dialect::Sqlite, 1, 3), "?, ?, ?");
        // After other parameters: numbered, since sqlx counts anonymous ones from 1.
        assert_eq!(list(Dialect::Sqlite, 3, 2), "?3, ?4");
        assert_eq!(rows_from(Dialect::Sqlite, 2, 1, 2), "(?2), (?3)");
    }
}
