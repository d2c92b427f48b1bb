//! Heatmaps of a grid sweep: input length (rows, shortest on top, as in the tables) ×
//! concurrency (columns), each cell coloured by its value and with the value printed, a colour
//! scale beside it. A cell without a value is grey and hatched with a word (`failed`,
//! `skipped`, …) and the reason on hover; a cell whose point lost some repeats gets a ✕ in its
//! corner.
//!
//! Which sweeps get heatmaps: any with at least 2 input lengths and 2 concurrency levels (the
//! `production` layout, 8 × 5, is one; so is any user-defined grid). A single row or column is
//! the line chart again, with less to read, so such sweeps get none — even if named
//! `production`.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::{MEDIAN_TTFT, Metric, OUT_TPUT, fmt_tokens};
use super::axis::{Axis, TICK_FONT, with_note};
use super::data::{Gap, SweepData};
use super::frame::{self, MARGIN};
use super::overlay::GapKind;
use super::style::{FONT, fmt_value, text_on, viridis};
use super::{Chart, ChartOptions, file_safe};

/// A heatmap: file suffix, metric (median over repeats), what the colour means (unit in
/// parentheses).
pub struct HeatSpec {
    pub suffix: &'static str,
    pub metric: Metric,
    pub label: &'static str,
}

/// By median TTFT and by output throughput.
pub const SPECS: [HeatSpec; 2] = [
    HeatSpec {
        suffix: "heatmap_ttft",
        metric: MEDIAN_TTFT,
        label: "median TTFT (ms)",
    },
    HeatSpec {
        suffix: "heatmap_throughput",
        metric: OUT_TPUT,
        label: "output throughput (tokens/s)",
    },
];

/// Width of the colour scale area right of the grid, px.
const SCALE_AREA: u32 = 120;

/// Whether a sweep is laid out as a grid worth a heatmap (see the module doc).
pub fn applies(sweep: &SweepData) -> bool {
    let levels = sweep.concurrencies.iter().filter(|c| **c > 0).count();
    sweep.series.len() >= 2 && levels >= 2
}

/// The heatmap, or `None` when the sweep is no grid or no cell has the metric.
pub fn chart(
    sweep: &SweepData,
    spec: &HeatSpec,
    opts: &ChartOptions,
) -> anyhow::Result<Option<Chart>> {
    if !applies(sweep) {
        return Ok(None);
    }
    let cols: Vec<u64> = sweep
        .concurrencies
        .iter()
        .copied()
        .filter(|c| *c > 0)
        .collect();
    // Plot rows bottom-up; the shortest input goes on top.
    let rows: Vec<_> = sweep.series.iter().rev().copied().collect();
    let values: Vec<f64> = sweep
        .points
        .iter()
        .filter_map(|p| p.metric(spec.metric))
        .map(|s| s.median)
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    if !hi.is_finite() {
        return Ok(None);
    }
    let scale = ColorScale::new(lo, hi);
    let gaps = sweep.gaps(spec.metric.id, |p| p.metric(spec.metric).is_some());

    let x = Axis::slots(
        cols.iter().map(u64::to_string).collect(),
        "max concurrency (requests)",
    );
    let y = Axis::slots(
        rows.iter().map(|s| sweep.series_short(*s)).collect(),
        "input length (tokens)",
    );
    let size = (900, (150 + 46 * rows.len() as u32).max(320));
    let title = match sweep.output_len() {
        Some(o) => format!(
            "{}: {} by input length and concurrency, output {} tokens",
            sweep.name,
            spec.label,
            fmt_tokens(o)
        ),
        None => format!(
            "{}: {} by input length and concurrency",
            sweep.name, spec.label
        ),
    };

    let svg = frame::render(size, opts, |root, overlay| {
        // The caption spans the canvas; the grid and its colour scale share the rest.
        let body = root.titled(&title, (FONT, frame::CAPTION_FONT))?;
        let (grid_area, scale_area) = body.split_horizontally(size.0 - SCALE_AREA);
        let mut chart = frame::frame(&grid_area, "", &x, &y, 0, false)?;
        let inset = 0.48;
        let cell = |i: usize, j: usize| {
            let (cx, cy) = (i as f64, j as f64);
            [(cx - inset, cy + inset), (cx + inset, cy - inset)]
        };
        for (j, s) in rows.iter().enumerate() {
            for (i, c) in cols.iter().enumerate() {
                let [a, b] = cell(i, j);
                let point = sweep
                    .points
                    .iter()
                    .find(|p| p.series == *s && p.concurrency == *c);
                let value = point.and_then(|p| p.metric(spec.metric));
                let Some(v) = value else {
                    let (pa, pb) = (chart.backend_coord(&a), chart.backend_coord(&b));
                    match gaps.iter().find(|g| g.series == *s && g.concurrency == *c) {
                        Some(g) => overlay.hatched_cell(pa, pb, g.kind, &g.word, &g.note),
                        None => overlay.hatched_cell(
                            pa,
                            pb,
                            GapKind::NotRun,
                            "—",
                            &format!(
                                "{}, concurrency {c}: not part of the sweep",
                                sweep.series_label(*s)
                            ),
                        ),
                    }
                    continue;
                };
                let bg = scale.color(v.median);
                let fg = text_on(bg);
                chart.draw_series(std::iter::once(Rectangle::new([a, b], bg.filled())))?;
                let center = (i as f64, j as f64);
                let big = (FONT, 15, FontStyle::Bold)
                    .into_font()
                    .color(&fg)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let small = (FONT, 12)
                    .into_font()
                    .color(&fg)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                if v.n > 1 {
                    // Half the min–max range, relative to the median: the repeats' noise.
                    let spread = format!("n={}, ±{:.0}%", v.n, v.relative() * 50.0);
                    chart.draw_series([
                        EmptyElement::at(center) + Text::new(fmt_value(v.median), (0, -7), big),
                        EmptyElement::at(center) + Text::new(spread, (0, 10), small),
                    ])?;
                } else {
                    chart.draw_series(std::iter::once(Text::new(
                        fmt_value(v.median),
                        center,
                        big,
                    )))?;
                }
                let partial: Vec<&Gap> = gaps
                    .iter()
                    .filter(|g| g.series == *s && g.concurrency == *c)
                    .collect();
                for g in partial {
                    let (px, py) = chart.backend_coord(&(a.0, a.1));
                    overlay.gap_mark((px + 9, py + 9), g.kind, &g.note);
                }
                let detail = format!(
                    "{}, concurrency {c}: {} = {}{}",
                    sweep.series_label(*s),
                    spec.label,
                    fmt_value(v.median),
                    if v.n > 1 {
                        format!(
                            " (median of {}; min {}, max {})",
                            v.n,
                            fmt_value(v.min),
                            fmt_value(v.max)
                        )
                    } else {
                        String::new()
                    }
                );
                overlay.tooltip_rect(chart.backend_coord(&a), chart.backend_coord(&b), &detail);
            }
        }
        let (_, ys) = chart.plotting_area().get_pixel_range();
        draw_scale(&scale_area, &scale, ys, spec.label)?;
        Ok(())
    })?;
    Ok(Some(Chart {
        name: format!("{}_{}.svg", file_safe(sweep.name), spec.suffix),
        title,
        svg,
    }))
}

