//! A webhook receiver on 127.0.0.1 for tests: a real HTTP server (axum)
//! that records every call (path, headers, body) and answers each from a
//! script — a status, a redirect, or a status after a delay.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 302 to this location.
    Redirect(String),
    /// Wait, then answer 200.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub signature: String,
    pub event_id: String,
    pub body: String,
    pub at: Instant,
}

impl Call {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Per path: the next answers; when empty, 200.
    script: std::collections::HashMap<String, VecDeque<Reply>>,
    /// Per path: the answer once the script is used up (default 200).
    then: std::collections::HashMap<String, Reply>,
}

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            base: format!("http://{addr}"),
            inner,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answer the next calls to `path` with `replies`, then with `then`.
    pub fn script(&self, path: &str, replies: Vec<Reply>, then: Reply) {
        let mut i = self.inner.lock().unwrap();
        i.script.insert(path.into(), replies.into());
        i.then.insert(path.into(), then);
    }

    pub fn calls(&self, path: &str) -> Vec<Call> {
        let i = self.inner.lock().unwrap();
        i.calls.iter().filter(|c| c.path == path).cloned().collect()
    }

    /// Wait (up to 30 s) until `path` got at least `n` calls.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let calls = self.calls(path);
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{path} got {} calls, expected {n}: {calls:?}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let path = uri.path().to_string();
    let reply = {
        let mut i = inner.lock().unwrap();
        i.calls.push(Call {
            path: path.clone(),
            signature: header("x-orkhub-signature"),
            event_id: header("x-orkhub-event-id"),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let next = i.script.get_mut(&path).and_then(|s| s.pop_front());
        next.or_else(|| i.then.get(&path).cloned())
            .unwrap_or(Reply::Status(200))
    };
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Reply::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
    }
}
