//! Reports of a run: the terminal table, `summary.md`, `summary.csv`, SVG charts, the
//! comparison against an earlier run and `report.html` (all of it on one self-contained page),
//! all built from the same `Row`s (one per sweep point).
//! This module takes rows and knows nothing of how they were measured (the sweep builds them
//! from its manifest). Renderers are pure functions returning text; `write_run_report` and the
//! `variants::write_*` functions are the only parts that write to the disk, and it writes every file through [`crate::durable`]
//! (atomic, synced). Besides result files, only `failed_logs` reads anything (log tails).
//!
//! A run directory also gets `summary.json` (rows plus the metrics they showed) so that a later
//! run can be compared against it with `load_rows`, even if its result files are gone.

mod chart;
mod compare;
mod csv;
mod group;
mod html;
pub mod import;
mod markdown;
mod meta;
mod table;
pub mod telemetry;
pub mod variants;
pub mod verdict;

pub use chart::{
    CHART_SUFFIXES, Chart, ChartOptions, TrendPoint, TrendSeries, WalkLimit, WalkProbe, chart_svgs,
    charts, trend_svg, variant_chart_svgs, walk_svg,
};
pub use compare::{
    Comparison, DEFAULT_THRESHOLD, MetricDelta, PointComparison, compare, compare_with,
    render_comparison,
};
pub use csv::csv;
pub use group::{Group, Key, Spread, group};
pub use html::{Page, TrendRow, failed_logs, history_page, html};
pub use markdown::markdown;
pub use meta::RunMeta;
pub use table::table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::results::BenchResult;
use crate::telemetry::SeriesStats;

/// One sweep point as reported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Sweep name (`production`, `scaling`, or a user-defined one).
    pub sweep: String,
    /// Point name (e.g. the result file stem).
    pub name: String,
    pub input_len: u64,
    pub output_len: u64,
    /// `--max-concurrency` of the point.
    pub concurrency: u64,
    pub num_prompts: u64,
    /// `ok`, `failed`, `skipped`, `pending` or `interrupted`.
    pub status: String,
    /// Why the point is not `ok` (validation problems, the error), if known.
    pub reason: Option<String>,
    /// The parsed result, when there is one (not serialised: `summary.json` keeps the metrics).
    #[serde(skip)]
    pub result: Option<BenchResult>,
    /// The result file on the host.
    pub file: Option<PathBuf>,
    /// Which run of the point this is (1-based) when points are repeated.
    #[serde(default = "first_repeat")]
    pub repeat: u32,
    /// The point's console log on the host, when there is one.
    #[serde(default)]
    pub log: Option<PathBuf>,
    /// What the server and its GPUs did during the point: min, mean and max of each series
    /// (`gpu0.util_pct`, `vllm.running`, `vllm.kv_cache_usage`, …), as the run recorded them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub telemetry: BTreeMap<String, SeriesStats>,
}

fn first_repeat() -> u32 {
    1
}

impl Row {
    /// A metric of this row's result; `None` without a result or without that value.
    pub fn metric(&self, m: Metric) -> Option<f64> {
        self.result.as_ref().and_then(|r| (m.get)(r))
    }
}

