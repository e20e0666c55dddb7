//! Template helpers for figures and times. Their output is digits and
//! punctuation that is inert in every format.

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
}

/// `{{usd x}}` → `$12.34`
fn usd(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let x = number(h)?;
    out.write(&format!("${x:.2}"))?;
    Ok(())
}

/// `{{pct x}}` → `45.0%`
fn pct(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let x = number(h)?;
    out.write(&format!("{x:.1}%"))?;
    Ok(())
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
