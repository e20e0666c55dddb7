//! The documented length limits of the API's free text and lists, and the
//! checks that refuse a value over one (422 naming the field, before
//! anything is written). Lengths are counted in characters (Unicode code
//! points), as JSON Schema's `maxLength` counts them; the OpenAPI document
//! states the same numbers.

use super::error::ApiError;

/// An ID or handle: a person, agent, channel, project, notification.
pub const ID: usize = 100;
/// A kind of notification or decision (`deploy.failed`, `spend`).
pub const KIND: usize = 100;
/// A notification's or message's title.
pub const TITLE: usize = 1_024;
/// A notification's or message's text; a decision's context.
pub const TEXT: usize = 65_536;
/// Entries in `fields`, and the length of each one's name and value.
pub const FIELDS: usize = 50;
pub const FIELD_NAME: usize = 256;
pub const FIELD_VALUE: usize = 2_048;
/// A dedupe key.
pub const DEDUPE_KEY: usize = 255;
/// A model name on a cost record.
pub const MODEL: usize = 200;
/// A short free-text note (heartbeat, task move) or a decision's reasoning.
pub const NOTE: usize = 4_000;
/// A word from a fixed set (status, priority, move target, outcome).
pub const WORD: usize = 50;
/// A decision's options, and each option's length.
pub const OPTIONS: usize = 20;
pub const OPTION: usize = 200;
/// A task's capabilities, and each one's length.
pub const CAPABILITIES: usize = 20;
pub const CAPABILITY: usize = 100;
/// A webhook's URL.
pub const URL: usize = 2_048;
/// A webhook's event patterns.
pub const EVENTS: usize = 20;
/// A task's title (the commands crate's limit, the same in chat).
pub const TASK_TITLE: usize = commands::MAX_TITLE_CHARS;

/// `value` is at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n > max {
        return Err(ApiError::invalid(format!(
            "{field}: {n} characters is over the limit of {max}"
        )));
    }
    Ok(())
}

/// As [`text`], for an optional value.
pub fn opt(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// `items` has at most `max` entries.
pub fn list<T>(field: &str, items: &[T], max: usize) -> Result<(), ApiError> {
    if items.len() > max {
        return Err(ApiError::invalid(format!(
            "{field}: {} entries is over the limit of {max}",
            items.len()
        )));
    }
    Ok(())
}

/// Each of `items` is at most `max` characters (`field[i]` named).
pub fn each(field: &str, items: &[String], max: usize) -> Result<(), ApiError> {
    for (i, v) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), v, max)?;
    }
    Ok(())
}

/// `fields`: at most [`FIELDS`] entries, names and values within limits.
pub fn fields(fields: &[commands::Field]) -> Result<(), ApiError> {
    list("fields", fields, FIELDS)?;
    for (i, f) in fields.iter().enumerate() {
        text(&format!("fields[{i}].name"), &f.name, FIELD_NAME)?;
        text(&format!("fields[{i}].value"), &f.value, FIELD_VALUE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn characters_are_counted_not_bytes() {
        assert!(super::text("note", &"é".repeat(10), 10).is_ok());
        let e = super::text("note", &"é".repeat(11), 10).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(e.message, "note: 11 characters is over the limit of 10");
        let e = super::each("options", &["a".into(), "bbb".into()], 2).unwrap_err();
        assert!(e.message.starts_with("options[1]: "), "{}", e.message);
        assert!(super::list("options", &[1, 2, 3], 2).is_err());
    }
}
