//! The walk of an SLO search as a chart: x = the load level probed (concurrency or request
//! rate, log scale), y = each limited p99 latency as a share of its limit, so a TTFT limit of
//! 2 s and a TPOT limit of 50 ms read on one axis where 100 % is the line not to cross. Every
//! probe is a dot numbered in the order the search ran it (the exponential climb, then the
//! bisection, then the boundary repeats); a probe that missed the SLO for a reason other than
//! latency (failed requests, a failed point) is a hollow red circle on the 100 % line. The
//! capacity found is a vertical line. Hover a dot for its values in ms.

use plotters::prelude::*;

use super::ChartOptions;
use super::axis::Axis;
use super::frame::{self, Icon, Legend, plot_width};
use super::overlay::TextStyle;
use super::style::{FAILED, fmt_value, series_color};

/// One latency the SLO limits.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkLimit {
    /// `p99 TTFT`.
    pub name: String,
    pub limit_ms: f64,
}

/// One probe of the walk, in the order the search ran it.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkProbe {
    pub level: f64,
    /// The measured p99 of each limit, in the order of the limits (ms).
    pub values: Vec<Option<f64>>,
    pub meets: bool,
    /// Why it did not meet the SLO.
    pub reason: Option<String>,
}

const SIZE: (u32, u32) = (1000, 520);

/// The walk chart as SVG text. `x_label` names the level with its unit.
pub fn walk_svg(
    title: &str,
    x_label: &str,
    limits: &[WalkLimit],
    probes: &[WalkProbe],
    capacity: Option<f64>,
    opts: &ChartOptions,
) -> String {
    match render(title, x_label, limits, probes, capacity, opts) {
        Ok(svg) => svg,
        Err(e) => frame::unrenderable(SIZE, title, &e),
    }
}

/// A probe's value of limit `i` as a percentage of the limit.
fn share(p: &WalkProbe, i: usize, limit: &WalkLimit) -> Option<f64> {
    let v = p.values.get(i).copied().flatten()?;
    (v.is_finite() && limit.limit_ms > 0.0).then(|| 100.0 * v / limit.limit_ms)
}

