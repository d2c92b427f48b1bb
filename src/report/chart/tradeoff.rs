//! The latency–throughput trade-off of a sweep: what the server delivers in total (output
//! tokens/s) against what one user sees (output tokens/s per user, `1000 / median TPOT`), one
//! line per input length through its concurrency levels, each point labelled `C=<n>`. Reading
//! it: up and right is better; where a line turns flat, more concurrency buys throughput only
//! by slowing every user down.

use plotters::prelude::*;

use super::super::{MEDIAN_TPOT, OUT_TPUT, Row, Spread, fmt_tokens};
use super::axis::Axis;
use super::data::{Gap, Point, SeriesKey, SweepData};
use super::frame::{self, Icon, Legend};
use super::style::{FONT, SIZE, fmt_value, series_color, text_width};
use super::{Chart, ChartOptions, file_safe};
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Per-user output speed of one repeat: tokens/s from its median time per output token.
fn per_user(r: &Row) -> Option<f64> {
    r.metric(MEDIAN_TPOT)
        .filter(|t| *t > 0.0 && t.is_finite())
        .map(|t| 1000.0 / t)
}

struct At {
    concurrency: u64,
    total: Spread,
    user: Spread,
}

fn at(p: &Point) -> Option<At> {
    Some(At {
        concurrency: p.concurrency,
        total: p.metric(OUT_TPUT)?,
        user: p.derived(per_user)?,
    })
}

/// The chart, or `None` when no point has both values.
pub fn chart(sweep: &SweepData, opts: &ChartOptions) -> anyhow::Result<Option<Chart>> {
    let lines: Vec<(SeriesKey, Vec<At>)> = sweep
        .series
        .iter()
        .map(|s| {
            let pts = sweep
                .points
                .iter()
                .filter(|p| p.series == *s)
                .filter_map(at)
                .collect();
            (*s, pts)
        })
        .collect();
    let all = || lines.iter().flat_map(|(_, p)| p);
    if all().next().is_none() {
        return Ok(None);
    }
    let x_max = all().map(|a| a.total.max).fold(0.0, f64::max);
    let y_max = all().map(|a| a.user.max).fold(0.0, f64::max);
    let x = Axis::values(0.0, x_max, "total output throughput (tokens/s)", false);
    let y = Axis::values(
        0.0,
        y_max,
        "output speed per user (tokens/s/user, 1000 / median TPOT)",
        false,
    );
    let gaps = sweep.gaps("output_throughput and median_tpot_ms", |p| at(p).is_some());
    let title = match sweep.output_len() {
        Some(o) => format!(
            "{}: throughput vs per-user speed, output {} tokens",
            sweep.name,
            fmt_tokens(o)
        ),
        None => format!("{}: throughput vs per-user speed", sweep.name),
    };
    let any_repeats = all().any(|a| a.total.n > 1);

    let svg = frame::render(SIZE, opts, |root, overlay| {
        let mut chart = frame::frame(
            root,
            &title,
            &x,
            &y,
            frame::strip_room(!gaps.is_empty()),
            true,
        )?;
        let mut legend = Legend::default();
        // Every point's pixel position and concurrency, for the labels.
        let mut marks: Vec<(i32, i32, u64)> = Vec::new();
        let label_font = (FONT, LABEL_FONT)
            .into_font()
            .color(&RGBColor(60, 60, 60))
            .pos(Pos::new(HPos::Left, VPos::Top));
        for (s, pts) in &lines {
            if pts.is_empty() {
                continue;
            }
            let color = series_color(sweep.series_index(*s));
            let xy = |a: &At| (a.total.median, a.user.median);
            let line: Vec<(f64, f64)> = pts.iter().map(xy).collect();
            frame::series(&mut chart, &line, color)?;
            legend.add(Icon::Line(color), sweep.series_label(*s));
            // Repeats: a cross of whiskers, throughput spread across, per-user spread up.
            for a in pts.iter().filter(|a| a.total.n > 1) {
                let style = color.stroke_width(1);
                chart.draw_series([
                    PathElement::new(
                        vec![(a.total.min, a.user.median), (a.total.max, a.user.median)],
                        style,
                    ),
                    PathElement::new(
                        vec![(a.total.median, a.user.min), (a.total.median, a.user.max)],
                        style,
                    ),
                ])?;
            }
            for a in pts {
                let (px, py) = chart.backend_coord(&xy(a));
                let tip = format!(
                    "{}, concurrency {}: {} tokens/s in total, {} tokens/s per user{}",
                    sweep.series_label(*s),
                    a.concurrency,
                    fmt_value(a.total.median),
                    fmt_value(a.user.median),
                    if a.total.n > 1 {
                        format!(" (median of {} repeats)", a.total.n)
                    } else {
                        String::new()
                    }
                );
                overlay.tooltip_rect((px - 7, py - 7), (px + 7, py + 7), &tip);
                marks.push((px, py, a.concurrency));
            }
        }
        for (px, py, c) in place_labels(&marks) {
            root.draw(&Text::new(format!("C={c}"), (px, py), label_font.clone()))?;
        }
        if any_repeats {
            legend.add(Icon::Whisker, "whiskers: repeats, min–max");
        }
        legend.gaps(&gaps);
        legend.draw(root, &chart)?;
        // No concurrency axis here to put the marks on: list them under the plot.
        let items: Vec<(String, &Gap)> = gaps
            .iter()
            .map(|g| {
                (
                    format!("{} C={}", sweep.series_short(g.series), g.concurrency),
                    g,
                )
            })
            .collect();
        frame::strip(overlay, SIZE, "not fully measured:", &items);
        Ok(())
    })?;
    Ok(Some(Chart {
        name: format!("{}_tradeoff.svg", file_safe(sweep.name)),
        title,
        svg,
    }))
}

