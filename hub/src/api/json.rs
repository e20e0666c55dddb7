//! A JSON body extractor whose errors name the problem: malformed JSON → 400,
//! a wrong or missing field → 422 naming the field, too large → 413, not
//! JSON → 415, a NUL character in any string → 422 (PostgreSQL's text cannot
//! hold one; let through, it would fail the whole ingest batch it lands in).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
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
        if has_nul_escape(&bytes) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_text",
                "the body holds a NUL character (\\u0000) in a string; text cannot contain one",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(match &rejection {
                JsonRejection::JsonDataError(e) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    // serde_path_to_error puts the field path first: "recipient: missing field ..."
                    std::error::Error::source(e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| e.body_text()),
                ),
                JsonRejection::JsonSyntaxError(e) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    std::error::Error::source(e)
                        .map(|s| format!("malformed JSON: {s}"))
                        .unwrap_or_else(|| e.body_text()),
                ),
                other => ApiError::new(other.status(), "bad_request", other.body_text()),
            }),
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
    body.windows(5).enumerate().any(|(i, w)| {
        w == b"u0000" && body[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
    })
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn only_an_escaped_nul_counts() {
        assert!(has_nul_escape(br#"{"text":"a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"text":"\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text":"\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text":"u0000 \u0001"}"#));
    }
}
