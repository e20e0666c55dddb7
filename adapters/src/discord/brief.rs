//! The daily brief in Discord markdown, from `discord/brief.md.hbs`,
//! escaped with the adapter's one escaper ([`super::render::escape`]).

use crate::template::{Mode, TemplateError, TemplateFile, Templates, tidy};
use briefs::Brief;

pub const TEMPLATE: TemplateFile = TemplateFile {
    path: "discord/brief.md.hbs",
    legacy: Some("brief/discord.md.hbs"),
    builtin: include_str!("../../../templates/discord/brief.md.hbs"),
};

pub fn render(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(&TEMPLATE, super::render::escape, brief, mode, tidy)
}
