//! `Connection: close` on an answer after which the connection cannot be
//! reused. When a handler answers without reading the request's body (a 401
//! or 415 is decided from the headers alone), hyper cannot find where the
//! next request starts and closes the connection after the answer; saying
//! so in the answer lets the client open a new connection for its next
//! request instead of finding this one dead.
//!
//! A tower service around the whole router, given to hyper for each
//! connection (`server::connection`), not a router layer: axum wraps every
//! route in a layer of its own (one more boxed clone of the route and one
//! more boxed future per request), and `from_fn`, which this was, boxed the
//! route and its own future again.

use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Response, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use tower_service::Service;

/// `inner` (the router), with every answer whose request body was not
/// read to its end marked `Connection: close`.
#[derive(Clone)]
pub struct WhenBodyUnread<S> {
    inner: S,
}

impl<S> WhenBodyUnread<S> {
    pub fn new(inner: S) -> Self {
        WhenBodyUnread { inner }
    }
}

impl<S, B, R> Service<Request<B>> for WhenBodyUnread<S>
where
    S: Service<Request<Watched<B>>, Response = Response<R>>,
    B: HttpBody,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Marked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // A request without a body has nothing left unread: no flag to keep.
        let read =
            (req.body().size_hint().exact() != Some(0)).then(|| Arc::new(AtomicBool::new(false)));
        let req = req.map(|inner| Watched {
            inner,
            read: read.clone(),
        });
        Marked {
            answer: self.inner.call(req),
            read,
        }
    }
}

pin_project! {
    /// The router's answer, marked when the request's body went unread.
    pub struct Marked<F> {
        #[pin]
        answer: F,
        read: Option<Arc<AtomicBool>>,
    }
}

impl<F, R, E> Future for Marked<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.answer.poll(cx))?;
        if this
            .read
            .as_ref()
            .is_some_and(|read| !read.load(Ordering::Relaxed))
        {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(res))
    }
}

pin_project! {
    /// A request body that notes when it was read to its end (nothing to
    /// note without a flag: a request without a body).
    pub struct Watched<B> {
        #[pin]
        inner: B,
        read: Option<Arc<AtomicBool>>,
    }
}

impl<B> HttpBody for Watched<B>
where
    B: HttpBody<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let res = this.inner.as_mut().poll_frame(cx);
        // The end is known either way: a body with a length says so with
        // its last frame (`is_end_stream`), without another poll.
        if let Some(read) = this.read
            && (matches!(res, Poll::Ready(None)) || this.inner.is_end_stream())
        {
            read.store(true, Ordering::Relaxed);
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
