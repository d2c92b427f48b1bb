//! A metric over a history of runs (for `vbench history`): x = the runs in order
//! (categorical; labels rotated and thinned so they stay readable), y = the value, one line per
//! series through its valid runs. An invalid night (an outage, a stand-in, a run the verdict
//! could not judge) is a hollow red circle at its value — or on the baseline when it has none —
//! with its note as tooltip, so it is seen but not mistaken for a measurement.

use plotters::prelude::*;

use super::ChartOptions;
use super::axis::Axis;
use super::frame::{self, Icon, Legend, MARGIN};
use super::overlay::{GapKind, TextStyle};
use super::style::{FAILED, fmt_value, series_color, text_width};

/// One run of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// The run id or a date label; runs with the same label in several series share a slot.
    pub run: String,
    pub value: Option<f64>,
    /// Whether the run counts as a measurement.
    pub valid: bool,
    /// Why the run is invalid, or anything else worth a tooltip.
    pub note: Option<String>,
}

/// A line of a trend chart: a point or metric over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendSeries {
    pub label: String,
    pub points: Vec<TrendPoint>,
}

const SIZE: (u32, u32) = (1000, 520);
/// Room under the plot for rotated run labels, px.
const LABELS: u32 = 64;
/// Longest run label shown whole; longer ones are cut (the tooltip has them in full).
const LABEL_CHARS: usize = 22;

/// The trend chart as SVG text. `y_label` names the value with its unit in parentheses.
///
/// Drawing into a string cannot fail on I/O and the layout is fixed, so this returns the SVG
/// directly; if plotters still refuses, the SVG says so in its text instead of being empty.
pub fn trend_svg(
    title: &str,
    y_label: &str,
    series: &[TrendSeries],
    opts: &ChartOptions,
) -> String {
    match render(title, y_label, series, opts) {
        Ok(svg) => svg,
        Err(e) => frame::unrenderable(SIZE, title, &e),
    }
}

fn render(
    title: &str,
    y_label: &str,
    series: &[TrendSeries],
    opts: &ChartOptions,
) -> anyhow::Result<String> {
    // Runs in first-seen order over all series.
    let mut runs: Vec<&str> = Vec::new();
    for s in series {
        for p in &s.points {
            if !runs.contains(&p.run.as_str()) {
                runs.push(&p.run);
            }
        }
    }
    let slot = |run: &str| runs.iter().position(|r| *r == run).unwrap_or(0) as f64;
    let max = series
        .iter()
        .flat_map(|s| &s.points)
        .filter_map(|p| p.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let x = Axis::slots(vec![String::new(); runs.len()], "");
    let y = Axis::values(0.0, max, y_label, false);

    frame::render(SIZE, opts, |root, overlay| {
        let mut chart = frame::frame(root, title, &x, &y, LABELS, true)?;
        let y0 = y.lo;
        let mut legend = Legend::default();
        for (i, s) in series.iter().enumerate() {
            let color = series_color(i);
            let valid: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.valid)
                .filter_map(|p| Some((slot(&p.run), p.value.filter(|v| v.is_finite())?)))
                .collect();
            frame::series(&mut chart, &valid, color)?;
            legend.add(Icon::Line(color), &s.label);
            for p in &s.points {
                let value = p.value.filter(|v| v.is_finite());
                let at = chart.backend_coord(&(slot(&p.run), value.unwrap_or(y0)));
                let note = p
                    .note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default();
                let shown = value.map_or("no value".into(), fmt_value);
                let tip = if p.valid {
                    format!("{}, {}: {shown}{note}", s.label, p.run)
                } else {
                    format!("{}, {}: invalid ({shown}){note}", s.label, p.run)
                };
                match (p.valid, value) {
                    (false, _) => overlay.hollow_mark(at, FAILED, &tip),
                    (true, None) => overlay.gap_mark((at.0, at.1 - 10), GapKind::NoValue, &tip),
                    (true, Some(_)) => {
                        overlay.tooltip_rect((at.0 - 7, at.1 - 7), (at.0 + 7, at.1 + 7), &tip)
                    }
                }
            }
        }
        let any_invalid = series.iter().flat_map(|s| &s.points).any(|p| !p.valid);
        if any_invalid {
            legend.add(Icon::Hollow(FAILED), "invalid run (hover for why)");
        }
        if series
            .iter()
            .flat_map(|s| &s.points)
            .any(|p| p.valid && p.value.is_none())
        {
            legend.add(Icon::Cross(GapKind::NoValue), "no value (hover for why)");
        }
        legend.draw(root, &chart)?;

        // Run labels, rotated, thinned to what fits; the newest run is always labelled.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let per_slot = (xs.end - xs.start) as f64 / runs.len().max(1) as f64;
        let every = (17.0_f64 / per_slot).ceil().max(1.0) as usize;
        let last = runs.len().saturating_sub(1);
        let style = TextStyle::new(11, RGBColor(40, 40, 40))
            .anchor("end")
            .rotate(-40);
        for (i, run) in runs.iter().enumerate() {
            let shown = (last - i).is_multiple_of(every);
            if !shown {
                continue;
            }
            let (px, _) = chart.backend_coord(&(i as f64, y0));
            let label = if run.chars().count() > LABEL_CHARS {
                run.chars().take(LABEL_CHARS - 1).collect::<String>() + "…"
            } else {
                run.to_string()
            };
            overlay.text((px + 3, ys.end + 12), &label, style, Some(run));
        }
        let label = if every > 1 {
            format!("run (oldest → newest; one label per {every} runs)")
        } else {
            "run (oldest → newest)".to_string()
        };
        let w = text_width(&label, 14.0);
        let cx = ((xs.start + xs.end) as f64 / 2.0 - w / 2.0) as i32;
        overlay.text(
            (cx.max(MARGIN as i32), SIZE.1 as i32 - MARGIN as i32),
            &label,
            TextStyle::new(14, RGBColor(0, 0, 0)),
            None,
        );
        Ok(())
    })
}
