//! Connection hygiene: idle and half-sent connections are closed after the
//! header-read timeout while other clients are served at once; a stalled
//! upload is dropped after the idle timeout; the connection cap holds new
//! connections back instead of refusing them; live feed streams outlive the
//! idle timeout; an answer after which the hub closes says
//! `Connection: close`. Raw TCP, so what the hub does to the socket shows.

use crate::common;

use common::TestDb;
use common::server::TestHub;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: &str =
    "[server]\nheader_read_timeout_secs = 1\nidle_timeout_secs = 2\nmax_connections = 2000\n";

fn addr(hub: &TestHub) -> String {
    hub.base.trim_start_matches("http://").to_string()
}

/// Resolves when the peer closed the socket (EOF or reset); whatever the
/// hub sent before closing is returned.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One full answer (headers and a Content-Length body) from `s`.
async fn read_answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before a full answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

fn has_header(answer: &str, name: &str, value: &str) -> bool {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
        })
    })
}

both_dbs!(
    idle_and_half_sent_connections_are_closed,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, LIMITS, vec![]).await;
        let addr = addr(&hub);
        let mut idle = Vec::new();
        for i in 0..500 {
            let mut s = TcpStream::connect(&addr).await.expect("connect");
            if i % 2 == 1 {
                // Half of them start a request and never finish its headers.
                s.write_all(b"POST /api/v1/notifications HTTP/1.1\r\nHost: hub\r\nContent-Le")
                    .await
                    .unwrap();
            }
            idle.push(s);
        }
        let opened = Instant::now();
        // Meanwhile everyone else is served at once.
        for _ in 0..20 {
            let t = Instant::now();
            let (status, body) = hub.get("/api/v1/tasks").await;
            assert_eq!(status, 200, "{body}");
            assert!(
                // Measured ~5 ms (26 ms at most) in a debug build; the bound
                // leaves room for a loaded machine.
                t.elapsed() < Duration::from_millis(1000),
                "a request took {:?} beside 500 idle connections",
                t.elapsed()
            );
        }
        // Every idle one is closed by the hub after the 1 s header timeout.
        let closing = futures::future::join_all(idle.iter_mut().map(until_closed));
        let answers = tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .expect("all 500 idle connections closed within 5 s");
        let waited = opened.elapsed();
        assert!(
            waited >= Duration::from_millis(900),
            "closed before the header timeout: {waited:?}"
        );
        // Nothing was answered on them (no request ever arrived whole)... except
        // hyper's 408 for a request whose headers timed out.
        for a in &answers {
            assert!(a.is_empty() || a.starts_with("HTTP/1.1 408"), "{a:?}");
        }
        hub.stop().await;
    }
);

both_dbs!(
    a_stalled_upload_is_dropped_after_the_idle_timeout,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, LIMITS, vec![]).await;
        let mut s = TcpStream::connect(addr(&hub)).await.unwrap();
        let t = Instant::now();
        s.write_all(
        format!(
            "POST /api/v1/notifications HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\":",
            hub.key
        )
        .as_bytes(),
    )
    .await
    .unwrap();
        // Headers arrived in time; the body stalls. Closed once nothing moved
        // for the idle timeout (2 s) twice (a graceful close first).
        let answer = tokio::time::timeout(Duration::from_secs(8), until_closed(&mut s))
            .await
            .expect("a stalled upload is dropped");
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(1900),
            "too early: {waited:?}"
        );
        assert!(!answer.contains(" 202 "), "nothing accepted: {answer:?}");
        assert_eq!(hub.count("SELECT COUNT(*) FROM notifications").await, 0);
        hub.stop().await;
    }
);

