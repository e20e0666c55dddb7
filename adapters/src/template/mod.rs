//! The handlebars setup every adapter's templates share: where a template
//! is read from (an edited file under the templates directory, else the
//! copy built into the binary), the helpers for figures, times and free
//! text ([`helpers`]), strict mode, and the two ways to react to a broken
//! edited file. What is platform-specific — the escape function and what
//! is done with the output (Slack's Block Kit limits) — each adapter passes
//! in; this module knows no platform.
//!
//! Templates are read at every render, so an edit shows in the next brief
//! without a rebuild. Two modes: [`Mode::Strict`] returns the first error
//! (for `orkhub brief --preview`, where the person editing a template
//! wants to see it); [`Mode::Send`] uses the built-in template when an
//! edited file cannot be read or does not render, so one broken file never
//! stops the brief on every channel (logged once per file and error).

pub mod compiled;
pub mod helpers;

use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What can go wrong rendering a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error("reading template {path}: {message}")]
    File { path: String, message: String },
    #[error("the {format} template produced invalid output: {message}")]
    InvalidOutput {
        format: &'static str,
        message: String,
    },
}

/// One template: its path under the templates directory, an older path
/// still read when the new one is missing (templates edited before they
/// moved to `<platform>/`), and the built-in copy.
#[derive(Debug, Clone, Copy)]
pub struct TemplateFile {
    pub path: &'static str,
    pub legacy: Option<&'static str>,
    pub builtin: &'static str,
}

/// Strict (previews) or for sending (fall back to the built-in copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Send,
}

/// An escape function: whatever a person or an agent wrote comes out as
/// literal text in the format. Each adapter has exactly one per format.
pub type Escape = fn(&str) -> String;

/// Templates from a directory (None: built-ins only).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    dir: Option<PathBuf>,
    /// Template failures already logged ("file: error"), so a broken file
    /// is reported once rather than in every brief of every person.
    reported: Arc<Mutex<HashSet<String>>>,
}

impl Templates {
    pub fn new(dir: Option<PathBuf>) -> Templates {
        Templates {
            dir,
            reported: Arc::default(),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The edited template for `file`, if there is one: (path, text).
    fn edited(&self, file: &TemplateFile) -> Result<Option<(String, String)>, TemplateError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        for rel in std::iter::once(file.path).chain(file.legacy) {
            let path = dir.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Some((path.display().to_string(), text))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(TemplateError::File {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(None)
    }

    /// Render `file` with `ctx`, escaping values with `escape`, and pass
    /// the output through `finish` (an adapter's check or fitting of its
    /// format). In [`Mode::Send`] an edited file that fails anywhere along
    /// the way gives way to the built-in copy; only a broken built-in fails.
    pub fn render<C: Serialize>(
        &self,
        file: &TemplateFile,
        escape: Escape,
        ctx: &C,
        mode: Mode,
        finish: impl Fn(String) -> Result<String, TemplateError>,
    ) -> Result<String, TemplateError> {
        let edited = self.edited(file).and_then(|e| {
            e.map(|(name, text)| render_source(&name, &text, escape, ctx).and_then(&finish))
                .transpose()
        });
        match (edited, mode) {
            (Ok(Some(out)), _) => return Ok(out),
            (Ok(None), _) => {}
            (Err(e), Mode::Strict) => return Err(e),
            (Err(e), Mode::Send) => self.report(file, &e),
        }
        let name = format!("built-in {}", file.path);
        render_source(&name, file.builtin, escape, ctx).and_then(finish)
    }

    fn report(&self, file: &TemplateFile, e: &TemplateError) {
        let key = e.to_string();
        let first = self
            .reported
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(true);
        if first {
            tracing::error!(template = file.path, error = %e, "template does not render; the built-in one is used instead (logged once)");
        }
    }
}

/// Render one template text; `name` is what errors call it.
pub fn render_source<C: Serialize>(
    name: &str,
    text: &str,
    escape: Escape,
    ctx: &C,
) -> Result<String, TemplateError> {
    let err = |e: &dyn std::fmt::Display| TemplateError::Template {
        file: name.to_string(),
        message: e.to_string(),
    };
    // Strict: a typo in a field name is an error, not an empty string.
    // Parsed once per text and kept under its own name (`compiled`): the
    // console's pages and their layout share one escape, so a common name
    // would have them take each other's place at every page.
    let hb = compiled::compiled(name, text, escape, compiled::Setup::StrictWithHelpers)
        .map_err(|e| err(&e))?;
    hb.render(name, ctx).map_err(|e| err(&e))
}

/// Collapse the blank lines templates leave around block helpers: at most
/// one empty line in a row, none at the ends.
pub fn tidy(s: String) -> Result<String, TemplateError> {
    let mut out: Vec<&str> = Vec::new();
    for line in s.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l: &&str| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(s: &str) -> String {
        handlebars::html_escape(s)
    }

    // A page and its layout share one escape: each stays parsed under its
    // own name, so rendering one does not throw the other out.
    #[test]
    fn templates_sharing_an_escape_stay_parsed_side_by_side() {
        let ctx = serde_json::json!({"x": "<b>"});
        let (a, b) = ("test/page.html.hbs", "test/layout.html.hbs");
        for _ in 0..2 {
            assert_eq!(
                render_source(a, "P {{x}}", html, &ctx).unwrap(),
                "P &lt;b&gt;"
            );
            assert_eq!(
                render_source(b, "L {{x}}", html, &ctx).unwrap(),
                "L &lt;b&gt;"
            );
        }
        let setup = compiled::Setup::StrictWithHelpers;
        assert!(compiled::is_kept(a, "P {{x}}", html, setup));
        assert!(compiled::is_kept(b, "L {{x}}", html, setup));
    }
}
