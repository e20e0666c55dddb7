//! Opening a platform's WebSocket (Slack's Socket Mode, Discord's Gateway):
//! over TLS with the adapter's own trust (its `ca_file`, see `tls.rs`), and
//! within a bounded time, so a connection that hangs while opening is
//! retried like one that failed.

use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long opening (TCP, TLS, the HTTP upgrade) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Open `url` trusting `tls`; the error says why in one line (the caller
/// logs it with the platform's name and reconnects).
pub async fn open(url: &str, tls: &Arc<rustls::ClientConfig>) -> Result<Socket, String> {
    let connector = tokio_tungstenite::Connector::Rustls(tls.clone());
    let opening =
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector));
    match tokio::time::timeout(OPEN_TIMEOUT, opening).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("WebSocket: {e}")),
        Err(_) => Err("the WebSocket did not open in time".into()),
    }
}
