//! Around every request of the API, the console and the GitHub webhook:
//! its count by status and its duration (through the handles in
//! [`RequestMetrics`]), the server-side failure it ended in logged once (see
//! [`log_failure`]), and a `request` span at debug level (so everything
//! logged while answering it carries its method and path).
//!
//! A tower layer written out, not `axum::middleware::from_fn`: `from_fn`
//! clones the route behind it and boxes it again for `Next`, and boxes its
//! own future, on every request — some 3,000 instructions of the hub's
//! 98,000 per notification (`bench/instructions.sh`). Here the route is
//! called in place and the answer's future is wrapped, not boxed.
//!
//! Why the span is at debug, as tower-http's `TraceLayer` makes its spans:
//! an enabled span is built for every request whether or not anything is
//! logged in it (the formatting layer writes its fields out when it opens,
//! the registry enters and leaves it on every poll), and under
//! `level = "info"` that was some 6,000 instructions of the hub's 108,000
//! per notification. What an operator needs at info, a failed request's
//! method, path and status, [`log_failure`] writes on the error line itself.

use crate::request_metrics::RequestMetrics;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Uri};
use axum::response::Response;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

/// The layer: `Router::layer(ObserveRequests::new(metrics))`.
#[derive(Clone)]
pub struct ObserveRequests {
    metrics: Arc<RequestMetrics>,
}

impl ObserveRequests {
    pub fn new(metrics: Arc<RequestMetrics>) -> Self {
        ObserveRequests { metrics }
    }
}

impl<S> Layer<S> for ObserveRequests {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// One route, observed.
#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    metrics: Arc<RequestMetrics>,
}

impl<S> Service<Request> for Observed<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObservedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // A cheap copy (the route is shared), read after the answer.
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        let span = tracing::debug_span!("request", %method, path = %req.uri().path(), status = tracing::field::Empty);
        // For a failure's log line: a shared reference to the request's bytes.
        let uri = req.uri().clone();
        let started = Instant::now();
        let answer = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ObservedFuture {
            answer,
            seen: Some(Seen {
                metrics: self.metrics.clone(),
                route,
                method,
                uri,
                started,
            }),
            span,
        }
    }
}

/// What is recorded once the answer is ready.
struct Seen {
    metrics: Arc<RequestMetrics>,
    route: Option<MatchedPath>,
    method: Method,
    uri: Uri,
    started: Instant,
}

pin_project! {
    /// The route's answer, recorded when it is ready.
    pub struct ObservedFuture<F> {
        #[pin]
        answer: F,
        seen: Option<Seen>,
        span: tracing::Span,
    }
}

impl<F, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            ready!(this.answer.poll(cx))
        };
        // An error (the routes' is Infallible) or a poll after the answer
        // (a caller's bug): nothing to record.
        let mut res = match result {
            Ok(res) => res,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let Some(seen) = this.seen.take() else {
            return Poll::Ready(Ok(res));
        };
        let elapsed = seen.started.elapsed();
        let status = res.status().as_u16();
        this.span.record("status", status);
        this.span
            .in_scope(|| tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "answered"));
        log_failure(&seen.method, seen.uri.path(), &mut res);
        seen.metrics.record(
            seen.route.as_ref().map_or("unmatched", MatchedPath::as_str),
            &seen.method,
            status,
            elapsed.as_secs_f64(),
        );
        Poll::Ready(Ok(res))
    }
}

/// The server-side failure an answer carries ([`crate::api::Failure`], put
/// there by `ApiError`), logged once at error with the request's method,
/// path and status, and taken off the answer.
fn log_failure(method: &Method, path: &str, res: &mut Response) {
    if let Some(crate::api::Failure(error)) = res.extensions_mut().remove() {
        tracing::error!(%method, path, status = res.status().as_u16(), %error, "request failed");
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{ApiError, Failure};
    use axum::http::{Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use std::sync::{Arc, Mutex};

    /// The log's text, kept for the test to read.
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `log_failure` writes, at the shipped default level (info), for
    /// the answer `err` makes; and the answer after it.
    fn logged(err: ApiError) -> (String, Response) {
        let (buf, subscriber) = info_log();
        let mut res = err.into_response();
        tracing::subscriber::with_default(subscriber, || {
            super::log_failure(&Method::POST, "/api/v1/notifications", &mut res)
        });
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        (text, res)
    }

    /// The log is one line, and it has every one of `parts`.
    fn one_line_with(text: &str, parts: &[&str]) {
        assert_eq!(text.lines().count(), 1, "{text}");
        for part in parts {
            assert!(text.contains(part), "{part:?} missing from {text}");
        }
    }

    /// A subscriber at the shipped default level (info) and the text it writes.
    fn info_log() -> (Arc<Mutex<Vec<u8>>>, impl tracing::Subscriber + Send + Sync) {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (buf, subscriber)
    }

    #[test]
    fn a_server_side_failure_is_logged_once_with_its_method_path_and_status() {
        let (text, res) = logged(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the database refused the write: disk I/O error",
        ));
        one_line_with(
            &text,
            &[
                "ERROR",
                "request failed",
                "method=POST",
                "/api/v1/notifications",
                "status=500",
                "error=the database refused the write: disk I/O error",
            ],
        );
        // Taken off the answer: a second layer would not log it again.
        assert!(res.extensions().get::<Failure>().is_none());
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn refusals_and_a_busy_hub_are_not_logged_as_failures() {
        for err in [
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "title is empty",
            ),
            ApiError::unauthorized("no API key"),
            ApiError::busy("the ingest queue is full", 1),
        ] {
            let status = err.status;
            let (text, res) = logged(err);
            assert_eq!(text, "", "{status}");
            assert_eq!(res.status(), status);
        }
    }

    /// Through the layer on a router, as the API, the console and the
    /// GitHub route have it: the route's 5xx is logged once, with the
    /// request's method and path, and leaves without its `Failure`; a
    /// success and a refusal are answered as the route made them, and not
    /// logged.
    #[tokio::test]
    async fn the_layer_logs_a_routes_failure_once_and_passes_every_answer_on() {
        use axum::Router;
        use axum::body::Body;
        use axum::routing::{get, post};
        use tower_service::Service;

        let mut router = Router::new()
            .route(
                "/fails/{id}",
                post(|| async {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "disk full")
                }),
            )
            .route("/works", get(|| async { (StatusCode::CREATED, "made") }))
            .route(
                "/refuses",
                get(|| async { ApiError::unauthorized("no API key") }),
            )
            .layer(super::ObserveRequests::new(Arc::default()));
        let (buf, subscriber) = info_log();
        let _default = tracing::subscriber::set_default(subscriber);
        let mut answer = async |method: Method, path: &str| {
            let req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            router.call(req).await.unwrap()
        };

        let res = answer(Method::POST, "/fails/7").await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.extensions().get::<Failure>().is_none());
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        one_line_with(
            &text,
            &[
                "request failed",
                "method=POST",
                "/fails/7",
                "status=500",
                "error=disk full",
            ],
        );

        buf.lock().unwrap().clear();
        let res = answer(Method::GET, "/works").await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"made");
        assert_eq!(
            answer(Method::GET, "/refuses").await.status(),
            StatusCode::UNAUTHORIZED
        );
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        assert_eq!(text, "");
    }
}
