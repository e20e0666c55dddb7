//! Parsed templates, kept between renders. Parsing is the expensive part
//! of a render: handlebars works out each element's line and column by
//! counting from the start of the text, and the brief's templates are
//! long — parsing the plain-text brief took a few milliseconds of every
//! console Brief page that builds one (`pest`'s `line_col` was the largest
//! single function in the console benchmark's profile).
//!
//! Files are still read at every render, so an edit shows in the next one:
//! a template is kept together with the text it was parsed from and parsed
//! again when the text differs. One entry per template name, escape and
//! setup, so the cache holds at most one copy of each template there is.

use super::Escape;
use handlebars::Handlebars;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// How a registry is set up besides its escape function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// Strict mode (a typo in a field name is an error) and the shared
    /// helpers ([`super::helpers`]): briefs on every platform.
    StrictWithHelpers,
    /// Handlebars' defaults: the email adapter's messages and digests.
    Plain,
}

/// (template name, escape function's address, setup).
type Key = (String, usize, Setup);
/// The text parsed, and a registry holding it under the template's name.
type Entry = (String, Arc<Handlebars<'static>>);

static COMPILED: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(Mutex::default);

fn key(name: &str, escape: Escape, setup: Setup) -> Key {
    (name.to_string(), escape as usize, setup)
}

/// A registry with `text` registered as `name`, from the cache when the
/// same text was parsed before with the same escape and setup.
pub fn compiled(
    name: &str,
    text: &str,
    escape: Escape,
    setup: Setup,
) -> Result<Arc<Handlebars<'static>>, handlebars::TemplateError> {
    let key = key(name, escape, setup);
    // A panic elsewhere while the lock was held leaves a map that is still
    // whole (inserts are single calls): keep using it.
    if let Some((cached, hb)) = COMPILED.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && cached == text
    {
        return Ok(hb.clone());
    }
    let mut hb = Handlebars::new();
    hb.register_escape_fn(escape);
    if setup == Setup::StrictWithHelpers {
        hb.set_strict_mode(true);
        super::helpers::register(&mut hb);
    }
    hb.register_template_string(name, text)?;
    let hb = Arc::new(hb);
    COMPILED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (text.to_string(), hb.clone()));
    Ok(hb)
}

/// Whether `text` is kept parsed for `name`, `escape` and `setup` (for
/// tests: what a render leaves behind).
pub fn is_kept(name: &str, text: &str, escape: Escape, setup: Setup) -> bool {
    let key = key(name, escape, setup);
    COMPILED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .is_some_and(|(cached, _)| cached == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(s: &str) -> String {
        s.to_uppercase()
    }

    #[test]
    fn the_same_text_is_parsed_once_and_an_edit_is_parsed_again() {
        let name = "compiled-test/one.hbs";
        let a = compiled(name, "hi {{x}}", upper, Setup::Plain).unwrap();
        let again = compiled(name, "hi {{x}}", upper, Setup::Plain).unwrap();
        assert!(
            Arc::ptr_eq(&a, &again),
            "the same text comes from the cache"
        );
        let ctx = serde_json::json!({"x": "bob"});
        assert_eq!(again.render(name, &ctx).unwrap(), "hi BOB");

        // The file was edited: the new text renders, not the old one.
        let edited = compiled(name, "bye {{x}}", upper, Setup::Plain).unwrap();
        assert!(!Arc::ptr_eq(&a, &edited));
        assert_eq!(edited.render(name, &ctx).unwrap(), "bye BOB");
    }

    #[test]
    fn escape_and_setup_are_part_of_what_is_kept() {
        let name = "compiled-test/two.hbs";
        let plain = compiled(name, "{{x}}", handlebars::no_escape, Setup::Plain).unwrap();
        let upper_esc = compiled(name, "{{x}}", upper, Setup::Plain).unwrap();
        let ctx = serde_json::json!({"x": "a<b"});
        assert_eq!(plain.render(name, &ctx).unwrap(), "a<b");
        assert_eq!(upper_esc.render(name, &ctx).unwrap(), "A<B");
        // Strict mode comes with its setup only: a missing field is an
        // error there and empty text without it.
        let strict = compiled(name, "{{y}}", upper, Setup::StrictWithHelpers).unwrap();
        assert!(strict.render(name, &ctx).is_err());
        let lax = compiled(name, "{{y}}", upper, Setup::Plain).unwrap();
        assert_eq!(lax.render(name, &ctx).unwrap(), "");
    }

    #[test]
    fn a_broken_text_is_an_error_every_time_and_is_not_kept() {
        let name = "compiled-test/three.hbs";
        assert!(compiled(name, "{{#if}}", upper, Setup::Plain).is_err());
        assert!(compiled(name, "{{#if}}", upper, Setup::Plain).is_err());
    }
}
