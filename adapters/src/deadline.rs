//! Answering inside a platform's deadline, or deferring. Slack wants a
//! command's answer within 3 s, Discord an interaction's within 3 s; past
//! that the request fails for the person, whatever the hub does later. So
//! the work is spawned (it carries on past the deadline), and the platform
//! gets the work's answer if it came in time, else a deferral ("working on
//! it…", Discord's "thinking…") — the work then finishes through the
//! platform's follow-up address, queued in the outbox.

use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;

/// The request's own answer, for the work to give while the platform still
/// waits.
pub struct Immediate<T>(oneshot::Sender<T>);

impl<T> Immediate<T> {
    /// Give the answer. `Err` gives it back: the deadline passed, the
    /// platform got the deferral, and the work must finish by follow-up.
    pub fn send(self, answer: T) -> Result<(), T> {
        self.0.send(answer)
    }
}

/// Run `work` (spawned) and return its immediate answer if it gives one
/// within `deadline`, else `deferred()`.
pub async fn answer_or_defer<T, W, F>(
    deadline: Duration,
    work: W,
    deferred: impl FnOnce() -> T,
) -> T
where
    T: Send + 'static,
    W: FnOnce(Immediate<T>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    tokio::spawn(work(Immediate(tx)));
    match tokio::time::timeout(deadline, rx).await {
        Ok(Ok(answer)) => answer,
        _ => deferred(),
    }
}

/// The answer to a request the hub could not even record (its database is
/// unavailable): nothing was done, and the person should know.
pub const DATABASE_UNAVAILABLE: &str =
    "The hub cannot reach its database right now; nothing was done. Try again shortly.";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_in_time_is_the_answer() {
        let got = answer_or_defer(
            Duration::from_secs(5),
            |now| async move {
                let _ = now.send("done");
            },
            || "deferred",
        )
        .await;
        assert_eq!(got, "done");
    }

    #[tokio::test]
    async fn a_late_answer_is_deferred_and_the_work_finishes_anyway() {
        let (finished_tx, finished) = oneshot::channel();
        let got = answer_or_defer(
            Duration::from_millis(20),
            |now| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                // The platform was answered already: the work sees it.
                let late = now.send("done").is_err();
                let _ = finished_tx.send(late);
            },
            || "deferred",
        )
        .await;
        assert_eq!(got, "deferred");
        assert_eq!(finished.await.ok(), Some(true));
    }
}
