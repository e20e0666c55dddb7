//! Numbered placeholders (`$1, $2, ...`) for statements whose row count is
//! only known at run time. sqlx's QueryBuilder over the `Any` driver emits
//! `?`, which PostgreSQL refuses; numbered ones work on both engines. Only
//! placeholders are generated here: values are always bound, never inlined.

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` columns.
pub fn rows(cols: usize, rows: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, ...` for an IN list of `n` values.
pub fn list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbered_in_order() {
        assert_eq!(super::rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::list(3, 3), "$3, $4, $5");
    }
}
