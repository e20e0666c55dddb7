//! How a spend range is read: which sums over which table, added or taken
//! away, so that each stretch of the range between two boundaries (the
//! brief's local midnights: today, the week, the month) gets exactly its
//! own spend while reading as few rows as it can.
//!
//! Spend is kept at three grains: the cost rows, an hourly roll-up
//! (`cost_hourly`) and a daily one (`cost_daily`), both by UTC hour and day
//! and kept in the cost insert's transaction. A stretch is read as whole
//! UTC days in its middle and, at each end, what is left of a UTC day:
//! up to half a day as its hours (and the cost rows of a partial hour),
//! more than half as the whole day less the hours outside the stretch.
//! A local day in Kyiv (22:00 to 22:00 UTC) is then one day and two hours
//! taken away, not 22 hours: on the benchmark's data, where a day has 550
//! daily rows and an hour 100 hourly ones, a third of the rows.

use super::costs::{DAY_MS, HOUR_MS};

/// Which table a read sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Grain {
    /// Whole UTC days: `cost_daily`.
    Days,
    /// Whole UTC hours: `cost_hourly`.
    Hours,
    /// Any range: the cost rows.
    Rows,
}

/// One statement: spend per agent and project over [from, to) from the
/// grain's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Read {
    pub from: i64,
    pub to: i64,
    pub grain: Grain,
}

/// A read's part in one stretch: its sums added (`sign` 1) or taken away
/// (-1), for the stretch that starts at `stretch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Term {
    pub read: usize,
    pub sign: i64,
    pub stretch: i64,
}

/// The reads (each once, though several terms may use it) and the terms.
#[derive(Debug, Default)]
pub(super) struct SpendPlan {
    pub reads: Vec<Read>,
    pub terms: Vec<Term>,
}

/// [from, until) cut at each boundary inside it; each stretch between two
/// cuts is read on its own, so no term's sums cross a boundary.
pub(super) fn plan(from: i64, until: i64, boundaries: &[i64]) -> SpendPlan {
    let mut plan = SpendPlan::default();
    if until <= from {
        return plan;
    }
    let mut cuts = vec![from, until];
    cuts.extend(boundaries.iter().copied());
    cuts.retain(|&c| c >= from && c <= until);
    cuts.sort_unstable();
    cuts.dedup();
    for w in cuts.windows(2) {
        let mut pieces = Vec::new();
        stretch(w[0], w[1], &mut pieces);
        for (read, sign) in merged(pieces) {
            let index = match plan.reads.iter().position(|r| *r == read) {
                Some(i) => i,
                None => {
                    plan.reads.push(read);
                    plan.reads.len() - 1
                }
            };
            plan.terms.push(Term {
                read: index,
                sign,
                stretch: w[0],
            });
        }
    }
    plan
}

fn ceil(t: i64, unit: i64) -> i64 {
    -(-t).div_euclid(unit) * unit
}

fn floor(t: i64, unit: i64) -> i64 {
    t.div_euclid(unit) * unit
}

/// [a, b): whole UTC days in the middle, what is left of a day at each end.
fn stretch(a: i64, b: i64, out: &mut Vec<(Read, i64)>) {
    let (da, db) = (ceil(a, DAY_MS), floor(b, DAY_MS));
    if da > db {
        within_day(a, b, out);
        return;
    }
    if a < da {
        within_day(a, da, out);
    }
    if da < db {
        out.push((read(da, db, Grain::Days), 1));
    }
    if db < b {
        within_day(db, b, out);
    }
}

/// [x, y) inside one UTC day: its hours and rows, or, when it is more than
/// half of the day, the day less the hours and rows outside it.
fn within_day(x: i64, y: i64, out: &mut Vec<(Read, i64)>) {
    let day = floor(x, DAY_MS);
    if y - x > DAY_MS / 2 {
        out.push((read(day, day + DAY_MS, Grain::Days), 1));
        hours_and_rows(day, x, -1, out);
        hours_and_rows(y, day + DAY_MS, -1, out);
    } else {
        hours_and_rows(x, y, 1, out);
    }
}

/// [x, y): whole UTC hours in the middle, the cost rows of the partial
/// hours at its ends.
fn hours_and_rows(x: i64, y: i64, sign: i64, out: &mut Vec<(Read, i64)>) {
    if x >= y {
        return;
    }
    let (hx, hy) = (ceil(x, HOUR_MS), floor(y, HOUR_MS));
    if hx >= hy {
        out.push((read(x, y, Grain::Rows), sign));
        return;
    }
    for (from, to, grain) in [
        (x, hx, Grain::Rows),
        (hx, hy, Grain::Hours),
        (hy, y, Grain::Rows),
    ] {
        if from < to {
            out.push((read(from, to, grain), sign));
        }
    }
}

fn read(from: i64, to: i64, grain: Grain) -> Read {
    Read { from, to, grain }
}

