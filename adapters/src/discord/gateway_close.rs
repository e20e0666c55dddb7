//! What ends a Gateway connection and what to do next, from Discord's
//! documented close codes (discord.com/developers/docs/topics/opcodes-and-status-codes,
//! "Gateway Close Event Codes") and the Resuming flow
//! (discord.com/developers/docs/events/gateway, "Resuming").

/// Why a connection ended, and so how the next one starts.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Closed {
    /// The hub is stopping.
    Stopped,
    /// The connection was lost: resume the session if there is one, else
    /// identify afresh.
    Dropped(String),
    /// Discord asked for it (Reconnect, Invalid Session with `d: true`) or
    /// the connection went quiet (no heartbeat ACK): reconnect and resume.
    Resume(String),
    /// The session cannot be resumed (Invalid Session with `d: false`,
    /// 4007, 4009): identify afresh after the documented 1–5 s.
    Invalid(String),
    /// Discord forbids reconnecting: a setting to change (4004, 4013,
    /// 4014) or a fault in the hub (4010–4012). Nothing more is tried.
    Fatal(String),
}

/// What a close code from Discord means.
pub(super) fn closed_by(code: Option<u16>, reason: &str) -> Closed {
    let Some(code) = code else {
        return Closed::Dropped("Discord closed the connection".into());
    };
    let said = format!("closed with {code}: {reason}");
    match code {
        4004 => Closed::Fatal(format!(
            "{said} — Discord refuses the token: set adapters.discord.token to the bot's token (Developer Portal → Bot → Token) and restart"
        )),
        4013 | 4014 => Closed::Fatal(format!(
            "{said} — Discord refuses the intents: switch on the Message Content Intent (Developer Portal → Bot → Privileged Gateway Intents) and restart"
        )),
        4010..=4012 => Closed::Fatal(format!(
            "{said} — the hub's shard or API version is wrong; this is a fault in orkhub, please report it"
        )),
        4007 | 4009 => Closed::Invalid(said),
        _ => Closed::Dropped(said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_that_forbid_reconnecting_are_fatal_and_the_rest_resume_or_identify() {
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(
                matches!(closed_by(Some(code), "x"), Closed::Fatal(_)),
                "{code}"
            );
        }
        for code in [4007, 4009] {
            assert!(
                matches!(closed_by(Some(code), "x"), Closed::Invalid(_)),
                "{code}"
            );
        }
        for code in [1000, 1001, 4000, 4001, 4002, 4003, 4005, 4008] {
            assert!(
                matches!(closed_by(Some(code), "x"), Closed::Dropped(_)),
                "{code}"
            );
        }
        assert!(matches!(closed_by(None, ""), Closed::Dropped(_)));
        let Closed::Fatal(why) = closed_by(Some(4014), "Disallowed intent(s).") else {
            unreachable!()
        };
        assert!(why.contains("Message Content Intent"), "{why}");
    }
}
