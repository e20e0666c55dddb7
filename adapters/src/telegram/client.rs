//! Bot API calls made by the adapter itself. teloxide-core still builds
//! every request (its typed payloads and builders), but the HTTP round trip
//! is done here: teloxide-core 0.13 sleeps a fixed 10 s on every 5xx before
//! it returns the error (`DELAY_ON_SERVER_ERROR` in `net/request.rs`), a
//! wait the operator never configured, on top of the outbox's backoff. Here
//! a 5xx comes back at once and the outbox decides how long to wait.
//!
//! The call is the one teloxide makes: a JSON POST of the serialized payload
//! to `{api_url}/bot{token}/{Method}`, answered `{"ok":true,"result":…}` or
//! `{"ok":false,"description":…,"parameters":{"retry_after":…}}`; errors are
//! teloxide's own `RequestError`, so classification is unchanged.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use teloxide_core::prelude::*;
use teloxide_core::requests::{HasPayload, Payload};
use teloxide_core::types::ResponseParameters;
use teloxide_core::{ApiError, RequestError};

/// The Bot API's answer envelope (teloxide-core keeps its own private).
#[derive(serde::Deserialize)]
struct Answer<R> {
    ok: bool,
    result: Option<R>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

/// Send `request` (built with `bot`'s builders) and read the answer. Never
/// sleeps: a 5xx is returned as soon as it arrives.
pub(super) async fn call<R>(
    bot: &Bot,
    request: R,
) -> Result<<R::Payload as Payload>::Output, RequestError>
where
    R: HasPayload,
    R::Payload: Serialize,
    <R::Payload as Payload>::Output: DeserializeOwned,
{
    let payload = request.payload_ref();
    let body = serde_json::to_vec(payload).map_err(|e| RequestError::InvalidJson {
        raw: format!("could not serialize {}: {e}", R::Payload::NAME).into(),
        source: Arc::new(e),
    })?;
    // As teloxide: the "…Inline" variants name the same Bot API method.
    let method = R::Payload::NAME.trim_end_matches("Inline");
    let mut url = bot.api_url();
    url.path_segments_mut()
        .map_err(|()| {
            RequestError::Api(ApiError::Unknown(
                "the Telegram api_url cannot take a path (check adapters.telegram.api_url)".into(),
            ))
        })?
        .pop_if_empty()
        .push(&format!("bot{}", bot.token()))
        .push(method);
    let response = bot
        .client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        // The URL holds the token: it must not reach an error message.
        .map_err(|e| RequestError::Network(Arc::new(e.without_url())))?;
    let text = response
        .text()
        .await
        .map_err(|e| RequestError::Network(Arc::new(e.without_url())))?;
    read_answer(&text)
}

/// Turn the Bot API's JSON answer into the result or teloxide's error.
fn read_answer<T: DeserializeOwned>(text: &str) -> Result<T, RequestError> {
    let invalid = |e: serde_json::Error| RequestError::InvalidJson {
        source: Arc::new(e),
        raw: text.into(),
    };
    let answer: Answer<T> = serde_json::from_str(text).map_err(invalid)?;
    if answer.ok {
        return answer.result.ok_or_else(|| {
            invalid(serde::de::Error::custom(
                "an \"ok\" answer without a result",
            ))
        });
    }
    match answer.parameters {
        Some(ResponseParameters::RetryAfter(s)) => return Err(RequestError::RetryAfter(s)),
        Some(ResponseParameters::MigrateToChatId(to)) => {
            return Err(RequestError::MigrateToChatId(to));
        }
        None => {}
    }
    let description = answer.description.unwrap_or_default();
    // teloxide's ApiError reads Telegram's description (known ones become
    // variants such as InvalidToken, the rest Unknown(description)).
    let error = serde_json::from_value::<ApiError>(serde_json::Value::String(description.clone()))
        .unwrap_or(ApiError::Unknown(description));
    Err(RequestError::Api(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide_core::types::{Me, True};

    #[test]
    fn answers_become_results_or_teloxide_errors() {
        let t: True = read_answer(r#"{"ok":true,"result":true}"#).unwrap();
        assert_eq!(t, True);
        let limited = read_answer::<True>(
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(limited, RequestError::RetryAfter(s) if s.seconds() == 3),
            "{limited:?}"
        );
        let token =
            read_answer::<Me>(r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)
                .unwrap_err();
        assert!(
            matches!(token, RequestError::Api(ApiError::InvalidToken)),
            "{token:?}"
        );
        let server = read_answer::<True>(
            r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&server, RequestError::Api(ApiError::Unknown(d)) if d == "Internal Server Error"),
            "{server:?}"
        );
        // A proxy's HTML error page.
        let page = read_answer::<True>("<html>502 Bad Gateway</html>").unwrap_err();
        assert!(matches!(page, RequestError::InvalidJson { .. }), "{page:?}");
    }
}
