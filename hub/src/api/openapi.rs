//! The API's OpenAPI 3.1 document, derived at compile time (utoipa) from the
//! handlers' own request and answer types and their `#[utoipa::path]`
//! attributes, so it cannot drift from the code: `hub/tests/it/openapi.rs`
//! checks the checked-in `docs/openapi.json` equals it and validates real
//! answers against it. Served at `GET /api/v1/openapi.json` (no key).

use super::limits;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The error shape of every refusal: `{"error": {"code", "message"}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable, for programs: `malformed_json`, `invalid`, `invalid_text`,
    /// `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `conflict`, `idempotency_in_progress`, `idempotency_key_reused`,
    /// `too_large`, `content_type`, `bad_header`, `bad_request`, `busy`,
    /// `unavailable`, `internal`.
    pub code: String,
    /// For people: what was wrong, naming the field or the thing not found.
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orkhub agent API",
        description = "Agents post notifications, messages, costs, heartbeats, decision requests and task actions; \
            every call carries `Authorization: Bearer <key>` and needs the scope its operation lists. \
            Every time is an RFC 3339 UTC string. Every error is `{\"error\": {\"code\", \"message\"}}`. \
            `Idempotency-Key` on a POST makes a retry return the first answer (marked `idempotent-replayed: true`)."
    ),
    paths(
        super::notifications::create,
        super::notifications::show,
        super::notifications::message,
        super::telemetry::cost,
        super::telemetry::heartbeat,
        super::decisions::create,
        super::decisions::show,
        super::decisions::resolve,
        super::questions::create,
        super::questions::show,
        super::tasks::create,
        super::tasks::list,
        super::tasks::show,
        super::tasks::move_to,
        super::tasks::assign,
        super::tasks::add_dependency,
        super::brief::show,
        super::sla::show,
        super::agents::me,
        super::events::stream,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::show,
        super::webhooks::delete,
        super::webhooks::deliveries,
        super::webhooks::redeliver,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Contract),
)]
struct ApiDoc;

/// What the derive cannot say: the bearer scheme the scopes belong to, the
/// version, and the length limits, taken from the constants the handlers
/// enforce (so the document and the checks share one number).
struct Contract;

/// (schema, property, maxLength or maxItems, whether it is a list).
const LIMITS: &[(&str, &str, usize, bool)] = &[
    ("NotificationIn", "to", limits::ID, false),
    ("NotificationIn", "kind", limits::KIND, false),
    ("NotificationIn", "title", limits::TITLE, false),
    ("NotificationIn", "text", limits::TEXT, false),
    ("NotificationIn", "fields", limits::FIELDS, true),
    ("NotificationIn", "project", limits::ID, false),
    ("NotificationIn", "dedupe_key", limits::DEDUPE_KEY, false),
    ("NotificationIn", "reply_to", limits::ID, false),
    ("MessageIn", "channel", limits::ID, false),
    ("MessageIn", "person", limits::ID, false),
    ("MessageIn", "title", limits::TITLE, false),
    ("MessageIn", "text", limits::TEXT, false),
    ("MessageIn", "fields", limits::FIELDS, true),
    ("MessageIn", "reply_to", limits::ID, false),
    ("Field", "name", limits::FIELD_NAME, false),
    ("Field", "value", limits::FIELD_VALUE, false),
    ("CostIn", "model", limits::MODEL, false),
    ("CostIn", "project", limits::ID, false),
    ("HeartbeatIn", "status", limits::WORD, false),
    ("HeartbeatIn", "note", limits::NOTE, false),
    ("DecisionIn", "kind", limits::KIND, false),
    ("DecisionIn", "context", limits::TEXT, false),
    ("DecisionIn", "options", limits::OPTIONS, true),
    ("ResolveIn", "reasoning", limits::NOTE, false),
    ("QuestionIn", "text", limits::TEXT, false),
    ("QuestionIn", "options", limits::OPTIONS, true),
    ("QuestionIn", "to", limits::ID, false),
    ("QuestionIn", "context", limits::TEXT, false),
    ("QuestionIn", "callback_url", limits::URL, false),
    ("TaskIn", "title", limits::TASK_TITLE, false),
    ("TaskIn", "priority", limits::WORD, false),
    ("TaskIn", "assignee", limits::ID, false),
    ("TaskIn", "project", limits::ID, false),
    ("TaskIn", "capabilities", limits::CAPABILITIES, true),
    ("MoveIn", "to", limits::WORD, false),
    ("MoveIn", "note", limits::NOTE, false),
    ("AssignIn", "to", limits::ID, false),
    ("WebhookIn", "url", limits::URL, false),
    ("WebhookIn", "events", limits::EVENTS, true),
];

impl utoipa::Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("ork_<id>_<secret>")
                        .build(),
                ),
            );
        }
    }
}

/// The document as JSON, with the length limits filled in.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for (schema, prop, max, list) in LIMITS {
        let key = if *list { "maxItems" } else { "maxLength" };
        // A renamed field leaves its limit out: `every_limit_lands_on_a_property` fails.
        if let Some(serde_json::Value::Object(p)) =
            doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{prop}"))
        {
            p.insert(key.into(), serde_json::json!(max));
        }
    }
    // Each entry of a list with per-entry limits.
    for (schema, prop, max) in [
        ("DecisionIn", "options", limits::OPTION),
        ("QuestionIn", "options", limits::OPTION),
        ("TaskIn", "capabilities", limits::CAPABILITY),
        ("WebhookIn", "events", limits::KIND),
    ] {
        if let Some(serde_json::Value::Object(items)) = doc.pointer_mut(&format!(
            "/components/schemas/{schema}/properties/{prop}/items"
        )) {
            items.insert("maxLength".into(), serde_json::json!(max));
        }
    }
    doc
}

/// The document as the checked-in file holds it: pretty, one final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /api/v1/openapi.json`, built once.
pub async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(document_text).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_limit_lands_on_a_property() {
        let doc = super::document();
        for (schema, prop, max, list) in super::LIMITS {
            let p = &doc["components"]["schemas"][*schema]["properties"][*prop];
            let key = if *list { "maxItems" } else { "maxLength" };
            assert_eq!(p[key], serde_json::json!(max), "{schema}.{prop}: {p}");
        }
    }
}

/// The refusals of every operation behind a key: named once here, listed
/// in each operation's `responses(...)`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub enum KeyRefusals {
    #[response(
        status = 401,
        description = "No key, or an unknown, revoked or expired one"
    )]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The key lacks the scope (named)")]
    Forbidden(ErrorBody),
}

/// The refusals of every operation that reads a JSON body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI derive
pub enum BodyRefusals {
    #[response(
        status = 400,
        description = "Malformed JSON, or a bad Idempotency-Key header"
    )]
    Malformed(ErrorBody),
    #[response(status = 413, description = "The body is over server.body_limit_bytes")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not sent as application/json")]
    ContentType(ErrorBody),
    #[response(
        status = 422,
        description = "Not a JSON object; a field missing, unknown, of the wrong type or over its limit (named); or an Idempotency-Key reused for another body"
    )]
    Invalid(ErrorBody),
}