/// Values to colours: viridis over the values' range, on a log scale when they span 20× or
/// more (TTFT over 1K..96K inputs does), so small values do not all get the same colour.
struct ColorScale {
    axis: Axis,
}

impl ColorScale {
    fn new(lo: f64, hi: f64) -> ColorScale {
        let log = lo > 0.0 && hi / lo >= 20.0;
        let f = |v: f64| if log { v.log10() } else { v };
        let (a, b) = if hi > lo {
            (f(lo), f(hi))
        } else {
            (f(lo) - 0.5, f(lo) + 0.5)
        };
        // Ticks: round values inside the range (the ends are added when drawing, where the
        // room for labels is known).
        let nice = Axis::values(lo, hi, "", log);
        let ticks: Vec<f64> = nice
            .ticks
            .iter()
            .copied()
            .filter(|p| *p >= a && *p <= b)
            .collect();
        ColorScale {
            axis: Axis {
                log,
                lo: a,
                hi: b,
                ticks,
                minor: Vec::new(),
                label: String::new(),
                names: Vec::new(),
            },
        }
    }

    fn t(&self, v: f64) -> f64 {
        (self.axis.at(v) - self.axis.lo) / (self.axis.hi - self.axis.lo)
    }

    fn color(&self, v: f64) -> RGBColor {
        viridis(self.t(v))
    }
}

/// The colour scale: a vertical bar as tall as the grid, ticks with values, the label.
fn draw_scale(
    area: &frame::Root,
    scale: &ColorScale,
    ys: std::ops::Range<i32>,
    label: &str,
) -> anyhow::Result<()> {
    // Coordinates on a sub-area are relative to it; `ys` is absolute.
    let (_, top) = area.get_base_pixel();
    let ys = ys.start - top..ys.end - top;
    let bar = (8, 26);
    let steps = 64;
    let h = (ys.end - ys.start) as f64;
    for k in 0..steps {
        let top = ys.start + (h * k as f64 / steps as f64).round() as i32;
        let bottom = ys.start + (h * (k + 1) as f64 / steps as f64).round() as i32;
        let t = 1.0 - (k as f64 + 0.5) / steps as f64;
        area.draw(&Rectangle::new(
            [(bar.0, top), (bar.1, bottom)],
            viridis(t).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(bar.0, ys.start), (bar.1, ys.end)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    let a = &scale.axis;
    let y_of = |p: f64| ys.end - (h * (p - a.lo) / (a.hi - a.lo)).round() as i32;
    // The extremes are what a reader looks for: label both ends, and drop round ticks whose
    // label would collide with them.
    let mut ticks: Vec<f64> = a
        .ticks
        .iter()
        .copied()
        .filter(|p| {
            [a.lo, a.hi]
                .iter()
                .all(|e| (y_of(*p) - y_of(*e)).abs() >= 20)
        })
        .collect();
    ticks.extend([a.lo, a.hi]);
    let font = (FONT, TICK_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for p in &ticks {
        let y = y_of(*p);
        area.draw(&PathElement::new(
            vec![(bar.1, y), (bar.1 + 5, y)],
            BLACK.stroke_width(1),
        ))?;
        area.draw(&Text::new(a.tick_label(*p), (bar.1 + 8, y), font.clone()))?;
    }
    let title = (FONT, frame::AXIS_FONT)
        .into_font()
        .transform(FontTransform::Rotate270)
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let label = if a.log {
        with_note(label, "log colour scale")
    } else {
        label.to_string()
    };
    area.draw(&Text::new(
        label,
        (
            SCALE_AREA as i32 - MARGIN as i32 - 8,
            (ys.start + ys.end) / 2,
        ),
        title,
    ))?;
    Ok(())
}
