//! SLO search: the highest concurrency (or request rate) at which every given p99 latency
//! limit holds. A sweep with an `slo:` block is such a search; it runs inside an ordinary run
//! (so the lock, the manifest, resume and the reports all apply), one search per input
//! length: the plan holds each search's first probe, and once every point so far is done the
//! runner asks `next_points` for more, until every search has ended.
//!
//! Submodules: `search` (the pure decision: exponential, bisection, repeats at the
//! boundary), `probe` (a level as a sweep point, and a finished point as an observation),
//! `report` (what each search found, as an event and as `slo.md` / `slo.json`).

pub mod probe;
pub mod report;
pub mod search;

use std::path::Path;

use crate::config::{SloConfig, SweepConfig};
use crate::sweep::manifest::{Manifest, PointStatus};
use crate::sweep::plan::{ContextLimit, Point};

use search::Next;

/// The SLO searches of a run: (sweep name, its definition, its SLO), in the run's order.
pub fn searches_of(m: &Manifest) -> Vec<(&str, &SweepConfig, &SloConfig)> {
    m.sweeps
        .iter()
        .filter_map(|n| {
            let s = m.sweep_configs.get(n)?;
            Some((n.as_str(), s, s.slo.as_ref()?))
        })
        .collect()
}

/// Whether the run holds an SLO search.
pub fn has_search(m: &Manifest) -> bool {
    !searches_of(m).is_empty()
}

/// The next probe of every search whose points so far are all done and which has not ended.
pub fn next_points(m: &Manifest, results_dir: &Path) -> Vec<Point> {
    let mut out = Vec::new();
    for (name, s, slo) in searches_of(m) {
        for &input_len in &s.input_lens {
            let recs: Vec<_> = probe::points_of(m, name, input_len).collect();
            let Some(first) = recs.first() else {
                continue;
            };
            // Still running, or over the context length (nothing to search).
            if recs
                .iter()
                .any(|r| !r.status.done() || r.status == PointStatus::Skipped)
            {
                continue;
            }
            let obs = probe::observations(m, name, input_len, slo, results_dir);
            if let Next::Probe(level) = search::next(slo, &obs) {
                let same = |l: f64| (l * 1000.0).round() == (level * 1000.0).round();
                let repeat = recs
                    .iter()
                    .filter(|r| same(probe::level_of(&r.point, slo)))
                    .count() as u32
                    + 1;
                out.push(probe::point(
                    name,
                    s,
                    slo,
                    input_len,
                    level,
                    repeat,
                    first.point.timeout_s,
                    ContextLimit::Unknown,
                ));
            }
        }
    }
    out
}

/// Whether a search of the run still has points to run (a run stopped between two probes is
/// not finished even though every point it holds is done).
pub fn unfinished(m: &Manifest, results_dir: &Path) -> bool {
    !next_points(m, results_dir).is_empty()
}

/// The first probe of each searched input length, for the plan.
pub fn first_points(
    name: &str,
    s: &SweepConfig,
    slo: &SloConfig,
    timeout_s: u64,
    context: ContextLimit,
) -> Vec<Point> {
    s.input_lens
        .iter()
        .map(|&l| probe::point(name, s, slo, l, slo.start, 1, timeout_s, context))
        .collect()
}
