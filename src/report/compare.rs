//! Comparison of a run against an earlier one (the baseline): points aligned on
//! (sweep, input length, output length, concurrency), a ratio per metric, and regressions
//! flagged beyond a threshold.
//!
//! The ratio is defined so that **above 1 is always better** for the current run:
//! throughput `current / baseline`, latency `baseline / current`. A metric regresses when its
//! ratio is below `1 − threshold` and improves when above `1 + threshold` (default 10%). A point
//! that was `ok` in the baseline and `failed` now is a regression too.

use super::markdown::escape;
use super::{
    MEAN_E2EL, MEAN_TPOT, MEAN_TTFT, Metric, OUT_TPUT, P99_TPOT, P99_TTFT, REQ_TPUT, Row, fmt_num,
    fmt_tokens,
};

/// Default regression threshold: 10%.
pub const DEFAULT_THRESHOLD: f64 = 0.10;

/// Metrics compared, in column order.
pub const COMPARE_METRICS: &[Metric] = &[
    OUT_TPUT, REQ_TPUT, MEAN_TTFT, P99_TTFT, MEAN_TPOT, P99_TPOT, MEAN_E2EL,
];

/// One metric of one point in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDelta {
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Above 1 = current better (see module doc); `None` unless both values are positive and finite.
    pub ratio: Option<f64>,
    pub regression: bool,
    pub improvement: bool,
}

/// One sweep point in both runs. A status is `None` when the point is absent from that run.
#[derive(Debug, Clone, PartialEq)]
pub struct PointComparison {
    pub sweep: String,
    pub input_len: u64,
    pub output_len: u64,
    pub concurrency: u64,
    pub baseline_status: Option<String>,
    pub current_status: Option<String>,
    /// `ok` in the baseline, `failed` now.
    pub status_regression: bool,
    pub metrics: Vec<MetricDelta>,
}

impl PointComparison {
    /// True if the point or any of its metrics regressed.
    pub fn regressed(&self) -> bool {
        self.status_regression || self.metrics.iter().any(|m| m.regression)
    }

    /// `production input 1K output 500 conc 5`.
    pub fn label(&self) -> String {
        format!(
            "{} input {} output {} conc {}",
            self.sweep,
            fmt_tokens(self.input_len),
            fmt_tokens(self.output_len),
            self.concurrency
        )
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Relative change that counts as a regression or improvement (0.10 = 10%).
    pub threshold: f64,
    /// Every point of either run: current run's order first, then baseline-only points.
    pub points: Vec<PointComparison>,
}

impl Comparison {
    /// Points present in both runs.
    pub fn matched(&self) -> usize {
        self.points
            .iter()
            .filter(|p| p.baseline_status.is_some() && p.current_status.is_some())
            .count()
    }

    /// Every regression: (point, `Some(metric)`) or (point, `None`) for a point that now fails.
    pub fn regressions(&self) -> Vec<(&PointComparison, Option<&MetricDelta>)> {
        let mut out = Vec::new();
        for p in &self.points {
            if p.status_regression {
                out.push((p, None));
            }
            out.extend(
                p.metrics
                    .iter()
                    .filter(|m| m.regression)
                    .map(|m| (p, Some(m))),
            );
        }
        out
    }

    pub fn improvements(&self) -> Vec<(&PointComparison, &MetricDelta)> {
        self.points
            .iter()
            .flat_map(|p| {
                p.metrics
                    .iter()
                    .filter(|m| m.improvement)
                    .map(move |m| (p, m))
            })
            .collect()
    }

    pub fn has_regressions(&self) -> bool {
        self.points.iter().any(PointComparison::regressed)
    }

    /// One sentence: `2 regressions, 1 improvement over 6 matched points (0 only in this
    /// run, 1 only in the baseline).`
    pub fn headline(&self) -> String {
        let (regs, imps) = (self.regressions().len(), self.improvements().len());
        let only_cur = self
            .points
            .iter()
            .filter(|p| p.baseline_status.is_none())
            .count();
        let only_base = self
            .points
            .iter()
            .filter(|p| p.current_status.is_none())
            .count();
        format!(
            "{regs} regression{}, {imps} improvement{} over {} matched point{} ({only_cur} only in this run, {only_base} only in the baseline).",
            plural(regs),
            plural(imps),
            self.matched(),
            plural(self.matched()),
        )
    }
}

/// Compare with the default threshold (10%).
pub fn compare(current: &[Row], baseline: &[Row]) -> Comparison {
    compare_with(current, baseline, DEFAULT_THRESHOLD)
}

type Key<'a> = (&'a str, u64, u64, u64);

fn key(r: &Row) -> Key<'_> {
    (&r.sweep, r.input_len, r.output_len, r.concurrency)
}

/// The row that represents a point when a run holds several (a retried point): the last `ok`
/// one, else the last one.
fn pick<'a>(rows: &'a [Row], k: Key<'_>) -> Option<&'a Row> {
    let mut same = rows.iter().filter(|r| key(r) == k);
    let last = same.clone().next_back();
    same.rfind(|r| r.status == "ok").or(last)
}

