//! The end of a run: how it ended (as an event, with the command that continues it), its
//! report files written through `crate::report`, and the summary table and the comparison
//! with the previous comparable run sent out as events.

use std::path::Path;
use std::time::Duration;

use super::error::RunError;
use super::manifest::{self, Manifest, PointStatus};
use super::runner::RunEnd;
use super::{rows, session};
use crate::config::Config;
use crate::events::{self, ComparisonSummary, Event, Regression, RunSummary, Sink};
use crate::report::{self, Rows};

/// How a resumed run that had nothing left to do ended.
pub fn end_of_resumed(m: &Manifest) -> RunEnd {
    if m.count(PointStatus::Failed) > 0 {
        RunEnd::PointsFailed
    } else {
        RunEnd::Finished
    }
}

/// Say how the points' loop ended: a warning naming the next step when the run is resumable,
/// then `RunFinished` with the counts.
pub fn announce_end(
    m: &Manifest,
    end: &RunEnd,
    run_dir: &Path,
    elapsed: Duration,
    sink: &dyn Sink,
) {
    let resume = format!("vbench run --resume {}", m.run_id);
    let next = match end {
        RunEnd::ServerFailed(why) => {
            events::warn(
                sink,
                format!(
                    "the server stopped serving: {why}; the run is saved: `{resume}` continues it"
                ),
            );
            Some(resume)
        }
        RunEnd::Interrupted => {
            events::warn(sink, format!("interrupted; `{resume}` continues the run"));
            Some(resume)
        }
        RunEnd::Finished | RunEnd::PointsFailed => None,
    };
    sink.emit(Event::RunFinished {
        run_id: m.run_id.clone(),
        status: m.status.clone(),
        ok: m.count(PointStatus::Ok),
        failed: m.count(PointStatus::Failed),
        skipped: m.count(PointStatus::Skipped),
        pending: pending(m),
        elapsed_s: elapsed.as_secs_f64(),
        run_dir: run_dir.display().to_string(),
        next,
    });
}

fn pending(m: &Manifest) -> usize {
    m.count(PointStatus::Pending) + m.count(PointStatus::Running)
}

/// The newest earlier run with the same config hash and at least one good point.
pub fn previous_comparable(results_dir: &Path, m: &Manifest) -> Option<Manifest> {
    manifest::list_runs(results_dir)
        .into_iter()
        .rev()
        .filter(|id| *id < m.run_id)
        .filter_map(|id| Manifest::load(&session::run_dir(results_dir, &id)).ok())
        .find(|b| b.config_hash == m.config_hash && b.count(PointStatus::Ok) > 0)
}

/// Write the run's report files (`summary.md/csv/json`, charts, `comparison.md` against
/// `against`, else the previous comparable run) and send the summary and the comparison out.
pub fn report(
    cfg: &Config,
    m: &Manifest,
    against: Option<&Manifest>,
    sink: &dyn Sink,
) -> Result<(), RunError> {
    let results_dir = &cfg.results_dir;
    let run_dir = session::run_dir(results_dir, &m.run_id);
    let previous;
    let baseline = match against {
        Some(b) => Some(b),
        None => {
            previous = previous_comparable(results_dir, m);
            previous.as_ref()
        }
    };
    let current = rows::rows_from_manifest(m, results_dir);
    let base_rows = baseline.map(|b| rows::rows_from_manifest(b, results_dir));
    let base = baseline
        .zip(base_rows.as_deref())
        .map(|(b, r)| (b.run_id.as_str(), r));
    let chart_opts = report::ChartOptions { standin: m.standin };
    let written = report::write_run_report(&run_dir, &current, base, &chart_opts).map_err(
        RunError::state(format!("write the report of run {}", m.run_id)),
    )?;
    sink.emit(Event::Summary(RunSummary {
        run_id: m.run_id.clone(),
        status: m.status.clone(),
        ok: m.count(PointStatus::Ok),
        failed: m.count(PointStatus::Failed),
        skipped: m.count(PointStatus::Skipped),
        pending: pending(m),
        standin: m.standin,
        results_dir: results_dir.display().to_string(),
        run_dir: run_dir.display().to_string(),
        rows: Rows(current),
    }));
    if let (Some(b), Some(c)) = (baseline, written.comparison) {
        sink.emit(Event::Comparison(ComparisonSummary {
            run_id: m.run_id.clone(),
            baseline_run_id: b.run_id.clone(),
            threshold: c.threshold,
            matched: c.matched(),
            improvements: c.improvements().len(),
            regressions: c
                .regressions()
                .into_iter()
                .map(|(p, d)| Regression {
                    point: p.label(),
                    metric: d.map(|d| d.metric.id.to_string()),
                    baseline: d.and_then(|d| d.baseline),
                    current: d.and_then(|d| d.current),
                    ratio: d.and_then(|d| d.ratio),
                })
                .collect(),
            headline: c.headline(),
            details: run_dir.join("comparison.md").display().to_string(),
        }));
    }
    Ok(())
}
