//! Report rows from a run's manifest: the glue between the sweep's state file and
//! `crate::report`, which takes rows and knows nothing of manifests. Each point's result file
//! is re-read with the lenient parser (so reports show every metric the file holds); when the
//! file is gone or unreadable, the headline metrics the manifest kept stand in for it.

use std::path::Path;

use serde_json::{Map, Value};

use super::manifest::{Manifest, Metrics, PointRecord, PointStatus};
use crate::report::Row;
use crate::results::{BenchResult, parse};

/// One `Row` per point of the manifest, in plan order. `results_dir` is the directory the
/// manifest's `result_file` paths are relative to.
pub fn rows_from_manifest(m: &Manifest, results_dir: &Path) -> Vec<Row> {
    rows_from_manifest_in(
        m,
        results_dir,
        &super::session::run_dir(results_dir, &m.run_id),
    )
}

/// The same, for a run directory that may sit elsewhere (its logs are relative to it).
pub fn rows_from_manifest_in(m: &Manifest, results_dir: &Path, run_dir: &Path) -> Vec<Row> {
    m.points
        .iter()
        .map(|p| row_of(p, results_dir, run_dir, m.status != "running"))
        .collect()
}

fn row_of(p: &PointRecord, results_dir: &Path, run_dir: &Path, run_ended: bool) -> Row {
    let file = p.result_file.as_ref().map(|f| results_dir.join(f));
    let from_file = file.as_ref().and_then(|f| {
        let bytes = std::fs::read(f).ok()?;
        parse(&bytes, &f.display().to_string()).ok()
    });
    let result = from_file.or_else(|| p.metrics.as_ref().map(|m| from_metrics(m, &p.point.id)));
    let status = match p.status {
        PointStatus::Ok => "ok",
        PointStatus::Failed => "failed",
        PointStatus::Skipped => "skipped",
        PointStatus::Pending => "pending",
        // Still "running" after the run ended: vbench was stopped during the point.
        PointStatus::Running if run_ended => "interrupted",
        PointStatus::Running => "running",
    };
    Row {
        sweep: p.point.sweep.clone(),
        name: p.point.stem.clone(),
        input_len: p.point.input_len,
        output_len: p.point.output_len,
        concurrency: p.point.concurrency,
        num_prompts: p.point.num_prompts,
        status: status.to_string(),
        reason: p.reason.clone(),
        result,
        file,
        repeat: p.point.repeat,
        log: p.log_file.as_ref().map(|l| run_dir.join(l)),
        telemetry: p.telemetry.clone().unwrap_or_default(),
    }
}

/// The manifest's headline metrics under the result file's key names.
fn from_metrics(m: &Metrics, origin: &str) -> BenchResult {
    let mut map = Map::new();
    map.insert("completed".into(), m.completed.into());
    map.insert("failed".into(), m.failed.into());
    map.insert("total_output_tokens".into(), m.total_output_tokens.into());
    let floats = [
        ("duration", m.duration_s),
        ("mean_ttft_ms", m.mean_ttft_ms),
        ("mean_tpot_ms", m.mean_tpot_ms),
        ("mean_e2el_ms", m.mean_e2el_ms),
        ("request_throughput", m.request_throughput),
        ("output_throughput", m.output_throughput),
    ];
    for (k, v) in floats {
        if let Some(v) = v.and_then(serde_json::Number::from_f64) {
            map.insert(k.into(), Value::Number(v));
        }
    }
    BenchResult::from_map(map, format!("manifest point {origin}"))
}
