//! SVG charts of a run (plotters, SVG backend only — text is written as `<text>` elements, so
//! no font files are needed). Per sweep: mean TTFT, mean TPOT and output throughput against
//! concurrency, one line per input length; the x axis is logarithmic for scaling sweeps.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{MEAN_TPOT, MEAN_TTFT, Metric, OUT_TPUT, Row, fmt_tokens};

const SIZE: (u32, u32) = (900, 540);

/// Series colours, distinguishable and print-safe (Okabe–Ito).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// The charts drawn per sweep: (file suffix, metric, y-axis label, title).
const CHARTS: [(&str, Metric, &str, &str); 3] = [
    (
        "ttft",
        MEAN_TTFT,
        "mean TTFT (ms)",
        "mean time to first token",
    ),
    (
        "tpot",
        MEAN_TPOT,
        "mean TPOT (ms)",
        "mean time per output token",
    ),
    (
        "throughput",
        OUT_TPUT,
        "output tokens/s",
        "output throughput",
    ),
];

/// One line: an input length and its (concurrency, value) points, ascending.
struct Series {
    input_len: u64,
    points: Vec<(f64, f64)>,
}

/// Render every chart to SVG text: `(file name, svg)`. Only `ok` rows with a value are drawn;
/// a chart with no data is left out.
pub fn chart_svgs(rows: &[Row]) -> anyhow::Result<Vec<(String, String)>> {
    let mut sweeps: Vec<&str> = Vec::new();
    for row in rows {
        if !sweeps.contains(&row.sweep.as_str()) {
            sweeps.push(&row.sweep);
        }
    }
    let mut out = Vec::new();
    for sweep in sweeps {
        let ok: Vec<&Row> = rows
            .iter()
            .filter(|r| r.sweep == sweep && r.status == "ok")
            .collect();
        for (suffix, metric, y_label, what) in CHARTS {
            let series = series_of(&ok, metric);
            if series.is_empty() {
                continue;
            }
            let name = format!("{}_{suffix}.svg", file_safe(sweep));
            let title = format!("{sweep}: {what} vs concurrency");
            let svg = render(&title, y_label, &series, is_scaling(sweep, &series))
                .map_err(|e| anyhow!("draw chart {name}: {e}"))?;
            out.push((name, svg));
        }
    }
    Ok(out)
}

/// Write the charts into `dir` (created if needed); returns the paths.
pub fn charts(rows: &[Row], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (name, svg) in chart_svgs(rows)? {
        let p = dir.join(name);
        crate::durable::write_replace(&p, svg.as_bytes())
            .with_context(|| format!("write {}", p.display()))?;
        paths.push(p);
    }
    Ok(paths)
}

fn series_of(rows: &[&Row], metric: Metric) -> Vec<Series> {
    let mut lens: Vec<u64> = rows.iter().map(|r| r.input_len).collect();
    lens.sort_unstable();
    lens.dedup();
    lens.into_iter()
        .filter_map(|input_len| {
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.input_len == input_len && r.concurrency > 0)
                .filter_map(|r| Some((r.concurrency as f64, r.metric(metric)?)))
                .filter(|(_, y)| y.is_finite())
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (!points.is_empty()).then_some(Series { input_len, points })
        })
        .collect()
}

/// Scaling sweeps (request counts 1..1000) read better on a log axis: the `scaling` sweep, or
/// any sweep whose concurrency spans 50× or more.
fn is_scaling(sweep: &str, series: &[Series]) -> bool {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    sweep.starts_with("scaling") || (lo > 0.0 && hi / lo >= 50.0)
}

fn render(title: &str, y_label: &str, series: &[Series], log_x: bool) -> Result<String, String> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_top = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    if log_x {
        draw(
            title,
            y_label,
            series,
            (lo / 1.3..hi * 1.3).log_scale(),
            y_top,
        )
    } else {
        let pad = ((hi - lo) * 0.05).max(0.5);
        draw(title, y_label, series, (lo - pad).max(0.0)..hi + pad, y_top)
    }
}

fn draw<X>(
    title: &str,
    y_label: &str,
    series: &[Series],
    x: X,
    y_top: f64,
) -> Result<String, String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x, 0.0..y_top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("max concurrency")
            .y_desc(y_label)
            // The default minor grid is dark enough to compete with the data in small charts.
            .light_line_style(RGBColor(238, 238, 238))
            .x_label_formatter(&|v| trim_float(*v))
            .y_label_formatter(&|v| trim_float(*v))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("input {}", fmt_tokens(s.input_len)))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Axis numbers without trailing zeros: 1, 2.5, 1000.
fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
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
