//! The API's extractors, whose refusals are all in the API's JSON error
//! shape (axum's own rejections answer in plain text):
//!
//! - [`Body`]: malformed JSON → 400, anything but a JSON object → 422, a
//!   wrong, wrong-typed or missing field → 422 naming the field, too large →
//!   413, not JSON → 415, a NUL character in any string → 422 (PostgreSQL's
//!   text cannot hold one; let through, it would fail the whole ingest batch
//!   it lands in).
//! - [`ApiPath`]: a path segment that is not an ID → 404 naming it.
//! - [`ApiQuery`]: a query string that does not fit → 422 naming the parameter.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse(&bytes).map(Body)
    }
}

/// The raw bytes of a JSON body (Content-Type checked, size limited), for
/// handlers that also hash the body (Idempotency-Key); [`parse`] them.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::new(r.status(), "bad_request", r.body_text())
            }
        })?;
        Ok(JsonBytes(bytes))
    }
}

/// Parse a request body into `T`. The body is read as a JSON value first
/// and must be an object: serde's derived structs would otherwise accept an
/// array as their fields in order (`["approve"]` as `{"outcome":
/// "approve"}`), and `deny_unknown_fields` does not stop that. Reading the
/// value first also makes a wrong-typed enum value a field error (422), not
/// the syntax error serde_json reports when it reads the struct directly.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            "the body holds a NUL character (\\u0000) in a string; text cannot contain one",
        ));
    }
    // Most bodies are well-formed objects that fit: read those straight
    // into `T`. Reading through a `Value` first (below) builds and frees
    // a map and a string per field, and a successful read gives the same
    // `T` either way. Any failure here — an array, a wrong type, a
    // duplicate field, malformed text — is left to the `Value` path, which
    // decides the answer exactly as before.
    if is_object_text(bytes)
        && let Ok(t) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(t);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(format!(
            "the body must be a JSON object ({{\"field\": value, …}}), not {}",
            json_kind(&value)
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::invalid(if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
}

/// Whether the JSON text starts with `{` (after any whitespace JSON allows):
/// only an object may take the direct path, since serde reads an array as
/// a struct's fields in order.
fn is_object_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

/// "an array", "a string", … for messages about a value of the wrong kind.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One path parameter (an ID), parsed with `FromStr`. A segment that does
/// not parse names nothing that can exist: 404 naming it, in JSON.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: std::str::FromStr,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::new(r.status(), "bad_request", r.body_text()))?;
        raw.parse().map(ApiPath).map_err(|_| {
            ApiError::not_found(format!(
                "{raw:?} in {} is not an ID (IDs here are whole numbers that fit 64 bits)",
                parts.uri.path()
            ))
        })
    }
}

/// The query string, deserialized into `T`; a parameter that does not fit
/// (unknown, wrong type) → 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(r) => Err(ApiError::invalid(format!(
                "query string: {}",
                std::error::Error::source(&r)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| r.body_text())
            ))),
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "request body is larger than the configured limit (server.body_limit_bytes)",
    )
}

/// `application/json` or `application/<anything>+json`, as axum's own Json
/// extractor accepts.
fn is_json(req: &Request) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether the JSON text escapes a NUL (`\u0000`): a `u0000` after an odd
/// run of backslashes (`\\u0000` is a backslash and the text "u0000").
/// A raw NUL byte is not valid JSON at all and fails parsing.
fn has_nul_escape(body: &[u8]) -> bool {
    // memmem: every request body is searched, and the byte-by-byte window
    // it replaced cost about 350 instructions more per notification under
    // `bench/instructions.sh`.
    memchr::memmem::find_iter(body, b"u0000")
        .any(|i| body[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1)
}

#[cfg(test)]
mod tests {
    use super::{has_nul_escape, parse};
    use serde::Deserialize;

    #[test]
    fn only_an_escaped_nul_counts() {
        assert!(has_nul_escape(br#"{"text":"a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"text":"\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text":"\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text":"u0000 \u0001"}"#));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Two {
        #[allow(dead_code)]
        a: String,
        #[allow(dead_code)]
        b: Option<u8>,
    }

    #[test]
    fn only_an_object_is_a_body() {
        // serde_json alone reads this array as the struct's fields.
        assert!(serde_json::from_str::<Two>(r#"["x", 1]"#).is_ok());
        for bad in [r#"["x", 1]"#, "\"x\"", "5", "null", "true"] {
            let e = parse::<Two>(bad.as_bytes()).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "invalid"), "{bad}");
            assert!(e.message.contains("must be a JSON object"), "{bad}: {e:?}");
        }
        let e = parse::<Two>(br#"{"a": "x", "b": "one"}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.message.starts_with("b: invalid type"), "{e:?}");
        let e = parse::<Two>(br#"{"a": "x", "#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "malformed_json"));
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Low,
        High,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Three {
        level: Level,
        n: Option<u8>,
        extra: Option<serde_json::Value>,
    }

    #[test]
    fn the_direct_read_answers_as_the_value_read_did() {
        // Read straight into the struct: the same value as through a Value.
        let body = br#" {"level": "high", "n": 7, "extra": {"b": [1, 2.5], "a": null}}"#;
        let direct = parse::<Three>(body).unwrap();
        let through_value: Three =
            serde_json::from_value(serde_json::from_slice(body).unwrap()).unwrap();
        assert_eq!(direct, through_value);
        // A duplicate field fails the direct read; the Value read keeps the
        // last one, as it always did.
        let dup = parse::<Three>(br#"{"level": "low", "level": "high"}"#).unwrap();
        assert_eq!(dup.level, Level::High);
        // A wrong-typed enum is a field error naming the field (422), not
        // the syntax error the direct read reports.
        let e = parse::<Three>(br#"{"level": 5}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "invalid"));
        assert!(e.message.starts_with("level: "), "{e:?}");
        let e = parse::<Three>(br#"{"level": "mid"}"#).unwrap_err();
        assert!(e.message.starts_with("level: unknown variant"), "{e:?}");
        let e = parse::<Three>(br#"{"level": "low", "other": 1}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.message.contains("unknown field `other`"), "{e:?}");
        let e = parse::<Three>(br#"{"level": "low", "n": 300}"#).unwrap_err();
        assert!(e.message.starts_with("n: invalid value"), "{e:?}");
        let e = parse::<Three>(br#"{"level": "low"} x"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "malformed_json"));
    }
}
