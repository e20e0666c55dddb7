//! The console adapter: prints each delivery as one line. It needs no token,
//! so a fresh `orkhub serve` shows its deliveries somewhere.

mod render;

use crate::{Adapter, Destination, SendError, Sent};
use async_trait::async_trait;
use neutral::RichMessage;
use routing::ChannelKind;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::UnboundedSender;

/// Where console lines go: the process's stdout, or a channel (tests, embedding).
pub enum ConsoleOutput {
    Stdout,
    Channel(UnboundedSender<String>),
}

pub struct ConsoleAdapter {
    output: ConsoleOutput,
    next_id: AtomicU64,
}

impl ConsoleAdapter {
    pub fn new(output: ConsoleOutput) -> Self {
        ConsoleAdapter {
            output,
            next_id: AtomicU64::new(1),
        }
    }

    fn emit(&self, line: String) -> Result<(), SendError> {
        match &self.output {
            ConsoleOutput::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").map_err(|e| SendError::transient(format!("stdout: {e}")))
            }
            ConsoleOutput::Channel(tx) => tx
                .send(line)
                .map_err(|_| SendError::transient("console listener has gone away")),
        }
    }
}

#[async_trait]
impl Adapter for ConsoleAdapter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }

    async fn send(&self, to: &Destination, message: &RichMessage) -> Result<Sent, SendError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        self.emit(render::line(&to.address, &id, message, false))?;
        Ok(Sent {
            platform_message_id: Some(id),
        })
    }

    async fn edit(
        &self,
        to: &Destination,
        platform_message_id: &str,
        message: &RichMessage,
    ) -> Result<(), SendError> {
        self.emit(render::line(
            &to.address,
            platform_message_id,
            message,
            true,
        ))
    }
}