/// A reported metric: column headers, how to read it, and which direction is better.
#[derive(Clone, Copy)]
pub struct Metric {
    /// Stable id, used as CSV column and in `summary.json`.
    pub id: &'static str,
    /// Short header for tables.
    pub header: &'static str,
    pub get: fn(&BenchResult) -> Option<f64>,
    /// Throughputs: higher is better. Latencies: lower is better.
    pub higher_is_better: bool,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

impl PartialEq for Metric {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

const fn lat(
    id: &'static str,
    header: &'static str,
    get: fn(&BenchResult) -> Option<f64>,
) -> Metric {
    Metric {
        id,
        header,
        get,
        higher_is_better: false,
    }
}
const fn tput(
    id: &'static str,
    header: &'static str,
    get: fn(&BenchResult) -> Option<f64>,
) -> Metric {
    Metric {
        id,
        header,
        get,
        higher_is_better: true,
    }
}

pub const MEAN_TTFT: Metric = lat("mean_ttft_ms", "TTFT mean ms", BenchResult::mean_ttft_ms);
pub const MEDIAN_TTFT: Metric = lat(
    "median_ttft_ms",
    "TTFT median ms",
    BenchResult::median_ttft_ms,
);
pub const P99_TTFT: Metric = lat("p99_ttft_ms", "TTFT p99 ms", BenchResult::p99_ttft_ms);
pub const MEAN_TPOT: Metric = lat("mean_tpot_ms", "TPOT mean ms", BenchResult::mean_tpot_ms);
pub const MEDIAN_TPOT: Metric = lat(
    "median_tpot_ms",
    "TPOT median ms",
    BenchResult::median_tpot_ms,
);
pub const P99_TPOT: Metric = lat("p99_tpot_ms", "TPOT p99 ms", BenchResult::p99_tpot_ms);
pub const MEAN_ITL: Metric = lat("mean_itl_ms", "ITL mean ms", BenchResult::mean_itl_ms);
pub const MEAN_E2EL: Metric = lat("mean_e2el_ms", "E2EL mean ms", BenchResult::mean_e2el_ms);
pub const P99_E2EL: Metric = lat("p99_e2el_ms", "E2EL p99 ms", BenchResult::p99_e2el_ms);
pub const REQ_TPUT: Metric = tput(
    "request_throughput",
    "req/s",
    BenchResult::request_throughput,
);
pub const OUT_TPUT: Metric = tput(
    "output_throughput",
    "out tok/s",
    BenchResult::output_throughput,
);
pub const TOTAL_TPUT: Metric = tput(
    "total_token_throughput",
    "total tok/s",
    BenchResult::total_token_throughput,
);
pub const DURATION: Metric = lat("duration_s", "duration s", BenchResult::duration_s);

/// Metrics of the terminal table and `summary.md`, in column order.
pub const TABLE_METRICS: &[Metric] = &[
    MEAN_TTFT, P99_TTFT, MEAN_TPOT, P99_TPOT, MEAN_E2EL, REQ_TPUT, OUT_TPUT,
];

/// Metrics of `summary.csv` and of `summary.json`'s snapshot.
pub const ALL_METRICS: &[Metric] = &[
    DURATION,
    REQ_TPUT,
    OUT_TPUT,
    TOTAL_TPUT,
    MEAN_TTFT,
    MEDIAN_TTFT,
    P99_TTFT,
    MEAN_TPOT,
    MEDIAN_TPOT,
    P99_TPOT,
    MEAN_ITL,
    MEAN_E2EL,
    P99_E2EL,
];

/// A number for humans: about 3–4 significant digits, `-` when missing.
pub fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_nan() => "nan".into(),
        Some(v) if v.is_infinite() => if v > 0.0 { "inf" } else { "-inf" }.into(),
        Some(v) => {
            let a = v.abs();
            if a >= 100.0 {
                format!("{v:.0}")
            } else if a >= 10.0 {
                format!("{v:.1}")
            } else if a >= 1.0 || a == 0.0 {
                format!("{v:.2}")
            } else {
                format!("{v:.3}")
            }
        }
    }
}

/// Token counts as users write them: multiples of 1024 as `1K`, `96K`; others as digits.
pub fn fmt_tokens(n: u64) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}K", n / 1024)
    } else {
        n.to_string()
    }
}

/// Version of `summary.json`'s layout.
const SUMMARY_SCHEMA: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SummaryFile {
    schema_version: u32,
    rows: Vec<SummaryRow>,
}

#[derive(Serialize, Deserialize)]
struct SummaryRow {
    #[serde(flatten)]
    row: Row,
    /// The keys of the result that reports use, as read (null when absent).
    #[serde(default)]
    metrics: Option<Map<String, Value>>,
}

/// Keys copied from a result into `summary.json` (raw, so `load_rows` re-reads them with the
/// same accessors and fallbacks).
const SNAPSHOT_KEYS: &[&str] = &[
    "completed",
    "failed",
    "num_prompts",
    "total_input_tokens",
    "total_output_tokens",
    "duration",
    "request_rate",
    "max_concurrency",
    "request_throughput",
    "output_throughput",
    "total_token_throughput",
];

/// Rows as they travel in events: serialised like `summary.json`'s rows (each row with a
/// snapshot of its result's metrics), so a JSON consumer sees every figure.
#[derive(Debug, Clone, Default)]
pub struct Rows(pub Vec<Row>);

impl Serialize for Rows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        summary_rows(&self.0).serialize(s)
    }
}

/// `summary.json`: the rows, each with a snapshot of its result's metrics.
pub fn summary_json(rows: &[Row]) -> String {
    let file = SummaryFile {
        schema_version: SUMMARY_SCHEMA,
        rows: summary_rows(rows),
    };
    // Serialising plain data into a String cannot fail.
    serde_json::to_string_pretty(&file).expect("summary serialises") + "\n"
}

fn summary_rows(rows: &[Row]) -> Vec<SummaryRow> {
    rows.iter()
        .map(|row| {
            let metrics = row.result.as_ref().map(|r| {
                let mut m = Map::new();
                for k in SNAPSHOT_KEYS {
                    if let Some(v) = r.raw().get(*k) {
                        m.insert((*k).to_string(), v.clone());
                    }
                }
                // Derived values (fallbacks applied), under their modern key names.
                for metric in ALL_METRICS.iter().filter(|m| m.id != "duration_s") {
                    if let Some(v) = (metric.get)(r) {
                        m.insert(metric.id.to_string(), json_f64(v));
                    }
                }
                m
            });
            SummaryRow {
                row: row.clone(),
                metrics,
            }
        })
        .collect()
}

