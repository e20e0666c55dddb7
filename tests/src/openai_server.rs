//! An OpenAI-compatible chat-completions server on 127.0.0.1 for tests:
//! `POST /v1/chat/completions` answers as the real API does — a
//! `chat.completion` object with `usage`, `401 invalid_api_key` for a wrong
//! bearer key, `500 server_error` — or sleeps past the client's timeout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "sk-test-brief";

#[derive(Debug, Clone)]
pub enum Mode {
    /// Answer with this content and usage (prompt, completion tokens).
    Answer(String, u32, u32),
    /// 500 with OpenAI's server_error body.
    Fail,
    /// Sleep this long, then answer.
    Slow(Duration),
}

#[derive(Clone)]
struct Shared {
    mode: Mode,
    requests: Arc<Mutex<Vec<Value>>>,
}

pub struct OpenAiServer {
    /// The API base to configure: `http://127.0.0.1:PORT/v1`.
    pub base: String,
    pub requests: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl OpenAiServer {
    pub async fn start(mode: Mode) -> OpenAiServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            mode,
            requests: requests.clone(),
        };
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OpenAiServer {
            base: format!("http://{addr}/v1"),
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for OpenAiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, message: &str, kind: &str, code: Value) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })),
    )
        .into_response()
}

async fn completions(State(s): State<Shared>, headers: HeaderMap, body: Json<Value>) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            json!("invalid_api_key"),
        );
    }
    if body.get("model").and_then(Value::as_str).is_none()
        || body.get("messages").and_then(Value::as_array).is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            "invalid_request_error",
            Value::Null,
        );
    }
    s.requests.lock().unwrap().push(body.0.clone());
    let (content, prompt, completion) = match &s.mode {
        Mode::Fail => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                Value::Null,
            );
        }
        Mode::Slow(d) => {
            tokio::time::sleep(*d).await;
            ("Too late.".to_string(), 10, 2)
        }
        Mode::Answer(text, p, c) => (text.clone(), *p, *c),
    };
    Json(json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content, "refusal": null, "annotations": [] },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
            }
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    }))
    .into_response()
}
