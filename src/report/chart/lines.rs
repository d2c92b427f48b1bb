//! Metric against concurrency, one line per input length: TTFT and TPOT (median line with a
//! shaded p50–p99 band) and output throughput. The x axis is logarithmic with ticks at the
//! measured concurrencies; a point with several `ok` repeats shows the median of the repeats
//! and a min–max whisker; points without a value are ✕ marks on the baseline, reason on hover.

use plotters::prelude::*;

use super::super::{
    MEDIAN_TPOT, MEDIAN_TTFT, Metric, OUT_TPUT, P99_TPOT, P99_TTFT, Spread, fmt_tokens,
};
use super::axis::Axis;
use super::data::{Gap, SeriesKey, SweepData};
use super::frame::{self, Icon, Legend, Plot};
use super::style::{SIZE, readable, series_color};
use super::{Chart, ChartOptions, file_safe};

/// A metric-vs-concurrency chart.
pub struct LineSpec {
    /// File name part: `<sweep>_<suffix>.svg`.
    pub suffix: &'static str,
    /// In the title.
    pub what: &'static str,
    /// y axis title, unit in parentheses.
    pub y_label: &'static str,
    /// The line (median over repeats of this metric).
    pub metric: Metric,
    /// The band from the line up to this metric (p99), with its legend text.
    pub band: Option<(Metric, &'static str)>,
    /// Whether a wide range may use a log y axis. Latencies over 1K..96K inputs span 100×
    /// and need it; throughput stays linear, where a plateau (saturation) reads at a glance.
    pub allow_log: bool,
}

/// TTFT, TPOT, output throughput.
pub const SPECS: [LineSpec; 3] = [
    LineSpec {
        suffix: "ttft",
        what: "time to first token",
        y_label: "median TTFT (ms)",
        metric: MEDIAN_TTFT,
        band: Some((P99_TTFT, "p50 to p99 TTFT")),
        allow_log: true,
    },
    LineSpec {
        suffix: "tpot",
        what: "time per output token",
        y_label: "median TPOT (ms)",
        metric: MEDIAN_TPOT,
        band: Some((P99_TPOT, "p50 to p99 TPOT")),
        allow_log: true,
    },
    LineSpec {
        suffix: "throughput",
        what: "output throughput",
        y_label: "output throughput (tokens/s)",
        metric: OUT_TPUT,
        band: None,
        allow_log: false,
    },
];

struct At {
    concurrency: u64,
    line: Spread,
    /// Top of the band (p99, median over repeats).
    upper: Option<f64>,
}

/// The chart, or `None` when no point of the sweep has the metric.
pub fn chart(
    sweep: &SweepData,
    spec: &LineSpec,
    opts: &ChartOptions,
) -> anyhow::Result<Option<Chart>> {
    let lines: Vec<(SeriesKey, Vec<At>)> = sweep
        .series
        .iter()
        .map(|s| {
            let pts = sweep
                .points
                .iter()
                .filter(|p| p.series == *s && p.concurrency > 0)
                .filter_map(|p| {
                    Some(At {
                        concurrency: p.concurrency,
                        line: p.metric(spec.metric)?,
                        upper: spec.band.and_then(|(m, _)| p.metric(m)).map(|s| s.median),
                    })
                })
                .collect();
            (*s, pts)
        })
        .collect();
    let values = lines.iter().flat_map(|(_, pts)| pts);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), a| {
        let top = a.upper.unwrap_or(a.line.max).max(a.line.max);
        (lo.min(a.line.min), hi.max(top))
    });
    if !hi.is_finite() {
        return Ok(None);
    }
    let gaps = sweep.gaps(spec.metric.id, |p| p.metric(spec.metric).is_some());
    let (placed, unplaced): (Vec<&Gap>, Vec<&Gap>) = gaps.iter().partition(|g| g.concurrency > 0);
    let x = Axis::concurrency(&sweep.concurrencies, frame::plot_width(SIZE.0));
    let y = Axis::values(lo, hi, spec.y_label, spec.allow_log);
    let title = match sweep.output_len() {
        Some(o) => format!(
            "{}: {} vs concurrency, output {} tokens",
            sweep.name,
            spec.what,
            fmt_tokens(o)
        ),
        None => format!("{}: {} vs concurrency", sweep.name, spec.what),
    };
    let any_repeats = lines
        .iter()
        .any(|(_, pts)| pts.iter().any(|a| a.line.n > 1));
    // Up to 3 lines, shaded bands read well; more bands pile up into one grey mass (8 input
    // lengths of a production sweep), so each point gets a p50–p99 bar instead.
    let shaded = lines.iter().filter(|(_, p)| !p.is_empty()).count() <= 3;

    let svg = frame::render(SIZE, opts, |root, overlay| {
        let mut chart = frame::frame(
            root,
            &title,
            &x,
            &y,
            frame::strip_room(!unplaced.is_empty()),
            true,
        )?;
        let (plot_w, _) = chart.plotting_area().dim_in_pixel();
        // One pixel along x, in plot units.
        let px = (x.hi - x.lo) / plot_w.max(1) as f64;
        // Bands first, so every line is drawn over every band.
        for (s, pts) in &lines {
            let color = series_color(sweep.series_index(*s));
            if !shaded {
                draw_p99_bars(&mut chart, pts, &x, &y, px, color)?;
                continue;
            }
            for run in band_runs(pts) {
                let fill = color.mix(0.16).filled();
                if let [a] = run {
                    let c = x.at(a.concurrency as f64);
                    let top = a.upper.expect("band runs have an upper");
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [
                            (c - 5.0 * px, y.at(a.line.median)),
                            (c + 5.0 * px, y.at(top)),
                        ],
                        fill,
                    )))?;
                    continue;
                }
                let mut poly: Vec<(f64, f64)> = run
                    .iter()
                    .map(|a| (x.at(a.concurrency as f64), y.at(a.line.median)))
                    .collect();
                poly.extend(run.iter().rev().map(|a| {
                    (
                        x.at(a.concurrency as f64),
                        y.at(a.upper.expect("band runs have an upper")),
                    )
                }));
                chart.draw_series(std::iter::once(Polygon::new(poly, fill)))?;
            }
        }
        let mut legend = Legend::default();
        for (s, pts) in &lines {
            if pts.is_empty() {
                continue;
            }
            let color = series_color(sweep.series_index(*s));
            let xy: Vec<(f64, f64)> = pts
                .iter()
                .map(|a| (x.at(a.concurrency as f64), y.at(a.line.median)))
                .collect();
            draw_whiskers(&mut chart, pts, &x, &y, color)?;
            frame::series(&mut chart, &xy, color)?;
            legend.add(Icon::Line(color), sweep.series_label(*s));
        }
        match spec.band {
            Some((_, label)) if shaded => legend.add(Icon::Band, format!("shaded: {label}")),
            Some((_, label)) => legend.add(Icon::Bar, format!("bar: {label}")),
            None => {}
        }
        if any_repeats {
            legend.add(Icon::Whisker, "whisker: repeats, min–max");
        }
        legend.gaps(&gaps);
        legend.draw(root, &chart)?;
        frame::baseline_marks(
            &chart,
            overlay,
            &placed,
            |g| x.at(g.concurrency as f64),
            |g| {
                (
                    sweep.series_short(g.series),
                    readable(series_color(sweep.series_index(g.series))),
                )
            },
        );
        let items: Vec<(String, &Gap)> = unplaced
            .iter()
            .map(|g| (format!("{} C=?", sweep.series_short(g.series)), *g))
            .collect();
        frame::strip(overlay, SIZE, "no concurrency:", &items);
        Ok(())
    })?;
    Ok(Some(Chart {
        name: format!("{}_{}.svg", file_safe(sweep.name), spec.suffix),
        title,
        svg,
    }))
}

