//! The daily brief in Telegram HTML, from `telegram/brief.html.hbs`,
//! escaped with the adapter's one escaper ([`super::render::escape`]). The
//! output is read back and split like any message when it is sent
//! ([`super::render::parts`]), so a template's markup is checked there.

use crate::template::{Mode, TemplateError, TemplateFile, Templates, tidy};
use briefs::Brief;

pub const TEMPLATE: TemplateFile = TemplateFile {
    path: "telegram/brief.html.hbs",
    legacy: Some("brief/telegram.html.hbs"),
    builtin: include_str!("../../../templates/telegram/brief.html.hbs"),
};

pub fn render(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(&TEMPLATE, super::render::escape, brief, mode, tidy)
}
