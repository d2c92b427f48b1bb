//! Publishing a report: write a source's report files into a directory (through
//! `crate::report`), compare it with a baseline, judge it when asked, and send the summary,
//! the comparison, the verdict and any unreadable files out as events.

use std::path::Path;

use super::{ArchiveError, Loaded};
use crate::events::{ComparisonSummary, Event, Regression, RunSummary, Sink};
use crate::report::verdict::{self, Verdict};
use crate::report::{self, ReportInput, Rows};

/// What the report is compared with, and whether to judge it.
pub struct Against<'a> {
    pub baseline: &'a Loaded,
    /// Give a verdict (pass / regressed / cannot judge), not just the comparison.
    pub judge: bool,
    pub threshold: f64,
}

/// Where a report's inputs are and what they are: `status` is the run's status
/// (`finished`, …) or `imported`; `location` the results directory or the imported paths.
pub struct Described<'a> {
    pub status: &'a str,
    pub location: &'a str,
}

/// Write `current`'s report into `out_dir` and emit its events; the verdict when judged.
pub fn publish(
    out_dir: &Path,
    current: &Loaded,
    what: Described<'_>,
    against: Option<Against<'_>>,
    sink: &dyn Sink,
) -> Result<Option<Verdict>, ArchiveError> {
    for p in &current.problems {
        sink.emit(Event::Unreadable {
            file: p.file.display().to_string(),
            line: p.line,
            column: p.column,
            message: p.message.clone(),
        });
    }
    let base = against
        .as_ref()
        .map(|a| (a.baseline.meta.title.as_str(), a.baseline.rows.as_slice()));
    // Judged before writing, so the page shows the verdict.
    let verdict = against.as_ref().filter(|a| a.judge).map(|a| {
        verdict::judge(
            (&a.baseline.meta, &a.baseline.rows),
            (&current.meta, &current.rows),
            a.threshold,
        )
    });
    let written = report::write_run_report(
        out_dir,
        &ReportInput {
            meta: &current.meta,
            rows: &current.rows,
            baseline: base,
            verdict: verdict.as_ref(),
        },
    )
    .map_err(|e| ArchiveError::Write {
        op: format!("write the report in {}", out_dir.display()),
        source: super::io_error(e),
    })?;
    let count = |s: &str| current.rows.iter().filter(|r| r.status == s).count();
    sink.emit(Event::Summary(RunSummary {
        run_id: current.meta.title.clone(),
        status: what.status.to_string(),
        ok: count("ok"),
        failed: count("failed"),
        skipped: count("skipped"),
        pending: count("pending") + count("running") + count("interrupted"),
        standin: current.meta.standin,
        results_dir: what.location.to_string(),
        run_dir: out_dir.display().to_string(),
        rows: Rows(current.rows.clone()),
    }));
    if let (Some(a), Some(c)) = (&against, written.comparison) {
        sink.emit(Event::Comparison(ComparisonSummary {
            run_id: current.meta.title.clone(),
            baseline_run_id: a.baseline.meta.title.clone(),
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
            details: out_dir.join("comparison.md").display().to_string(),
        }));
    }
    if let Some(v) = &verdict {
        sink.emit(Event::Verdict(v.clone()));
    }
    Ok(verdict)
}