/// JSON has no NaN/infinity: write those as strings the result parser reads back.
fn json_f64(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

/// Read an earlier run's `summary.json` back into rows (results rebuilt from the snapshots).
pub fn load_rows(run_dir: &Path) -> anyhow::Result<Vec<Row>> {
    let path = run_dir.join("summary.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let file: SummaryFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.line(), e.column(), e))?;
    if file.schema_version > SUMMARY_SCHEMA {
        anyhow::bail!(
            "{}: schema_version {} is newer than this vbench understands ({SUMMARY_SCHEMA})",
            path.display(),
            file.schema_version
        );
    }
    let origin = path.display().to_string();
    Ok(file
        .rows
        .into_iter()
        .map(|s| {
            let mut row = s.row;
            row.result = s.metrics.map(|m| BenchResult::from_map(m, origin.clone()));
            row
        })
        .collect())
}

/// What `write_run_report` wrote.
#[derive(Debug)]
pub struct Written {
    pub paths: Vec<PathBuf>,
    /// The comparison with the baseline, when one was given.
    pub comparison: Option<Comparison>,
}

/// Lines of each failed point's log shown in `report.html`.
const LOG_TAIL_LINES: usize = 120;

/// What a report is made of: the run (or import) and its rows, the baseline to compare with,
/// and the verdict when it was judged.
pub struct ReportInput<'a> {
    pub meta: &'a RunMeta,
    pub rows: &'a [Row],
    /// `(baseline title, baseline rows)`.
    pub baseline: Option<(&'a str, &'a [Row])>,
    pub verdict: Option<&'a verdict::Verdict>,
}

/// Write the report of a run into `run_dir`: `summary.md`, `summary.csv`, `summary.json`,
/// `report.html`, `charts/*.svg`, and `comparison.md` when a baseline is given. Each file is
/// replaced atomically, so a reader never sees half a report.
pub fn write_run_report(run_dir: &Path, input: &ReportInput<'_>) -> anyhow::Result<Written> {
    let (meta, rows, baseline) = (input.meta, input.rows, input.baseline);
    let mut written = Vec::new();
    // Drawn once: written as files and embedded in the page.
    let drawn = chart_svgs(
        rows,
        &ChartOptions {
            standin: meta.standin,
        },
    )?;
    let chart_dir = run_dir.join("charts");
    let mut chart_paths = Vec::new();
    for c in &drawn {
        let p = chart_dir.join(&c.name);
        crate::durable::write_replace(&p, c.svg.as_bytes())
            .with_context(|| format!("write {}", p.display()))?;
        chart_paths.push(p);
    }
    remove_stale_charts(&chart_dir, &chart_paths)?;

    let mut md = markdown(rows);
    if !drawn.is_empty() {
        md.push_str("\n## Charts\n\n");
        for c in &drawn {
            md.push_str(&format!("![{}](charts/{})\n", c.title, c.name));
        }
    }
    let comparison = baseline.map(|(name, base)| (compare(rows, base), name));
    if comparison.is_some() {
        md.push_str("\nCompared with an earlier run: see [comparison.md](comparison.md).\n");
    }

    let page_charts: Vec<(String, String)> = drawn.into_iter().map(|c| (c.title, c.svg)).collect();
    let page = html(&Page {
        meta,
        rows,
        charts: &page_charts,
        comparison: comparison.as_ref().map(|(c, name)| (*name, c)),
        verdict: input.verdict,
        logs: &failed_logs(rows, LOG_TAIL_LINES),
    });

    for (name, body) in [
        ("summary.md", md),
        ("summary.csv", csv(rows)),
        ("summary.json", summary_json(rows)),
        ("report.html", page),
    ] {
        let p = run_dir.join(name);
        crate::durable::write_replace(&p, body.as_bytes())
            .with_context(|| format!("write {}", p.display()))?;
        written.push(p);
    }
    written.extend(chart_paths);
    let p = run_dir.join("comparison.md");
    match &comparison {
        Some((c, name)) => {
            crate::durable::write_replace(&p, render_comparison(c, name).as_bytes())
                .with_context(|| format!("write {}", p.display()))?;
            written.push(p);
        }
        // A comparison left from an earlier rendering would contradict this one.
        None => remove_if_present(&p)?,
    }
    Ok(Written {
        paths: written,
        comparison: comparison.map(|(c, _)| c),
    })
}

/// Remove charts an earlier rendering wrote that this one did not (a sweep whose points all
/// failed since, a renamed sweep, a sweep that is no grid any more): only files ending in one
/// of our chart suffixes (`CHART_SUFFIXES`).
fn remove_stale_charts(dir: &Path, keep: &[PathBuf]) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = CHART_SUFFIXES.iter().any(|s| name.ends_with(s));
        if ours && !keep.contains(&path) {
            remove_if_present(&path)?;
        }
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove stale {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_tokens() {
        assert_eq!(fmt_num(None), "-");
        assert_eq!(fmt_num(Some(48.36707)), "48.4");
        assert_eq!(fmt_num(Some(613.15)), "613");
        assert_eq!(fmt_num(Some(4.937)), "4.94");
        assert_eq!(fmt_num(Some(0.0)), "0.00");
        assert_eq!(fmt_num(Some(0.01234)), "0.012");
        assert_eq!(fmt_num(Some(f64::INFINITY)), "inf");
        assert_eq!(fmt_tokens(1024), "1K");
        assert_eq!(fmt_tokens(98304), "96K");
        assert_eq!(fmt_tokens(500), "500");
    }
}