/// Runs of consecutive points that all have a band top.
fn band_runs(pts: &[At]) -> Vec<&[At]> {
    pts.split(|a| a.upper.is_none())
        .filter(|r| !r.is_empty())
        .collect()
}

/// p50 to p99 of each point as a bar just right of its marker (so it does not hide a repeats
/// whisker), capped at p99.
fn draw_p99_bars<'a, 'b: 'a>(
    chart: &mut Plot<'a, 'b>,
    pts: &[At],
    x: &Axis,
    y: &Axis,
    px: f64,
    color: RGBColor,
) -> anyhow::Result<()> {
    let style = color.stroke_width(1);
    for a in pts {
        let Some(top) = a.upper else { continue };
        let c = x.at(a.concurrency as f64) + 3.0 * px;
        let (lo, hi) = (y.at(a.line.median), y.at(top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((c, hi)) + PathElement::new(vec![(-3, 0), (5, 0)], style),
        ))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(c, lo), (c, hi)],
            style,
        )))?;
    }
    Ok(())
}

/// Min–max over repeats: a vertical line with caps, where a point has more than one value.
fn draw_whiskers<'a, 'b: 'a>(
    chart: &mut Plot<'a, 'b>,
    pts: &[At],
    x: &Axis,
    y: &Axis,
    color: RGBColor,
) -> anyhow::Result<()> {
    for a in pts.iter().filter(|a| a.line.n > 1) {
        let c = x.at(a.concurrency as f64);
        let (lo, hi) = (y.at(a.line.min), y.at(a.line.max));
        let style = color.stroke_width(1);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(c, lo), (c, hi)],
            style,
        )))?;
        for end in [lo, hi] {
            chart.draw_series(std::iter::once(
                EmptyElement::at((c, end)) + PathElement::new(vec![(-5, 0), (5, 0)], style),
            ))?;
        }
    }
    Ok(())
}
