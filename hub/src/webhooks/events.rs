//! The events the hub sends to webhooks, and what each one's `data` holds.
//! Every body is `{id, type, created_at, data}` (see
//! [`WebhookEvent::new`]); `data` is the thing as the API shows it.

use crate::store::{NewNotification, WebhookEvent};

/// Every event type the hub records (the patterns of a webhook may also
/// name types that come later, such as `deploy.*`).
pub const EVENT_TYPES: &[&str] = &[
    "notification.created",
    "task.created",
    "task.assigned",
    "task.moved",
    "task.completed",
    "decision.created",
    "decision.resolved",
    "question.asked",
    "question.answered",
    "cost.recorded",
    "agent.status",
];

/// A notification's `notification.created` event. Its ID is the
/// notification's with `evt_` for `n_`: the API's ingest has the database
/// build the same event from the stored row
/// (`store::webhooks::notification_fan_out_sql`), with the same ID and fields.
pub fn notification_created(n: &NewNotification) -> WebhookEvent {
    let suffix = n.id.strip_prefix("n_").unwrap_or(&n.id);
    WebhookEvent::with_id(
        format!("evt_{suffix}"),
        "notification.created",
        serde_json::json!({
            "id": n.id,
            "source": n.source,
            "kind": n.kind,
            "urgency": n.urgency,
            "recipient": {"kind": n.recipient_kind, "id": n.recipient_id},
            "project": n.project_id,
            "title": n.title,
            "text": n.body,
        }),
        n.created_at,
    )
}

/// Whether `pattern` is one a webhook may subscribe with: `*`, `word.*`
/// or `word.word` (lower-case letters, digits and `_`).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 50
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let ok = match pattern.split_once('.') {
        None => pattern == "*",
        Some((kind, "*")) => word(kind),
        Some((kind, what)) => word(kind) && word(what),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "events: {pattern:?} is not an event pattern; use a type such as \"decision.resolved\", a family such as \"task.*\", or \"*\" (the hub records: {})",
            EVENT_TYPES.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_pattern;

    #[test]
    fn patterns_are_a_type_a_family_or_everything() {
        for ok in [
            "*",
            "task.*",
            "decision.resolved",
            "deploy.*",
            "agent.status",
        ] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "task",
            "task.",
            "*.created",
            "Task.*",
            "task.**",
            "a.b.c",
            "task.cre*",
        ] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }
}
