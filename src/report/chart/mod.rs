//! SVG charts of a run, drawn with plotters' SVG backend only (text is `<text>`, so no font
//! files are needed), plus a little SVG of our own where plotters has no element for it
//! (tooltips, hatching, the stand-in watermark: see `overlay`).
//!
//! Per sweep (file `<sweep>_<suffix>.svg`):
//! - `ttft`, `tpot`: median TTFT / TPOT against concurrency, a shaded p50–p99 band;
//! - `throughput`: output throughput against concurrency;
//! - `tradeoff`: total output tokens/s against tokens/s per user, points labelled `C=<n>`;
//! - `heatmap_ttft`, `heatmap_throughput`: input length × concurrency grids, for sweeps that
//!   are grids (see `heatmap`).
//!
//! Every chart has one colour per input length (Okabe–Ito), units on its axes, the median and
//! min–max whiskers of repeated points, a mark with the reason for every point it cannot draw,
//! and a "CPU stand-in" watermark on stand-in runs. [`trend_svg`] draws a history of runs,
//! [`walk_svg`] the walk of an SLO search.

mod axis;
mod data;
mod frame;
mod heatmap;
mod lines;
mod overlay;
mod style;
mod tradeoff;
mod trend;
mod walk;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Row;
use data::SweepData;

pub use trend::{TrendPoint, TrendSeries, trend_svg};
pub use walk::{WalkLimit, WalkProbe, walk_svg};

/// How to draw the charts of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChartOptions {
    /// Measured on the CPU stand-in: every chart gets a watermark saying so.
    pub standin: bool,
}

/// A rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File name, e.g. `production_ttft.svg`.
    pub name: String,
    /// What it shows, for captions and alt text.
    pub title: String,
    pub svg: String,
}

/// The endings of every chart file `charts` writes, so a re-rendering can remove the ones it
/// no longer writes (and nothing else).
pub const CHART_SUFFIXES: &[&str] = &[
    "_ttft.svg",
    "_tpot.svg",
    "_throughput.svg",
    "_tradeoff.svg",
    "_heatmap_ttft.svg",
    "_heatmap_throughput.svg",
];

/// Render every chart of `rows`, sweep by sweep in first-seen order. A sweep without an `ok`
/// point gets none (the tables say why each point failed), and a chart whose values no point
/// has is left out.
pub fn chart_svgs(rows: &[Row], opts: &ChartOptions) -> anyhow::Result<Vec<Chart>> {
    let mut out = Vec::new();
    for sweep in SweepData::of(rows) {
        if !sweep.has_ok() {
            continue;
        }
        let context = |what: &str| format!("draw the {what} chart of sweep {}", sweep.name);
        for spec in &lines::SPECS {
            out.extend(lines::chart(&sweep, spec, opts).with_context(|| context(spec.suffix))?);
        }
        out.extend(tradeoff::chart(&sweep, opts).with_context(|| context("tradeoff"))?);
        for spec in &heatmap::SPECS {
            out.extend(heatmap::chart(&sweep, spec, opts).with_context(|| context(spec.suffix))?);
        }
    }
    Ok(out)
}

/// Charts comparing named runs (a matrix's combinations): for every sweep and input length,
/// median TTFT, median TPOT and output throughput against concurrency, one line per run.
/// Files `<sweep>_input_<len>_<suffix>.svg` (e.g. `demo_input_128_throughput.svg`).
pub fn variant_chart_svgs(
    runs: &[(String, Vec<Row>)],
    opts: &ChartOptions,
) -> anyhow::Result<Vec<Chart>> {
    let mut shapes: Vec<(String, u64)> = Vec::new();
    for (_, rows) in runs {
        for r in rows {
            let k = (r.sweep.clone(), r.input_len);
            if !shapes.contains(&k) {
                shapes.push(k);
            }
        }
    }
    let mut out = Vec::new();
    for (sweep, input_len) in shapes {
        let name = format!("{sweep} input {}", super::fmt_tokens(input_len));
        let data = SweepData::of_variants(&name, &sweep, input_len, runs);
        if !data.has_ok() {
            continue;
        }
        for spec in &lines::SPECS {
            out.extend(
                lines::chart(&data, spec, opts)
                    .with_context(|| format!("draw the {} chart of {name}", spec.suffix))?,
            );
        }
    }
    Ok(out)
}

/// Write the charts into `dir` (created if needed) through [`crate::durable`]; returns the
/// paths, in the order of [`chart_svgs`].
pub fn charts(rows: &[Row], dir: &Path, opts: &ChartOptions) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for chart in chart_svgs(rows, opts)? {
        let p = dir.join(&chart.name);
        crate::durable::write_replace(&p, chart.svg.as_bytes())
            .with_context(|| format!("write {}", p.display()))?;
        paths.push(p);
    }
    Ok(paths)
}

/// A sweep name as a file-name part: letters, digits, `-`, `_`; anything else becomes `_`.
fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "sweep".into() } else { s }
}
