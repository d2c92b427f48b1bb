//! The search for the highest level that meets an SLO, as a pure function of what was seen so
//! far: `next(slo, observations)` says which level to probe next, or that the search is over
//! and what it found. Being a function of the observations alone, a resumed run picks the
//! search up exactly where it stopped.
//!
//! Exponential first: `start`, then doubling up to `max`, until a level misses the SLO. Then
//! bisection between the highest level that meets it and the lowest that does not (midpoints
//! for concurrency, geometric midpoints for rates) until they are one step apart (concurrency
//! `C` and `C + 1`; rates within `precision`). Then repeats at the boundary: both levels run
//! until each has `boundary_repeats` runs; a level is judged by the majority of its runs (a
//! tie is a miss), so a boundary level that flips under repeats moves the search on. At most
//! `max_points` probes in all; a search cut short says so.

use std::collections::BTreeMap;

use crate::config::{SloBy, SloConfig};

/// One probe's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub level: f64,
    /// Every limit held (a probe that failed validation does not meet the SLO).
    pub meets: bool,
}

/// What the search does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Probe(f64),
    Done(Found),
}

/// Where a search ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    /// The highest level that met the SLO (0: none did).
    pub capacity: f64,
    /// The lowest level that missed it, when one did.
    pub first_miss: Option<f64>,
    /// The boundary was found within one step and repeated; false when the point budget ran
    /// out first, or when every level up to `max` met the SLO.
    pub converged: bool,
    /// How the search ended, in words.
    pub note: String,
}

/// Levels as map keys (rates carry up to three decimals).
fn key(level: f64) -> u64 {
    (level * 1000.0).round() as u64
}

/// The judgement of each level so far: (level, runs that met the SLO, runs).
fn tally(obs: &[Observation]) -> BTreeMap<u64, (f64, u32, u32)> {
    let mut m: BTreeMap<u64, (f64, u32, u32)> = BTreeMap::new();
    for o in obs {
        let e = m.entry(key(o.level)).or_insert((o.level, 0, 0));
        e.1 += u32::from(o.meets);
        e.2 += 1;
    }
    m
}

/// A rate rounded for readable levels and file names: three significant digits.
pub fn round_rate(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let digits = 3 - 1 - x.log10().floor() as i32;
    let f = 10f64.powi(digits.max(0));
    ((x * f).round() / f).max(0.001)
}

/// The level between `lo` (meets; 0 when none does) and `hi` (misses), or `None` when they
/// are one step apart.
fn between(slo: &SloConfig, lo: f64, hi: f64) -> Option<f64> {
    match slo.by {
        SloBy::Concurrency => {
            let (lo, hi) = (lo as u64, hi as u64);
            (hi > lo + 1).then(|| (lo + (hi - lo) / 2) as f64)
        }
        SloBy::Rate => {
            let close = if lo > 0.0 {
                hi <= lo * (1.0 + slo.precision)
            } else {
                hi <= slo.start * slo.precision
            };
            if close {
                return None;
            }
            let mid = if lo > 0.0 {
                round_rate((lo * hi).sqrt())
            } else {
                round_rate(hi / 2.0)
            };
            (key(mid) > key(lo) && key(mid) < key(hi)).then_some(mid)
        }
    }
}

