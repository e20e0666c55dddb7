//! How a spend range is read: which sums over which table, added or taken
//! away, so that each stretch of the range between two boundaries (the
//! brief's local midnights: today, the week, the month) gets exactly its
//! own spend while reading as few rows as it can.
//!
//! Spend is kept at four grains: the cost rows, and roll-ups per UTC hour
//! (`cost_hourly`), UTC day (`cost_daily`) and week of seven UTC days
//! (`cost_weekly`), all kept in the cost insert's transaction. A stretch is
//! read as whole weeks in its middle and, at each end, what is left of a
//! week: up to half of it from the next grain down (days, then in turn
//! hours, then rows), more than half as the whole week less the rest of it
//! (read the same way). A local day in Kyiv (22:00 to 22:00 UTC) is then
//! one day and two hours taken away, not 22 hours, and a month so far at
//! most four weeks and half a week of days at each end, not 30 days: on
//! the benchmark's data a day has 550 daily rows and an hour 100 hourly
//! ones.

use super::costs::{DAILY, DAY_MS, HOUR_MS, HOURLY, Rollup, WEEK_MS, WEEKLY};

/// Which table a read sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Grain {
    /// Whole weeks of seven UTC days from the epoch: `cost_weekly`.
    Weeks,
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
        stretch(w[0], w[1], Grain::Weeks, 1, &mut pieces);
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

impl Grain {
    /// The grain's width, and the next grain down; None for the rows.
    fn unit(self) -> Option<(i64, Grain)> {
        match self {
            Grain::Weeks => Some((WEEK_MS, Grain::Days)),
            Grain::Days => Some((DAY_MS, Grain::Hours)),
            Grain::Hours => Some((HOUR_MS, Grain::Rows)),
            Grain::Rows => None,
        }
    }

    /// The roll-up a read of this grain sums; None for the cost rows.
    pub(super) fn rollup(self) -> Option<&'static Rollup> {
        match self {
            Grain::Weeks => Some(&WEEKLY),
            Grain::Days => Some(&DAILY),
            Grain::Hours => Some(&HOURLY),
            Grain::Rows => None,
        }
    }
}

/// [a, b): whole units of `grain` in the middle, what is left of a unit at
/// each end.
fn stretch(a: i64, b: i64, grain: Grain, sign: i64, out: &mut Vec<(Read, i64)>) {
    if a >= b {
        return;
    }
    let Some((unit, _)) = grain.unit() else {
        out.push((read(a, b, Grain::Rows), sign));
        return;
    };
    let (ua, ub) = (ceil(a, unit), floor(b, unit));
    if ua > ub {
        within_unit(a, b, grain, sign, out);
        return;
    }
    if a < ua {
        within_unit(a, ua, grain, sign, out);
    }
    if ua < ub {
        out.push((read(ua, ub, grain), sign));
    }
    if ub < b {
        within_unit(ub, b, grain, sign, out);
    }
}

/// [x, y) inside one unit of `grain`: from the next grain down, or, when
/// it is more than half of the unit, the unit less the rest of it.
fn within_unit(x: i64, y: i64, grain: Grain, sign: i64, out: &mut Vec<(Read, i64)>) {
    let Some((unit, finer)) = grain.unit() else {
        out.push((read(x, y, Grain::Rows), sign));
        return;
    };
    let start = floor(x, unit);
    if y - x > unit / 2 {
        out.push((read(start, start + unit, grain), sign));
        stretch(start, x, finer, -sign, out);
        stretch(y, start + unit, finer, -sign, out);
    } else {
        stretch(x, y, finer, sign, out);
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
    const W: i64 = WEEK_MS;

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
                Grain::Weeks => assert_eq!((r.from % W, r.to % W), (0, 0), "{r:?}"),
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
    fn a_month_reads_whole_weeks_and_at_most_half_a_week_of_days_at_each_end() {
        let d = 20_000 * D;
        for k in 0..7 {
            // A month of Kyiv days (from a local midnight, 22:00 UTC)
            // starting on each day of the week, cut at today's midnight.
            let from = d + k * D - 2 * H;
            let until = from + 30 * D + 7 * H;
            let p = check(from, until, &[until - 7 * H]);
            assert!(span(&p, Grain::Weeks) >= 3 * W, "{k}: {p:?}");
            assert!(span(&p, Grain::Days) <= 8 * D, "{k}: {p:?}");
            assert!(span(&p, Grain::Hours) <= 4 * 12 * H, "{k}: {p:?}");
        }
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
