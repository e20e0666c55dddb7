//! Socket Mode: for installs that cannot expose a public URL, the hub opens
//! a WebSocket to Slack (api.slack.com/apis/socket-mode: the URL comes from
//! `apps.connections.open` on the configured `api_url`, asked with the app
//! token) and receives the same slash commands and button presses there.
//! No request signing is involved: the app token authenticates the socket.
//! Each request is handed to the hub as a [`SocketRequest`]; the hub answers
//! it exactly as an HTTP request (same deadline, same once-only key), and the
//! answer goes back as the envelope's acknowledgement.
//!
//! The connection is our own (tokio-tungstenite), not slack-morphism's
//! listener: that one asks `apps.connections.open` again every reconnect
//! interval with an ERROR each time and lets no caller see why, so an app
//! token Slack stopped accepting after the start (revoked, replaced by a
//! bot token) filled the log every 5 s without saying the token was the
//! problem. Here a refusal is a configuration error: said once, naming
//! `adapters.slack.app_token`, then asked again after minutes (1, 2, 4 … up
//! to 15); every other failure (network, 5xx, 429, a dropped socket)
//! reconnects every `socket_reconnect_secs` as before. The socket's TLS
//! trusts the same store as the Web API client (`crate::tls`).

use super::config::SlackConfig;
use super::inbound::{self, CommandForm, InteractionPayload, SlackRequest};
use super::send;
use crate::SendError;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

/// A request from the socket, and where its immediate answer goes
/// (`None`: acknowledge without content).
pub struct SocketRequest {
    pub request: SlackRequest,
    pub answer: oneshot::Sender<Option<Value>>,
}

/// Slack waits 3 s for the acknowledgement; the hub answers within its own
/// `ack_deadline_ms`, this is only the last guard.
const ANSWER_GUARD: Duration = Duration::from_millis(2_900);
/// The first wait after Slack refused the app token, and the longest.
const REFUSED_FIRST_WAIT: Duration = Duration::from_secs(60);
const REFUSED_MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// We ping this often; a connection silent for `SILENT_LIMIT` (no frame,
/// not even the pong) is taken as dropped, as a half-open TCP connection
/// would otherwise never end.
const PING_EVERY: Duration = Duration::from_secs(30);
const SILENT_LIMIT: Duration = Duration::from_secs(95);

/// Why a connection ended.
enum Closed {
    /// The hub is stopping.
    Stopped,
    /// Slack asked us to reconnect (a `disconnect` envelope): at once.
    Refresh,
    /// Anything else: reconnect after `socket_reconnect_secs`.
    Dropped(String),
}

