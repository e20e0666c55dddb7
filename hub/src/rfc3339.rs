//! The API's one time format: RFC 3339 in UTC with milliseconds
//! (`2026-12-04T12:27:52.400Z`), the format chrono gives the task and
//! decision times. The store keeps times as Unix milliseconds; these serde
//! helpers turn them into that string where a stored row is answered as is.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Unix milliseconds as RFC 3339 UTC (`…Z`), millisecond precision.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(serialize_with = "crate::rfc3339::ms")]` on an `i64` of Unix ms.
pub fn ms<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ms(*ms))
}

/// The same for an `Option<i64>` (`null` stays `null`).
pub fn opt_ms<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(v) => s.serialize_str(&format_ms(*v)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_become_utc_strings() {
        assert_eq!(
            super::format_ms(1_796_388_445_720),
            "2026-12-04T12:47:25.720Z"
        );
        assert_eq!(super::format_ms(0), "1970-01-01T00:00:00.000Z");
    }
}
