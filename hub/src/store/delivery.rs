//! What a delivery does and where it stands, as the outbox stores them
//! (the `op` and `status` columns of `deliveries`).

use super::StoreError;

/// What a delivery does on its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOp {
    /// A new message.
    Send,
    /// Replace a message sent before (`target_message_id`).
    Edit,
}

impl DeliveryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOp::Send => "send",
            DeliveryOp::Edit => "edit",
        }
    }

    /// Read back from the `op` column.
    pub fn parse(text: &str) -> Result<DeliveryOp, StoreError> {
        match text {
            "send" => Ok(DeliveryOp::Send),
            "edit" => Ok(DeliveryOp::Edit),
            other => Err(StoreError::Corrupt(format!(
                "a delivery's op is {other:?}, not send or edit"
            ))),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Due at `next_attempt_at`.
    Pending,
    /// Waiting for the person's digest.
    Held,
    /// Claimed by a dispatcher, under its lease.
    Sending,
    /// Delivered (the live feed's are sent at commit).
    Sent,
    /// Out of attempts, or refused for good.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Held => "held",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Dead => "dead",
        }
    }
}

impl std::fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_read_back_as_written_and_anything_else_is_corruption() {
        for op in [DeliveryOp::Send, DeliveryOp::Edit] {
            assert_eq!(DeliveryOp::parse(op.as_str()).ok(), Some(op));
        }
        let err = DeliveryOp::parse("resend").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains("\"resend\""), "{err}");
    }
}