both_dbs!(
    the_connection_cap_holds_new_connections_back,
    |db: &TestDb| async move {
        let hub = TestHub::start(
            db,
            "[server]\nheader_read_timeout_secs = 1\nmax_connections = 3\n",
            vec![],
        )
        .await;
        let addr = addr(&hub);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(&addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A fourth connection is not refused: it waits until a slot frees (the
        // idle three are closed after the header timeout), then is served.
        let t = Instant::now();
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            .await
            .unwrap();
        let answer = read_answer(&mut s).await;
        let waited = t.elapsed();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            waited >= Duration::from_millis(700),
            "served before a slot was free: {waited:?}"
        );
        drop(held);
        hub.stop().await;
    }
);

both_dbs!(
    the_live_feed_outlives_the_idle_timeout,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, LIMITS, vec![]).await;
        let mut s = TcpStream::connect(addr(&hub)).await.unwrap();
        s.write_all(
        format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
            hub.key
        )
        .as_bytes(),
    )
    .await
    .unwrap();
        // Three idle timeouts long: the stream stays open, with keep-alive
        // comments (a line starting with ':') arriving all along.
        let mut got = String::new();
        let mut buf = [0u8; 1024];
        let until = Instant::now() + Duration::from_secs(6);
        while Instant::now() < until {
            match tokio::time::timeout_at(until.into(), s.read(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(0)) | Ok(Err(_)) => panic!("the feed was closed after {got:?}"),
                Ok(Ok(n)) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        let comments = got.lines().filter(|l| l.starts_with(':')).count();
        assert!(
            comments >= 6,
            "{comments} keep-alive comments in 6 s: {got}"
        );
        drop(s);
        hub.stop().await;
    }
);

both_dbs!(
    an_answer_before_the_body_is_read_says_connection_close,
    |db: &TestDb| async move {
        let hub = TestHub::start(db, "", vec![]).await;
        let addr = addr(&hub);
        let body = r#"{"to":"ceo","text":"hello"}"#;
        let request = |path: &str, key: &str, content_type: &str, body: &str| {
            format!(
                "POST {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {key}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        // 401 (wrong key), 415 (not JSON) and 413 (over body_limit_bytes) are
        // answered before the body is read to its end: the answer says the
        // connection closes, and it does.
        // A body announced at 10 MB, of which 70 kB are sent: the hub stops
        // reading at the 64 kB limit.
        let big = format!(r#"{{"to":"ceo","text":"{}"#, "x".repeat(70_000));
        for (path, key, ct, body, status) in [
            (
                "/api/v1/notifications",
                "ork_wrong.key",
                "application/json",
                body,
                "401",
            ),
            (
                "/api/v1/tasks",
                hub.key.as_str(),
                "text/plain",
                r#"{"title":"t"}"#,
                "415",
            ),
            (
                "/api/v1/notifications",
                hub.key.as_str(),
                "application/json",
                big.as_str(),
                "413",
            ),
        ] {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            // The hub may answer and close before the whole body is written.
            let mut req = request(path, key, ct, body);
            if status == "413" {
                req = req.replace(
                    &format!("Content-Length: {}", body.len()),
                    "Content-Length: 10000000",
                );
            }
            let _ = s.write_all(req.as_bytes()).await;
            let answer = read_answer(&mut s).await;
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{answer}"
            );
            assert!(has_header(&answer, "connection", "close"), "{answer}");
            let rest = tokio::time::timeout(Duration::from_secs(2), until_closed(&mut s))
                .await
                .expect("the hub closes the connection after it");
            assert!(rest.is_empty(), "{rest:?}");
        }
        assert_eq!(hub.count("SELECT COUNT(*) FROM tasks").await, 0);
        assert_eq!(hub.count("SELECT COUNT(*) FROM notifications").await, 0);
        // An answer after the body was read keeps the connection for the next
        // request, and does not say close.
        let mut s = TcpStream::connect(&addr).await.unwrap();
        for _ in 0..2 {
            s.write_all(
                request("/api/v1/notifications", &hub.key, "application/json", body).as_bytes(),
            )
            .await
            .unwrap();
            let answer = read_answer(&mut s).await;
            assert!(answer.starts_with("HTTP/1.1 20"), "{answer}");
            assert!(!has_header(&answer, "connection", "close"), "{answer}");
        }
        hub.stop().await;
    }
);