/// Compare with an explicit threshold (e.g. 0.05 for 5%).
pub fn compare_with(current: &[Row], baseline: &[Row], threshold: f64) -> Comparison {
    let mut keys: Vec<Key<'_>> = Vec::new();
    for r in current.iter().chain(baseline) {
        if !keys.contains(&key(r)) {
            keys.push(key(r));
        }
    }
    let points = keys
        .into_iter()
        .map(|k| {
            let (b, c) = (pick(baseline, k), pick(current, k));
            // Values only from points that passed: a failed point's zeros are not a speed.
            fn ok(r: Option<&Row>) -> Option<&Row> {
                r.filter(|r| r.status == "ok")
            }
            let metrics = COMPARE_METRICS
                .iter()
                .map(|m| {
                    let bv = ok(b).and_then(|r| r.metric(*m));
                    let cv = ok(c).and_then(|r| r.metric(*m));
                    delta(*m, bv, cv, threshold)
                })
                .collect();
            PointComparison {
                sweep: k.0.to_string(),
                input_len: k.1,
                output_len: k.2,
                concurrency: k.3,
                baseline_status: b.map(|r| r.status.clone()),
                current_status: c.map(|r| r.status.clone()),
                status_regression: b.is_some_and(|r| r.status == "ok")
                    && c.is_some_and(|r| r.status == "failed"),
                metrics,
            }
        })
        .collect();
    Comparison { threshold, points }
}

fn delta(
    metric: Metric,
    baseline: Option<f64>,
    current: Option<f64>,
    threshold: f64,
) -> MetricDelta {
    let usable = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0);
    let ratio = match (usable(baseline), usable(current)) {
        (Some(b), Some(c)) => Some(if metric.higher_is_better {
            c / b
        } else {
            b / c
        }),
        _ => None,
    };
    MetricDelta {
        metric,
        baseline,
        current,
        ratio,
        regression: ratio.is_some_and(|r| r < 1.0 - threshold),
        improvement: ratio.is_some_and(|r| r > 1.0 + threshold),
    }
}

/// Markdown: summary, list of regressions, list of improvements, then every point.
pub fn render_comparison(c: &Comparison, baseline_name: &str) -> String {
    let pct = c.threshold * 100.0;
    let mut out = format!(
        "# Comparison with `{}`\n\n",
        baseline_name.replace('`', "'")
    );
    out.push_str(&format!(
        "Ratio: how many times better this run is — throughput `current / baseline`, latency \
         `baseline / current`. Below {:.2}× ({pct:.0}% worse) is a regression ⚠, above {:.2}× an improvement ↑.\n\n",
        1.0 - c.threshold,
        1.0 + c.threshold
    ));
    let (regs, imps) = (c.regressions(), c.improvements());
    // The count of regressions in bold: the first thing a reader looks for.
    let headline = c.headline();
    let (count, rest) = headline.split_once(',').unwrap_or((&headline, ""));
    out.push_str(&format!("**{count}**,{rest}\n"));

    if !regs.is_empty() {
        out.push_str("\n## Regressions\n\n");
        for (p, m) in &regs {
            match m {
                None => out.push_str(&format!(
                    "- {}: now failed (was {})\n",
                    p.label(),
                    p.baseline_status.as_deref().unwrap_or("-")
                )),
                Some(m) => out.push_str(&format!(
                    "- {}: {} {}\n",
                    p.label(),
                    m.metric.header,
                    change(m)
                )),
            }
        }
    }
    if !imps.is_empty() {
        out.push_str("\n## Improvements\n\n");
        for (p, m) in &imps {
            out.push_str(&format!(
                "- {}: {} {}\n",
                p.label(),
                m.metric.header,
                change(m)
            ));
        }
    }

    out.push_str("\n## All points\n\n");
    let mut header = vec!["sweep", "input", "output", "conc", "status"];
    header.extend(COMPARE_METRICS.iter().map(|m| m.header));
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if matches!(i, 0 | 4) { ":--" } else { "--:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for p in &c.points {
        let status = match (&p.baseline_status, &p.current_status) {
            (Some(b), Some(n)) if b == n => n.clone(),
            (Some(b), Some(n)) => {
                format!("{b} → {n}{}", if p.status_regression { " ⚠" } else { "" })
            }
            (None, Some(n)) => format!("{n} (new)"),
            (Some(b), None) => format!("{b} (not in this run)"),
            (None, None) => "-".into(),
        };
        let mut cells = vec![
            escape(&p.sweep),
            fmt_tokens(p.input_len),
            fmt_tokens(p.output_len),
            p.concurrency.to_string(),
            status,
        ];
        cells.extend(p.metrics.iter().map(change));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// `48.4 → 60.5 (0.80× ⚠)`.
fn change(m: &MetricDelta) -> String {
    if m.baseline.is_none() && m.current.is_none() {
        return "-".into();
    }
    let mut s = format!("{} → {}", fmt_num(m.baseline), fmt_num(m.current));
    if let Some(r) = m.ratio {
        let flag = if m.regression {
            " ⚠"
        } else if m.improvement {
            " ↑"
        } else {
            ""
        };
        s.push_str(&format!(" ({r:.2}×{flag})"));
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