/// The next probe, or where the search ended.
pub fn next(slo: &SloConfig, obs: &[Observation]) -> Next {
    let levels = tally(obs);
    let meets = |&(_, ok, n): &(f64, u32, u32)| 2 * ok > n;
    let hi = levels.values().find(|v| !meets(v)).map(|v| v.0);
    let lo = levels
        .values()
        .filter(|v| meets(v) && hi.is_none_or(|h| v.0 < h))
        .map(|v| v.0)
        .next_back();
    let runs = |l: f64| levels.get(&key(l)).map_or(0, |v| v.2);
    let repeats = slo.boundary_repeats.max(1);
    if obs.len() >= slo.max_points as usize {
        return Next::Done(Found {
            capacity: lo.unwrap_or(0.0),
            first_miss: hi,
            converged: false,
            note: format!(
                "stopped after {} points (slo.max_points) before the boundary was settled{}",
                obs.len(),
                match (lo, hi) {
                    (Some(l), Some(h)) => format!(": the capacity lies between {l} and {h}"),
                    _ => String::new(),
                }
            ),
        });
    }
    let Some(hi) = hi else {
        // Every level so far meets the SLO: keep doubling, up to `max`.
        let Some(top) = lo else {
            return Next::Probe(slo.start);
        };
        if top < slo.max {
            let up = match slo.by {
                SloBy::Concurrency => (top * 2.0).min(slo.max),
                SloBy::Rate => round_rate(top * 2.0).min(slo.max),
            };
            return Next::Probe(up);
        }
        if runs(top) < repeats {
            return Next::Probe(top);
        }
        return Next::Done(Found {
            capacity: top,
            first_miss: None,
            converged: false,
            note: format!(
                "every level up to the highest searched ({top}, slo.max) meets the SLO; the capacity may be higher"
            ),
        });
    };
    if let Some(mid) = between(slo, lo.unwrap_or(0.0), hi) {
        return Next::Probe(mid);
    }
    // One step apart: settle both sides of the boundary with repeats.
    if let Some(l) = lo
        && runs(l) < repeats
    {
        return Next::Probe(l);
    }
    if runs(hi) < repeats {
        return Next::Probe(hi);
    }
    Next::Done(Found {
        capacity: lo.unwrap_or(0.0),
        first_miss: Some(hi),
        converged: true,
        note: match lo {
            Some(l) => format!(
                "{l} meets the SLO and {hi} does not ({repeats} run(s) each, judged by majority)"
            ),
            None => format!("no level meets the SLO: even {hi} misses it"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(by: SloBy) -> SloConfig {
        SloConfig {
            tpot_p99: Some(50),
            by,
            ..Default::default()
        }
    }

    /// Run the search against `meets(level, nth run of it)` to its end.
    fn walk(s: &SloConfig, meets: impl Fn(f64, u32) -> bool) -> (Found, Vec<Observation>) {
        let mut obs: Vec<Observation> = Vec::new();
        loop {
            match next(s, &obs) {
                Next::Probe(l) => {
                    let nth = obs.iter().filter(|o| key(o.level) == key(l)).count() as u32;
                    obs.push(Observation {
                        level: l,
                        meets: meets(l, nth),
                    });
                    assert!(obs.len() <= s.max_points as usize, "over budget: {obs:?}");
                }
                Next::Done(f) => return (f, obs),
            }
        }
    }

    fn levels(obs: &[Observation]) -> Vec<f64> {
        obs.iter().map(|o| o.level).collect()
    }

    #[test]
    fn exponential_then_bisection_then_repeats_at_the_boundary() {
        let s = slo(SloBy::Concurrency);
        let (f, obs) = walk(&s, |l, _| l <= 7.0);
        assert_eq!(f.capacity, 7.0);
        assert_eq!(f.first_miss, Some(8.0));
        assert!(f.converged, "{f:?}");
        // 1, 2, 4, 8 (miss), 6, 7, then 7 and 8 again up to three runs each.
        assert_eq!(
            levels(&obs),
            [1.0, 2.0, 4.0, 8.0, 6.0, 7.0, 7.0, 7.0, 8.0, 8.0]
        );
        for cap in [1u64, 2, 3, 5, 12, 13, 100, 999] {
            let (f, obs) = walk(&s, |l, _| l <= cap as f64);
            assert_eq!(f.capacity, cap as f64, "{obs:?}");
            assert_eq!(f.first_miss, Some(cap as f64 + 1.0));
        }
    }

    #[test]
    fn nothing_meets_and_everything_meets() {
        let s = slo(SloBy::Concurrency);
        let (f, obs) = walk(&s, |_, _| false);
        assert_eq!(f.capacity, 0.0);
        assert!(f.converged && f.note.contains("no level"), "{f:?}");
        assert_eq!(levels(&obs), [1.0, 1.0, 1.0]);
        let s = SloConfig {
            max: 16.0,
            ..slo(SloBy::Concurrency)
        };
        let (f, obs) = walk(&s, |_, _| true);
        assert_eq!(f.capacity, 16.0);
        assert!(!f.converged && f.note.contains("may be higher"), "{f:?}");
        assert_eq!(levels(&obs), [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]);
    }

    #[test]
    fn a_boundary_that_flips_under_repeats_moves_the_search() {
        let s = slo(SloBy::Concurrency);
        // Level 7 meets the SLO once, then misses: the majority says 7 misses; 6 is the
        // capacity.
        let (f, _) = walk(&s, |l, nth| l <= 6.0 || (l == 7.0 && nth == 0));
        assert_eq!(f.capacity, 6.0);
        assert_eq!(f.first_miss, Some(7.0));
        assert!(f.converged);
    }

    #[test]
    fn the_point_budget_bounds_the_search() {
        let s = SloConfig {
            max_points: 5,
            ..slo(SloBy::Concurrency)
        };
        let (f, obs) = walk(&s, |l, _| l <= 100.0);
        assert_eq!(obs.len(), 5);
        assert!(!f.converged && f.note.contains("max_points"), "{f:?}");
        assert_eq!(f.capacity, 16.0);
    }

    #[test]
    fn rates_bisect_geometrically_to_the_precision() {
        let s = slo(SloBy::Rate);
        let (f, obs) = walk(&s, |r, _| r <= 3.3);
        assert!(f.converged, "{f:?} {obs:?}");
        let miss = f.first_miss.expect("a miss");
        assert!(f.capacity <= 3.3 && miss > 3.3, "{f:?}");
        assert!(miss <= f.capacity * 1.1 + 1e-9, "{f:?}");
        // Nothing meets: halving down to start × precision.
        let (f, obs) = walk(&s, |_, _| false);
        assert_eq!(f.capacity, 0.0);
        assert!(obs.iter().all(|o| o.level >= 0.05), "{obs:?}");
        assert_eq!(round_rate(3.456), 3.46);
        assert_eq!(round_rate(1234.5), 1235.0);
    }
}
