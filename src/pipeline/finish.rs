//! The end of a run: how it ended (as an event, with the command that continues it), and its
//! report published through `crate::archive` — the summary table, the comparison with the
//! previous run or the chosen baseline, and the verdict when a baseline was asked for.

use std::path::Path;
use std::time::Duration;

use crate::archive::{self, Against, Described, Loaded, Source, source};
use crate::config::Config;
use crate::events::{self, Event, Sink};
use crate::report::verdict::Verdict;
use crate::sweep::error::RunError;
use crate::sweep::manifest::VerdictRecord;
use crate::sweep::manifest::{Manifest, PointStatus};
use crate::sweep::runner::RunEnd;
use crate::sweep::{rows, session};

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
        RunEnd::ClientLost(why) => {
            events::warn(
                sink,
                format!(
                    "the client container died or was stopped mid-run: {why}; the run is saved: `{resume}` starts it again and runs the interrupted point again"
                ),
            );
            Some(resume)
        }
        RunEnd::EngineLost(why) => {
            events::warn(
                sink,
                format!(
                    "lost the Docker Engine mid-run: {why}; the run is saved: `{resume}` continues it once the engine answers again"
                ),
            );
            Some(resume)
        }
        RunEnd::ServerUnreachable(why) => {
            events::warn(
                sink,
                format!(
                    "the client cannot reach the server, which answers on the host (a network problem, not the server): {why}; the run is saved: once the network is fixed, `{resume}` continues it (it connects the client to the run's network again)"
                ),
            );
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

/// What a run is compared with at its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// The previous run of the same configuration: a comparison, no verdict.
    Previous,
    /// `--baseline last-good`: the newest earlier good run; judged.
    LastGood,
    /// `--baseline RUN` (a run, or result files to import); judged.
    Named(String),
}

/// A run as a report source.
fn loaded(results_dir: &Path, m: &Manifest) -> Loaded {
    let dir = session::run_dir(results_dir, &m.run_id);
    Loaded {
        source: Source::Run {
            id: m.run_id.clone(),
            dir: dir.clone(),
        },
        meta: source::meta_of_run(m, &dir),
        rows: rows::rows_from_manifest(m, results_dir),
        problems: vec![],
        manifest: Some(m.clone()),
    }
}

/// Write the run's report files (`summary.md/csv/json`, charts, `comparison.md` against the
/// baseline) and send the summary, the comparison and — when a baseline was asked for — the
/// verdict out; the verdict is also kept in the manifest (`last-good` reads it). A night
/// with no good run before it is not judged: the warning says so.
pub fn report(
    cfg: &Config,
    m: &mut Manifest,
    baseline: &Baseline,
    threshold: f64,
    sink: &dyn Sink,
) -> Result<Option<Verdict>, RunError> {
    let results_dir = &cfg.results_dir;
    let run_dir = session::run_dir(results_dir, &m.run_id);
    let base: Option<Loaded> = match baseline {
        Baseline::Previous => {
            archive::baseline::previous_comparable(results_dir, m).map(|b| loaded(results_dir, &b))
        }
        Baseline::LastGood => {
            let found = archive::baseline::last_good(results_dir, m);
            if found.is_none() {
                events::warn(
                    sink,
                    format!(
                        "run {}: no earlier good run of this configuration to judge against (--baseline last-good); not judged",
                        m.run_id
                    ),
                );
            }
            found.map(|b| loaded(results_dir, &b))
        }
        Baseline::Named(spec) => {
            let src = archive::source::resolve(results_dir, std::slice::from_ref(spec))
                .map_err(|e| RunError::Usage(format!("--baseline {spec}: {e}")))?;
            Some(
                archive::source::load(results_dir, &src)
                    .map_err(|e| RunError::Usage(format!("--baseline {spec}: {e}")))?,
            )
        }
    };
    let current = loaded(results_dir, m);
    let judge = *baseline != Baseline::Previous;
    let verdict = archive::publish(
        &run_dir,
        &current,
        Described {
            status: &m.status,
            location: &results_dir.display().to_string(),
        },
        base.as_ref().map(|b| Against {
            baseline: b,
            judge,
            threshold,
        }),
        sink,
    )
    .map_err(|e| RunError::State {
        op: format!("write the report of run {}", m.run_id),
        source: e.into(),
    })?;
    if let Some(v) = &verdict {
        m.verdict = Some(VerdictRecord {
            outcome: v.outcome.as_str().to_string(),
            baseline: v.baseline.clone(),
        });
        m.save(&run_dir)
            .map_err(RunError::state("write the run manifest"))?;
    }
    Ok(verdict)
}
