//! `vbench report [RUN | DIR | FILE …] [--against …] [--out-dir DIR]`: the report of a run
//! (written again into its directory) or of an import (written under
//! `<results>/reports/<name>/`, never into the imported directories unless `--out-dir`
//! points there), compared with the previous comparable run or, when named, judged against
//! a baseline.

use std::path::{Path, PathBuf};

use super::publish::{Against, Described};
use super::source::{self, Source};
use super::{ArchiveError, baseline};
use crate::events::Sink;
use crate::report::verdict::Verdict;
use crate::sweep::session;

/// What to report on and where.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// Run ids, run directories, result files or directories; empty: the latest run.
    pub inputs: Vec<String>,
    /// A run or result files to compare with (and judge against).
    pub against: Option<String>,
    pub out_dir: Option<PathBuf>,
    pub threshold: f64,
}

/// Write the report and emit its events; the verdict when `against` was given.
pub fn report(
    results_dir: &Path,
    req: &ReportRequest,
    sink: &dyn Sink,
) -> Result<Option<Verdict>, ArchiveError> {
    let src = source::resolve(results_dir, &req.inputs)?;
    let current = source::load(results_dir, &src)?;
    let (default_dir, status, location) = match &src {
        Source::Run { dir, .. } => (
            dir.clone(),
            current
                .manifest
                .as_ref()
                .map_or("unknown".to_string(), |m| m.status.clone()),
            results_dir.display().to_string(),
        ),
        Source::Import { paths } => (
            source::import_report_dir(results_dir, paths),
            "imported".to_string(),
            current.meta.source.clone(),
        ),
    };
    let out_dir = req.out_dir.clone().unwrap_or(default_dir);
    let (base, judge) = match &req.against {
        Some(spec) => {
            let s = source::resolve(results_dir, std::slice::from_ref(spec))?;
            (Some(source::load(results_dir, &s)?), true)
        }
        None => {
            let prev = current
                .manifest
                .as_ref()
                .and_then(|m| baseline::previous_comparable(results_dir, m));
            let loaded = match prev {
                Some(m) => Some(source::load(
                    results_dir,
                    &Source::Run {
                        dir: session::run_dir(results_dir, &m.run_id),
                        id: m.run_id,
                    },
                )?),
                None => None,
            };
            (loaded, false)
        }
    };
    let verdict = super::publish(
        &out_dir,
        &current,
        Described {
            status: &status,
            location: &location,
        },
        base.as_ref().map(|b| Against {
            baseline: b,
            judge,
            threshold: req.threshold,
        }),
        sink,
    )?;
    // A run with an SLO search: what it found, again (`slo.md`, `slo.json`, the event).
    if let (Some(m), Source::Run { .. }) = (&current.manifest, &src) {
        crate::slo::report::publish(m, results_dir, &out_dir, sink).map_err(|e| {
            ArchiveError::Write {
                op: format!("write the SLO report in {}", out_dir.display()),
                source: super::io_error(e),
            }
        })?;
    }
    Ok(verdict)
}
