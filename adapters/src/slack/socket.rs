//! Socket Mode: for installs that cannot expose a public URL, the hub opens
//! a WebSocket to Slack (slack-morphism's `SlackClientSocketModeListener`,
//! which asks `apps.connections.open` on the configured `api_url` for the
//! socket's address) and receives the same slash commands and button
//! presses there. No request signing is involved: the app token
//! authenticates the socket. Each request is handed to the hub as a
//! [`SocketRequest`]; the hub answers it exactly as an HTTP request (same
//! deadline, same once-only key), and the answer goes back as the envelope's
//! acknowledgement.

use super::config::SlackConfig;
use super::inbound::{self, CommandForm, InteractionPayload, SlackRequest};
use super::send;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// A request from the socket, and where its immediate answer goes
/// (`None`: acknowledge without content).
pub struct SocketRequest {
    pub request: SlackRequest,
    pub answer: oneshot::Sender<Option<Value>>,
}

#[derive(Clone)]
struct Sink {
    requests: mpsc::Sender<SocketRequest>,
    main_command: String,
}

/// Slack waits 3 s for the acknowledgement; the hub answers within its own
/// `ack_deadline_ms`, this is only the last guard.
const ANSWER_GUARD: Duration = Duration::from_millis(2_900);

/// Connect and serve until `stop` turns true. Connecting never gives up:
/// slack-morphism's clients ask `apps.connections.open` again every
/// `socket_reconnect_secs` after a failure (the URL refused, the WebSocket
/// not opening), and reconnect the same way when a connection drops or
/// Slack asks for a refresh (`disconnect` envelope). A failure shows in the
/// log, not here.
pub async fn listen(
    config: &SlackConfig,
    requests: mpsc::Sender<SocketRequest>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let trust = crate::tls::Trust::load(config.ca_file.as_deref(), "adapters.slack.ca_file")
        .map_err(|e| e.to_string())?;
    let client = Arc::new(SlackClient::new(send::connector(&config.api_url, &trust)));
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(client).with_user_state(Sink {
            requests,
            main_command: config.command.clone(),
        }),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let socket_config = SlackClientSocketModeConfig::new()
        .with_reconnect_timeout_in_seconds(config.socket_reconnect_secs.max(1));
    let listener = SlackClientSocketModeListener::new(&socket_config, env, callbacks);
    let token = SlackApiToken::new(config.app_token.clone().into());
    // Only sets the clients up; they connect (and retry) once started.
    listener
        .listen_for(&token)
        .await
        .map_err(|e| format!("slack socket mode: cannot set up the connections: {e}"))?;
    listener.start().await;
    let _ = stop.wait_for(|s| *s).await;
    listener.shutdown().await;
    Ok(())
}

async fn sink(states: &SlackClientEventsUserState) -> Option<Sink> {
    states.read().await.get_user_state::<Sink>().cloned()
}

async fn ask(sink: &Sink, request: SlackRequest) -> Option<Value> {
    let (tx, rx) = oneshot::channel();
    let sent = sink
        .requests
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

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackClient<send::Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let sink = sink(&states).await.ok_or("socket mode: no request sink")?;
    let raw = serde_json::to_value(&event)?;
    let form: CommandForm = serde_json::from_value(raw.clone())?;
    let request = inbound::command_request(form, &sink.main_command, raw.to_string().as_bytes());
    let answer = ask(&sink, request).await;
    Ok(command_response(answer))
}

/// The hub's reply body as the envelope's payload; text only when the
/// blocks are of a kind slack-morphism's model does not know.
fn command_response(answer: Option<Value>) -> SlackCommandEventResponse {
    let Some(body) = answer else {
        return SlackCommandEventResponse::new(SlackMessageContent::new());
    };
    serde_json::from_value(body.clone()).unwrap_or_else(|_| {
        let text = body["text"].as_str().unwrap_or("").to_string();
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral)
    })
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<send::Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let sink = sink(&states).await.ok_or("socket mode: no request sink")?;
    let raw = serde_json::to_value(&event)?;
    let payload: InteractionPayload = serde_json::from_value(raw.clone())?;
    if let Some(request) = inbound::interaction_request(payload, raw.to_string().as_bytes()) {
        // Button presses are answered through response_url; the
        // acknowledgement itself carries nothing.
        let _ = ask(&sink, request).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_replies_become_envelope_payloads() {
        let reply = commands::Reply::error("no such task <!channel>");
        let body = super::super::render::reply_body(&reply, None);
        let r = command_response(Some(body));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["response_type"], "ephemeral");
        assert_eq!(json["text"], "no such task &lt;!channel&gt;");
    }
}
