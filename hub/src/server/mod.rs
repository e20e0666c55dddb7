//! The HTTP server: hyper's HTTP/1 connection loop with the limits
//! `axum::serve` does not have — a header-read timeout, an idle timeout, a
//! cap on open connections — and a graceful stop. HTTP/1 only: https and
//! HTTP/2 are the reverse proxy's job (see the README, "Running in
//! production").

mod activity;
mod close;

use activity::{Activity, Tracked};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// How often a live SSE stream writes a keep-alive comment: often enough
/// that the idle timeout never sees it silent (a quarter of it), and at
/// least every 15 s (proxies commonly cut silent streams after 60 s).
pub fn sse_keep_alive(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(15))
}

/// The connection limits, from `[server]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From accepting a connection (or finishing an answer on it) to the
    /// end of the next request's headers. Also bounds how long an idle
    /// keep-alive connection waits for its next request (hyper starts the
    /// same timer then).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moved either way for this long is
    /// closed (gracefully: an answer being prepared is still sent), and
    /// dropped if still silent after as long again (a stalled upload).
    pub idle_timeout: Duration,
    /// Open connections at most; past it new ones wait in the kernel's
    /// accept queue until one closes (nothing is refused outright).
    pub max_connections: usize,
}

/// Serve `app` on `listener` until `stop` turns true, then stop accepting,
/// let every connection finish its current answer, and return when all are
/// closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break, // closed: never happens, the semaphore lives here
            },
            _ = stopped(&mut stop) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            http.clone(),
            limits.idle_timeout,
            stop.clone(),
            slot,
        ));
    }
    drop(listener);
    // Every connection holds a slot until it closes.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// One connection, from accept to close. `_slot` returns to the cap when
/// this ends.
async fn connection(
    stream: TcpStream,
    app: Router,
    http: hyper::server::conn::http1::Builder,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Tracked::new(stream, activity.clone()));
    // Every answer through `close::WhenBodyUnread`, which says
    // `Connection: close` when hyper will close after it.
    let service = TowerToHyperService::new(close::WhenBodyUnread::new(app));
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let why = tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                // Timeouts and clients that hang up land here; not the
                // hub's errors, so not above debug.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = activity.idle_for(idle) => "idle",
        _ = stopped(&mut stop) => "stopping",
    };
    tracing::debug!(why, "closing connection");
    // An idle keep-alive connection closes at once; one with an answer in
    // progress closes after it (hyper then answers with Connection: close).
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = activity.idle_for(idle) => tracing::debug!("dropping a silent connection"),
    }
}

/// Like axum::serve: a client that hung up before we accepted is nothing;
/// anything else (out of file descriptors) is logged and waited out.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Resolves when the hub is stopping (the guard `wait_for` returns is not
/// `Send`, so it must not live in a `select!` arm).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