/// Adjacent pieces of one grain and sign as one read: fewer statements.
fn merged(mut pieces: Vec<(Read, i64)>) -> Vec<(Read, i64)> {
    pieces.sort_by_key(|(r, sign)| (*sign, r.grain, r.from));
    let mut out: Vec<(Read, i64)> = Vec::with_capacity(pieces.len());
    for (r, sign) in pieces {
        match out.last_mut() {
            Some((last, s)) if *s == sign && last.grain == r.grain && last.to == r.from => {
                last.to = r.to;
            }
            _ => out.push((r, sign)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_MS;
    const D: i64 = DAY_MS;

    /// Σ sign of the terms of stretch `s` whose read covers `t`.
    fn coverage(p: &SpendPlan, t: i64, s: i64) -> i64 {
        p.terms
            .iter()
            .filter(|term| term.stretch == s)
            .filter(|term| {
                let r = p.reads[term.read];
                r.from <= t && t < r.to
            })
            .map(|term| term.sign)
            .sum()
    }

    /// Every instant of the range counts once, in its own stretch; every
    /// instant outside it and in other stretches nets to zero; each read
    /// is aligned to its grain.
    fn check(from: i64, until: i64, bounds: &[i64]) -> SpendPlan {
        let p = plan(from, until, bounds);
        let mut cuts: Vec<i64> = vec![from];
        cuts.extend(bounds.iter().copied().filter(|&b| b > from && b < until));
        cuts.sort_unstable();
        cuts.dedup();
        let mut samples: Vec<i64> = Vec::new();
        let mut t = floor(from, D) - D;
        while t < ceil(until, D) + D {
            samples.extend([t, t + 1, t + 7 * 60_000, t + H / 2]);
            t += H;
        }
        for &c in cuts.iter().chain([&until]) {
            samples.extend([c - 1, c, c + 1]);
        }
        for t in samples {
            for &s in &cuts {
                let own = t >= from
                    && t < until
                    && cuts.iter().rev().find(|&&c| c <= t).copied() == Some(s);
                assert_eq!(
                    coverage(&p, t, s),
                    i64::from(own),
                    "t = {t} (from {from}, until {until}), stretch {s}: {p:?}"
                );
            }
        }
        for r in &p.reads {
            assert!(r.from < r.to, "{r:?}");
            match r.grain {
                Grain::Days => assert_eq!((r.from % D, r.to % D), (0, 0), "{r:?}"),
                Grain::Hours => assert_eq!((r.from % H, r.to % H), (0, 0), "{r:?}"),
                Grain::Rows => assert!(
                    r.to - r.from < 2 * H,
                    "{r:?}: rows of at most two partial hours"
                ),
            }
        }
        p
    }

    fn span(p: &SpendPlan, grain: Grain) -> i64 {
        p.reads
            .iter()
            .filter(|r| r.grain == grain)
            .map(|r| r.to - r.from)
            .sum()
    }

    #[test]
    fn each_instant_is_counted_once_in_its_own_stretch() {
        let d = 20_000 * D;
        // Boundaries at local midnights of +02:00, +05:30 and -03:30 zones,
        // the brief's three (today, month, week), and odd milliseconds.
        check(
            d - 22 * H,
            d + 9 * D + 5 * H,
            &[d + 9 * D - 2 * H, d - 22 * H],
        );
        check(
            d + 18 * H + H / 2,
            d + 30 * D,
            &[d + 29 * D + 18 * H + H / 2],
        );
        check(d, d + 3 * D, &[d + D, d + 2 * D]);
        check(d + 3 * H, d + 4 * H, &[d + 3 * H]);
        check(
            d - 2 * H,
            d + 6 * D + 7 * H + 1,
            &[d + 4 * D - 2 * H, d + 5 * D - 2 * H, d - 2 * H],
        );
        check(d + 13 * H + 17, d + 14 * H - 3, &[]);
        check(d + 11 * H, d + D + 13 * H, &[d + D]);
        assert!(plan(d, d, &[]).reads.is_empty());
    }

    #[test]
    fn a_local_day_reads_a_day_less_the_hours_outside_it() {
        let d = 20_000 * D;
        // Aligned boundaries: whole days only.
        let p = check(d, d + 3 * D, &[d + D]);
        assert!(p.reads.iter().all(|r| r.grain == Grain::Days), "{p:?}");
        // Kyiv (+02:00): its day is one UTC day and two hours taken away
        // (22 hours were read before), no cost rows.
        let kyiv = check(d - 2 * H, d + 22 * H, &[]);
        assert_eq!(
            (span(&kyiv, Grain::Days), span(&kyiv, Grain::Hours)),
            (D, 4 * H)
        );
        assert_eq!(span(&kyiv, Grain::Rows), 0);
        // A +05:30 day: half an hour of rows at each end.
        let india = check(d - 5 * H - H / 2, d + 18 * H + H / 2, &[]);
        assert_eq!(span(&india, Grain::Rows), H);
        // Up to half a day: its own hours, no day.
        let short = check(d + 3 * H, d + 15 * H, &[]);
        assert_eq!(
            (span(&short, Grain::Days), span(&short, Grain::Hours)),
            (0, 12 * H)
        );
    }

    #[test]
    fn a_read_that_two_stretches_need_is_made_once() {
        let d = 20_000 * D;
        // The month starts at Kyiv's midnight, 22:00 UTC: [22:00, 24:00)
        // is taken away from the week's last UTC day and is the month's
        // first two hours.
        let p = check(d - 3 * D, d + 2 * D, &[d + 22 * H]);
        let two_hours = p
            .reads
            .iter()
            .filter(|r| (r.from, r.to) == (d + 22 * H, d + D))
            .count();
        assert_eq!(two_hours, 1, "{p:?}");
        assert_eq!(
            p.terms
                .iter()
                .filter(|t| p.reads[t.read].from == d + 22 * H)
                .count(),
            2
        );
    }
}