/// Connect and serve until `stop` turns true (see the module's docs for
/// what happens on each failure). Err only for a setting that cannot work
/// at all (an unreadable CA file).
pub async fn listen(
    config: &SlackConfig,
    requests: mpsc::Sender<SocketRequest>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let trust = crate::tls::Trust::load(config.ca_file.as_deref(), "adapters.slack.ca_file")
        .map_err(|e| e.to_string())?;
    let api = send::WebApi::new(
        send::connector(&config.api_url, &trust),
        "",
        Duration::from_millis(config.request_timeout_ms.max(1)),
    );
    let tls = Arc::new(trust.client_config());
    let reconnect = Duration::from_secs(config.socket_reconnect_secs.max(1));
    // While Slack refuses the app token: the current wait.
    let mut refused: Option<Duration> = None;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let wait = match api.connections_open(&config.app_token).await {
            Ok(url) => {
                if refused.take().is_some() {
                    tracing::info!(
                        "slack: Slack accepts adapters.slack.app_token again; Socket Mode connecting"
                    );
                }
                match serve(&url, &tls, &requests, &config.command, &mut stop).await {
                    Closed::Stopped => return Ok(()),
                    Closed::Refresh => {
                        tracing::debug!("slack: Socket Mode refresh asked by Slack");
                        Duration::ZERO
                    }
                    Closed::Dropped(why) => {
                        tracing::warn!(error = %why, retry_in_s = reconnect.as_secs(), "slack: Socket Mode connection lost; reconnecting");
                        reconnect
                    }
                }
            }
            Err(e @ SendError::Permanent { .. }) => {
                let next = match refused {
                    None => {
                        tracing::error!(error = %e, retry_in_s = REFUSED_FIRST_WAIT.as_secs(),
                            "slack: Slack refuses adapters.slack.app_token for Socket Mode (it must be an app-level xapp- token with connections:write that Slack still accepts); commands and buttons from Slack are off until it does, asking again every few minutes");
                        REFUSED_FIRST_WAIT
                    }
                    Some(w) => {
                        tracing::debug!(error = %e, "slack: app token still refused");
                        (w * 2).min(REFUSED_MAX_WAIT)
                    }
                };
                refused = Some(next);
                next
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_s = reconnect.as_secs(), "slack: Socket Mode cannot get a connection URL; retrying");
                reconnect
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// One connection: envelopes in, acknowledgements out, until it ends.
async fn serve(
    url: &str,
    tls: &Arc<rustls::ClientConfig>,
    requests: &mpsc::Sender<SocketRequest>,
    main_command: &str,
    stop: &mut watch::Receiver<bool>,
) -> Closed {
    let ws = match crate::websocket::open(url, tls).await {
        Ok(ws) => ws,
        Err(why) => return Closed::Dropped(why),
    };
    let (mut up, mut down) = ws.split();
    let (acks, mut ack_rx) = mpsc::unbounded_channel::<String>();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stopped(stop) => break,
            Some(frame) = ack_rx.recv() => {
                if let Err(e) = up.send(Message::text(frame)).await {
                    return Closed::Dropped(format!("sending an acknowledgement: {e}"));
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > SILENT_LIMIT {
                    return Closed::Dropped(format!("nothing heard for {} s", SILENT_LIMIT.as_secs()));
                }
                if let Err(e) = up.send(Message::Ping(Vec::new().into())).await {
                    return Closed::Dropped(format!("ping: {e}"));
                }
            }
            frame = down.next() => {
                heard = tokio::time::Instant::now();
                match frame {
                    None => return Closed::Dropped("the connection closed".into()),
                    Some(Err(e)) => return Closed::Dropped(e.to_string()),
                    Some(Ok(Message::Close(_))) => return Closed::Dropped("Slack closed the connection".into()),
                    Some(Ok(Message::Text(text))) => {
                        if on_envelope(text.as_str(), requests, main_command, &acks) {
                            return Closed::Refresh;
                        }
                    }
                    // Pings are answered by tungstenite itself.
                    Some(Ok(_)) => {}
                }
            }
        }
    }
    let _ = up.close().await;
    Closed::Stopped
}

/// Resolves when the hub stops. (`wait_for`'s `Ref` is not `Send`: it
/// must not be a `select!` output next to branches that await.)
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Act on one envelope; true when Slack asks us to reconnect.
fn on_envelope(
    text: &str,
    requests: &mpsc::Sender<SocketRequest>,
    main_command: &str,
    acks: &mpsc::UnboundedSender<String>,
) -> bool {
    let Ok(envelope) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("slack: a Socket Mode frame that is not JSON; ignored");
        return false;
    };
    match envelope["type"].as_str() {
        Some("hello") => {
            tracing::debug!("slack: Socket Mode connected");
            return false;
        }
        Some("disconnect") => return true,
        _ => {}
    }
    let Some(id) = envelope["envelope_id"].as_str().map(str::to_string) else {
        return false;
    };
    let payload = envelope["payload"].clone();
    let raw = payload.to_string();
    let request = match envelope["type"].as_str() {
        Some("slash_commands") => serde_json::from_value::<CommandForm>(payload)
            .map(|form| Some(inbound::command_request(form, main_command, raw.as_bytes())))
            .map_err(|e| e.to_string()),
        // Button presses are answered through response_url; the
        // acknowledgement itself carries nothing.
        Some("interactive") => serde_json::from_value::<InteractionPayload>(payload)
            .map(|p| inbound::interaction_request(p, raw.as_bytes()))
            .map_err(|e| e.to_string()),
        // Thread replies (answers to questions); other events are
        // acknowledged only.
        Some("events_api") => Ok(inbound::event_request(&payload)),
        _ => Ok(None),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            // It would not parse better when Slack sends it again.
            tracing::warn!(error = %e, "slack: a Socket Mode request could not be read; acknowledged without acting");
            None
        }
    };
    let (requests, acks) = (requests.clone(), acks.clone());
    tokio::spawn(async move {
        let answer = match request {
            Some(r) => ask(&requests, r).await,
            None => None,
        };
        let ack = match answer {
            Some(payload) => json!({"envelope_id": id, "payload": payload}),
            None => json!({"envelope_id": id}),
        };
        // The connection may be gone meanwhile: Slack sends it again.
        let _ = acks.send(ack.to_string());
    });
    false
}

async fn ask(requests: &mpsc::Sender<SocketRequest>, request: SlackRequest) -> Option<Value> {
    let (tx, rx) = oneshot::channel();
    let sent = requests
        .send(SocketRequest {
            request,
            answer: tx,
        })
        .await;
    if sent.is_err() {
        return None;
    }
    tokio::time::timeout(ANSWER_GUARD, rx).await.ok()?.ok()?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn envelopes_are_acknowledged_and_disconnect_asks_for_a_reconnect() {
        let (requests, _keep) = mpsc::channel(1);
        let (acks, mut ack_rx) = mpsc::unbounded_channel();
        assert!(!on_envelope(
            r#"{"type":"hello"}"#,
            &requests,
            "/ork",
            &acks
        ));
        assert!(on_envelope(
            r#"{"type":"disconnect","reason":"refresh_requested"}"#,
            &requests,
            "/ork",
            &acks
        ));
        assert!(!on_envelope(
            r#"{"type":"events_api","envelope_id":"e1","payload":{}}"#,
            &requests,
            "/ork",
            &acks
        ));
        let ack: Value = serde_json::from_str(&ack_rx.recv().await.unwrap()).unwrap();
        assert_eq!(ack, json!({"envelope_id": "e1"}));
    }
}