fn render(
    title: &str,
    x_label: &str,
    limits: &[WalkLimit],
    probes: &[WalkProbe],
    capacity: Option<f64>,
    opts: &ChartOptions,
) -> anyhow::Result<String> {
    let levels: Vec<f64> = probes
        .iter()
        .map(|p| p.level)
        .filter(|l| l.is_finite() && *l > 0.0)
        .collect();
    let integral = levels.iter().all(|l| l.fract() == 0.0);
    let mut x = if integral {
        Axis::concurrency(
            &levels.iter().map(|l| *l as u64).collect::<Vec<_>>(),
            plot_width(SIZE.0),
        )
    } else {
        let lo = levels.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = levels.iter().copied().fold(0.0, f64::max);
        Axis::values(lo, hi, x_label, true)
    };
    x.label = x_label.to_string();
    // At least up to 150 % so the 100 % line never sits on the top edge.
    let top = probes
        .iter()
        .flat_map(|p| {
            limits
                .iter()
                .enumerate()
                .filter_map(|(i, l)| share(p, i, l))
        })
        .fold(150.0, f64::max);
    let y = Axis::values(0.0, top, "p99 latency (% of its SLO limit)", false);

    frame::render(SIZE, opts, |root, overlay| {
        let mut chart = frame::frame(root, title, &x, &y, 0, true)?;
        let mut legend = Legend::default();
        // The limit: 100 %.
        chart.draw_series(LineSeries::new(
            [(x.lo, 100.0), (x.hi, 100.0)],
            RGBColor(0, 0, 0).stroke_width(1),
        ))?;
        legend.add(Icon::Bar, "SLO limit (100 %)");
        for (i, limit) in limits.iter().enumerate() {
            let color = series_color(i);
            // The line joins the worst probe of each level, in level order: the curve.
            let mut curve: Vec<(f64, f64)> = Vec::new();
            for p in probes {
                if let Some(v) = share(p, i, limit) {
                    let at = x.at(p.level);
                    match curve.iter_mut().find(|(l, _)| *l == at) {
                        Some(c) => c.1 = c.1.max(v),
                        None => curve.push((at, v)),
                    }
                }
            }
            curve.sort_by(|a, b| a.0.total_cmp(&b.0));
            frame::series(&mut chart, &curve, color)?;
            legend.add(
                Icon::Line(color),
                format!("{} (limit {} ms)", limit.name, fmt_value(limit.limit_ms)),
            );
        }
        // Each probe: numbered in walk order, with its values in the tooltip.
        let label = TextStyle::new(12, RGBColor(40, 40, 40)).anchor("middle");
        for (n, p) in probes.iter().enumerate() {
            let shares: Vec<f64> = limits
                .iter()
                .enumerate()
                .filter_map(|(i, l)| share(p, i, l))
                .collect();
            let values = limits
                .iter()
                .zip(&p.values)
                .map(|(l, v)| format!("{} {}", l.name, v.map_or("—".into(), fmt_value)))
                .collect::<Vec<_>>()
                .join(", ");
            let verdict = if p.meets {
                "meets".to_string()
            } else {
                format!("misses: {}", p.reason.as_deref().unwrap_or("the SLO"))
            };
            let tip = format!(
                "#{} at {}: {values} ms; {verdict}",
                n + 1,
                fmt_value(p.level)
            );
            let worst = shares.iter().copied().fold(f64::NAN, f64::max);
            let at_y = if worst.is_nan() { 100.0 } else { worst };
            let at = chart.backend_coord(&(x.at(p.level), at_y));
            if worst.is_nan() {
                overlay.hollow_mark(at, FAILED, &tip);
            } else {
                overlay.tooltip_rect((at.0 - 7, at.1 - 7), (at.0 + 7, at.1 + 7), &tip);
            }
            overlay.text((at.0, at.1 - 10), &format!("#{}", n + 1), label, Some(&tip));
        }
        if probes.iter().any(|p| p.values.iter().all(Option::is_none)) {
            legend.add(Icon::Hollow(FAILED), "no latency (hover for why)");
        }
        if let Some(c) = capacity.filter(|c| *c > 0.0) {
            let cx = x.at(c);
            chart.draw_series(LineSeries::new(
                [(cx, y.lo), (cx, y.hi)],
                RGBColor(0, 114, 178).stroke_width(1),
            ))?;
            let top = chart.backend_coord(&(cx, y.hi));
            overlay.text(
                (top.0 + 4, top.1 + 14),
                &format!("capacity {}", fmt_value(c)),
                TextStyle::new(13, RGBColor(0, 90, 140)),
                None,
            );
        }
        legend.draw(root, &chart)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(level: f64, ttft: Option<f64>, meets: bool) -> WalkProbe {
        WalkProbe {
            level,
            values: vec![ttft],
            meets,
            reason: (!meets).then(|| "p99 TTFT over".to_string()),
        }
    }

    #[test]
    fn probes_are_numbered_in_walk_order_and_the_capacity_is_marked() {
        let limits = [WalkLimit {
            name: "p99 TTFT".into(),
            limit_ms: 200.0,
        }];
        // Climb 1, 2, 4, 8 (miss), then bisect 6 (meets), 7 (miss).
        let walk = [
            probe(1.0, Some(50.0), true),
            probe(2.0, Some(80.0), true),
            probe(4.0, Some(150.0), true),
            probe(8.0, Some(400.0), false),
            probe(6.0, Some(190.0), true),
            probe(7.0, None, false),
        ];
        let svg = walk_svg(
            "walk",
            "max concurrency",
            &limits,
            &walk,
            Some(6.0),
            &ChartOptions { standin: true },
        );
        if let Some(d) = std::env::var_os("VBT_DUMP") {
            std::fs::write(std::path::Path::new(&d).join("slo_walk.svg"), &svg).expect("dump");
        }
        for n in 1..=6 {
            assert!(
                svg.contains(&format!(">#{n}<")),
                "probe #{n} labelled: {svg}"
            );
        }
        assert!(svg.contains("#4 at 8: p99 TTFT 400 ms; misses: p99 TTFT over"));
        assert!(svg.contains("capacity 6"));
        // 400 ms against 200 ms: the y axis reaches 200 %.
        assert!(svg.contains(">\n200\n</text>"), "{svg}");
        // The probe without a latency is a hollow mark, and the legend says why.
        assert!(svg.contains("no latency (hover for why)"));
        assert!(svg.contains("CPU stand-in"));
    }

    #[test]
    fn fractional_rates_get_a_value_axis_and_no_capacity_line_when_none_met() {
        let limits = [
            WalkLimit {
                name: "p99 TTFT".into(),
                limit_ms: 100.0,
            },
            WalkLimit {
                name: "p99 TPOT".into(),
                limit_ms: 10.0,
            },
        ];
        let walk = [WalkProbe {
            level: 0.5,
            values: vec![Some(300.0), Some(12.0)],
            meets: false,
            reason: Some("p99 TTFT 300 ms > 100 ms".into()),
        }];
        let svg = walk_svg(
            "w",
            "request rate (req/s)",
            &limits,
            &walk,
            Some(0.0),
            &ChartOptions::default(),
        );
        assert!(svg.contains("request rate (req/s)"));
        assert!(svg.contains("p99 TPOT (limit 10 ms)"));
        assert!(!svg.contains("capacity"));
        assert!(!svg.contains("CPU stand-in"));
    }
}
