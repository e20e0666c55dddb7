//! The daily brief as an email: HTML from `email/brief.html.hbs`, escaped
//! with the adapter's one HTML escaper ([`super::render::escape`]), and
//! plain text from `email/brief.txt.hbs`, escaped not at all (the reader
//! sees `&` and `<` as typed). The plain text is also what consoles, the
//! web feed and the LLM summary get.

use crate::template::{Mode, TemplateError, TemplateFile, Templates, tidy};
use briefs::Brief;

pub const HTML: TemplateFile = TemplateFile {
    path: "email/brief.html.hbs",
    legacy: Some("brief/email.html.hbs"),
    builtin: include_str!("../../../templates/email/brief.html.hbs"),
};

pub const TEXT: TemplateFile = TemplateFile {
    path: "email/brief.txt.hbs",
    legacy: Some("brief/email.txt.hbs"),
    builtin: include_str!("../../../templates/email/brief.txt.hbs"),
};

pub fn html(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(&HTML, super::render::escape, brief, mode, tidy)
}

pub fn text(t: &Templates, brief: &Brief, mode: Mode) -> Result<String, TemplateError> {
    t.render(&TEXT, handlebars::no_escape, brief, mode, tidy)
}