/// Font size of the `C=` labels (plotters' size).
const LABEL_FONT: f64 = 14.0;

/// Where to write each point's `C=<n>` label (top-left corner, px). Lines of neighbouring
/// input lengths run close together, so: a label is left out when one with the same text is
/// already near (it names this point too — hence labels are grey, not in a series colour);
/// otherwise it goes to the first spot around its point that hits no other label or point.
fn place_labels(marks: &[(i32, i32, u64)]) -> Vec<(i32, i32, u64)> {
    let h = (LABEL_FONT / 1.24).ceil() as i32 + 2;
    let mut placed: Vec<(i32, i32, i32, i32, u64)> = Vec::new();
    let hits = |r: (i32, i32, i32, i32), placed: &[(i32, i32, i32, i32, u64)]| {
        let overlaps = |o: (i32, i32, i32, i32)| {
            r.0 < o.0 + o.2 && o.0 < r.0 + r.2 && r.1 < o.1 + o.3 && o.1 < r.1 + r.3
        };
        placed.iter().any(|p| overlaps((p.0, p.1, p.2, p.3)))
            || marks.iter().any(|m| overlaps((m.0 - 5, m.1 - 5, 10, 10)))
    };
    for &(x, y, c) in marks {
        let text = format!("C={c}");
        let near_twin = placed
            .iter()
            .any(|p| p.4 == c && (p.0 - x).abs() < 40 && ((p.1 + p.3 / 2) - y).abs() < 24);
        if near_twin {
            continue;
        }
        let w = text_width(&text, LABEL_FONT / 1.24).ceil() as i32;
        let spots = [
            (x + 7, y - h - 3),
            (x + 7, y + 4),
            (x - w - 7, y - h - 3),
            (x - w - 7, y + 4),
            (x - w / 2, y - h - 8),
            (x - w / 2, y + 8),
        ];
        let spot = spots
            .iter()
            .copied()
            .find(|s| !hits((s.0, s.1, w, h), &placed))
            .unwrap_or(spots[0]);
        placed.push((spot.0, spot.1, w, h, c));
    }
    placed.into_iter().map(|p| (p.0, p.1, p.4)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_share_between_twins_and_do_not_overlap() {
        // Two lines nearly on top of each other, levels 1 and 2; a third point far away.
        let marks = [
            (100, 100, 1),
            (104, 106, 1),
            (200, 150, 2),
            (203, 156, 2),
            (400, 300, 2),
        ];
        let placed = place_labels(&marks);
        let levels: Vec<u64> = placed.iter().map(|p| p.2).collect();
        assert_eq!(
            levels,
            [1, 2, 2],
            "one label per cluster, the far point its own"
        );
        let h = (LABEL_FONT / 1.24).ceil() as i32 + 2;
        let w = |c: u64| text_width(&format!("C={c}"), LABEL_FONT / 1.24).ceil() as i32;
        for (i, a) in placed.iter().enumerate() {
            for b in &placed[i + 1..] {
                let apart =
                    a.0 + w(a.2) <= b.0 || b.0 + w(b.2) <= a.0 || a.1 + h <= b.1 || b.1 + h <= a.1;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }
}
