//! Which earlier run a new one is judged against. `last-good`: the newest earlier run of the
//! same configuration (config hash) whose every point passed and whose own verdict, if it
//! had one, was a pass — so a regression keeps failing night after night until it is fixed,
//! instead of becoming the new normal.

use std::path::Path;

use crate::sweep::manifest::{self, Manifest, PointStatus};
use crate::sweep::session;

/// A run every point of which passed (skipped points aside) and that was not judged worse.
pub fn is_good(m: &Manifest) -> bool {
    m.status == "finished"
        && m.count(PointStatus::Failed) == 0
        && m.count(PointStatus::Ok) > 0
        && m.verdict.as_ref().is_none_or(|v| v.outcome == "pass")
}

/// The newest run older than `m` with the same configuration that is good.
pub fn last_good(results_dir: &Path, m: &Manifest) -> Option<Manifest> {
    manifest::list_runs(results_dir)
        .into_iter()
        .rev()
        .filter(|id| *id < m.run_id)
        .filter_map(|id| Manifest::load(&session::run_dir(results_dir, &id)).ok())
        .find(|b| b.config_hash == m.config_hash && is_good(b))
}

/// The newest run older than `m` with the same configuration and at least one good point:
/// what a run is compared with when no baseline is named (a comparison, not a verdict).
pub fn previous_comparable(results_dir: &Path, m: &Manifest) -> Option<Manifest> {
    manifest::list_runs(results_dir)
        .into_iter()
        .rev()
        .filter(|id| *id < m.run_id)
        .filter_map(|id| Manifest::load(&session::run_dir(results_dir, &id)).ok())
        .find(|b| b.config_hash == m.config_hash && b.count(PointStatus::Ok) > 0)
}
