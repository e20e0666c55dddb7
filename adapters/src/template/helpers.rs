//! Template helpers for figures, times and free text. Figures and times
//! come out as digits and punctuation that are inert in every format; a
//! missing figure (null, or not a finite number) is shown as "—" rather than
//! failing the whole brief.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

pub fn register(hb: &mut Handlebars<'_>) {
    hb.register_helper("usd", Box::new(usd));
    hb.register_helper("pct", Box::new(pct));
    hb.register_helper("local", Box::new(local));
    hb.register_helper("inc", Box::new(inc));
    hb.register_helper("day", Box::new(day));
    hb.register_helper("trunc", Box::new(trunc));
    hb.register_helper("plural", Box::new(plural));
}

/// `{{plural n "open task"}}` → `1 open task`, `3 open tasks`, `0 open
/// tasks`; a third parameter gives an irregular plural
/// (`{{plural n "person" "people"}}`). The words come from the template
/// itself (never from data), so they need no escaping.
fn plural(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let n = number(h)? as i64;
    let one = h
        .param(1)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("plural", 1))?;
    let many = h
        .param(2)
        .and_then(|p| p.value().as_str())
        .map_or_else(|| format!("{one}s"), str::to_string);
    out.write(&format!("{n} {}", if n == 1 { one } else { &many }))?;
    Ok(())
}

/// `{{trunc text 200}}`: free text (a task title, a decision's context) on
/// one line, escaped for the format, at most 200 characters *as written*
/// (escaping can make a character five), ending in "…" when cut. The cut
/// is made before escaping, so an entity or a backslash escape is never
/// split. Null is empty; a number is written as it is.
fn trunc(
    h: &Helper,
    r: &Handlebars,
    _: &Context,
    rc: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("trunc", 0))?
        .value();
    let max =
        h.param(1)
            .and_then(|p| p.value().as_u64())
            .ok_or(RenderErrorReason::InvalidParamType(
                "a maximum length (trunc text N)",
            ))? as usize;
    let text = match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let escape = |s: &str| -> String {
        if rc.is_disable_escape() {
            s.to_string()
        } else {
            r.get_escape_fn()(s)
        }
    };
    out.write(&fit(&one_line, max, escape))?;
    Ok(())
}

/// `text` escaped, cut so that the escaped text plus "…" is at most `max`
/// characters. Escaped length only grows with the prefix, so the longest
/// prefix that fits is found by bisection.
pub fn fit(text: &str, max: usize, escape: impl Fn(&str) -> String) -> String {
    let whole = escape(text);
    if whole.chars().count() <= max {
        return whole;
    }
    let ends: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let room = max.saturating_sub(1);
    let (mut lo, mut hi) = (0usize, ends.len() - 1);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if escape(&text[..ends[mid]]).chars().count() <= room {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut cut = escape(text[..ends[lo]].trim_end());
    if max > 0 {
        cut.push('…');
    }
    cut
}

/// Shown where a figure is missing.
pub const NO_FIGURE: &str = "—";

/// `{{usd x}}` → `$12.34`; `—` when x is null or not finite.
fn usd(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    match figure(h)? {
        Some(x) => out.write(&format!("${x:.2}"))?,
        None => out.write(NO_FIGURE)?,
    }
    Ok(())
}

/// `{{pct x}}` → `45.0%`; `—` when x is null or not finite.
fn pct(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    match figure(h)? {
        Some(x) => out.write(&format!("{x:.1}%"))?,
        None => out.write(NO_FIGURE)?,
    }
    Ok(())
}

/// A figure to show: None for null (an optional figure that is absent, e.g.
/// a percentage of a budget that is not set) and for NaN/infinity (serde
/// writes those as null too). A value of another type is a template bug.
fn figure(h: &Helper) -> Result<Option<f64>, RenderErrorReason> {
    let v = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("figure", 0))?
        .value();
    if v.is_null() {
        return Ok(None);
    }
    let x = v
        .as_f64()
        .ok_or(RenderErrorReason::InvalidParamType("a number"))?;
    Ok(x.is_finite().then_some(x))
}

/// `{{inc n}}` → n + 1 (for 1-based list numbers).
fn inc(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let x = number(h)?;
    out.write(&format!("{}", x as i64 + 1))?;
    Ok(())
}

/// `{{local t}}` → `2026-07-10 09:00` in the brief's time zone (the root
/// context's `time_zone`).
fn local(
    h: &Helper,
    _: &Handlebars,
    ctx: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let raw = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("local", 0))?;
    let t: DateTime<Utc> = raw
        .parse()
        .map_err(|_| RenderErrorReason::InvalidParamType("an RFC 3339 time"))?;
    let tz: Tz = ctx
        .data()
        .get("time_zone")
        .and_then(|v| v.as_str())
        .and_then(|z| z.parse().ok())
        .unwrap_or(Tz::UTC);
    out.write(&t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())?;
    Ok(())
}

fn number(h: &Helper) -> Result<f64, RenderErrorReason> {
    h.param(0)
        .and_then(|p| p.value().as_f64())
        .ok_or(RenderErrorReason::InvalidParamType("a number"))
}

/// `{{day t}}` → `2026-07-10`: the UTC calendar day (due dates are stored
/// as UTC midnight of the day, so no zone applies).
fn day(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let raw = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("day", 0))?;
    let t: DateTime<Utc> = raw
        .parse()
        .map_err(|_| RenderErrorReason::InvalidParamType("an RFC 3339 time"))?;
    out.write(&t.format("%Y-%m-%d").to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{discord, email};

    #[test]
    fn fit_counts_the_escaped_text_and_never_splits_an_escape() {
        assert_eq!(fit("short", 10, email::render::escape), "short");
        // Each '&' is five characters escaped: two fit with the ellipsis.
        assert_eq!(fit("&&&&&", 12, email::render::escape), "&amp;&amp;…");
        assert_eq!(fit("a*b*c*d", 6, discord::render::escape), "a\\*b…");
        assert_eq!(fit("abcdef", 4, handlebars::no_escape), "abc…");
        for max in 0..40 {
            let out = fit("<x> & \"y\" <!channel> **z**", max, email::render::escape);
            assert!(out.chars().count() <= max.max(1), "{max}: {out}");
            let body = out.trim_end_matches('…');
            // Every '&' still starts a whole entity.
            for (i, _) in body.match_indices('&') {
                assert!(body[i..].contains(';'), "{max}: split entity in {out}");
            }
        }
    }
}
