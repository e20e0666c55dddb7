//! The daily brief for Slack: mrkdwn text from `slack/brief.mrkdwn.hbs`
//! (the message's fallback text) and Block Kit blocks from
//! `slack/brief.blocks.json.hbs`, both escaped with the adapter's one
//! escaper ([`Mrkdwn::escape`]); inside the blocks' JSON strings the
//! escaped text is also JSON-quoted. The blocks are checked to be a JSON
//! array and fitted to Block Kit's limits ([`super::blocks::fit`]).

use super::render::Mrkdwn;
use crate::template::{Mode, TemplateError, TemplateFile, Templates, tidy};
use briefs::Brief;
use serde_json::Value;

pub const MRKDWN: TemplateFile = TemplateFile {
    path: "slack/brief.mrkdwn.hbs",
    legacy: Some("brief/slack.mrkdwn.hbs"),
    builtin: include_str!("../../../templates/slack/brief.mrkdwn.hbs"),
};

pub const BLOCKS: TemplateFile = TemplateFile {
    path: "slack/brief.blocks.json.hbs",
    legacy: Some("brief/slack.blocks.json.hbs"),
    builtin: include_str!("../../../templates/slack/brief.blocks.json.hbs"),
};

/// Slack's escaping, then JSON's: the template supplies the quotes.
fn escape_in_json(s: &str) -> String {
    let quoted = Value::String(Mrkdwn::escape(s).into_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

pub fn mrkdwn(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(
        &MRKDWN,
        |s| Mrkdwn::escape(s).into_string(),
        brief,
        mode,
        tidy,
    )
}

/// The blocks as compact JSON, within Slack's limits.
pub fn blocks(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(&BLOCKS, escape_in_json, brief, mode, fit_blocks)
}

/// Refuse to hand the sender something Slack would reject; send it compact
/// and within Block Kit's limits.
fn fit_blocks(out: String) -> Result<String, TemplateError> {
    let invalid = |message: String| TemplateError::InvalidOutput {
        format: "slack_blocks",
        message,
    };
    let v: Value = serde_json::from_str(&out).map_err(|e| invalid(e.to_string()))?;
    let Value::Array(list) = v else {
        return Err(invalid("expected a JSON array of blocks".into()));
    };
    Ok(Value::Array(super::blocks::fit(list)).to_string())
}
