//! Axes: where ticks go and how their labels read. Every chart draws on linear plotters
//! coordinates; a logarithmic axis is a linear one over `log10(value)` (so one coordinate type
//! serves all charts), with ticks placed by us — the concurrency axis has its ticks exactly at
//! the measured concurrencies, never at 0.5 or 1.5.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use super::style::{fmt_value, text_width};

/// Font size of tick labels (plotters' size: it writes `size / 1.24` px into the SVG).
pub const TICK_FONT: f64 = 15.0;

/// One axis: its range and ticks in plot space (`log10(v)` on a log axis), and its title.
#[derive(Debug, Clone)]
pub struct Axis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks, plot space.
    pub ticks: Vec<f64>,
    /// Grid lines without a label (measured values whose label would not fit), plot space.
    pub minor: Vec<f64>,
    /// The axis title, unit in parentheses.
    pub label: String,
    /// Names of the slots of a categorical axis (tick `i` is `names[i]`); empty otherwise.
    pub names: Vec<String>,
}

impl Axis {
    /// The concurrency axis: logarithmic, ticks at the measured levels (integers), thinned so
    /// neighbouring labels do not overlap on a plot `px` wide; levels without a label keep a
    /// grid line.
    pub fn concurrency(levels: &[u64], px: f64) -> Axis {
        let mut v: Vec<f64> = levels
            .iter()
            .filter(|c| **c > 0)
            .map(|c| (*c as f64).log10())
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        let (lo, hi) = match (v.first(), v.last()) {
            (Some(lo), Some(hi)) => {
                let pad = ((hi - lo) * 0.06).max(0.15);
                (lo - pad, hi + pad)
            }
            _ => (-0.3, 0.3),
        };
        let mut axis = Axis {
            log: true,
            lo,
            hi,
            ticks: Vec::new(),
            minor: Vec::new(),
            label: "max concurrency (requests, log scale)".into(),
            names: Vec::new(),
        };
        let (ticks, minor) = thin(&v, px, |p| axis.tick_label(p));
        axis.ticks = ticks;
        axis.minor = minor;
        axis
    }

    /// A value axis over `[min, max]` (data space, all values ≥ 0): logarithmic when `allow_log`
    /// and the values span 30× or more (so a 1K line is not flattened by a 96K one), else
    /// linear from 0.
    pub fn values(min: f64, max: f64, label: &str, allow_log: bool) -> Axis {
        let (min, max) = if min.is_finite() && max.is_finite() && max > 0.0 {
            (min.max(0.0), max)
        } else {
            (0.0, 1.0)
        };
        if allow_log && min > 0.0 && max / min >= 30.0 {
            let (lo, hi) = ((min / 1.25).log10(), (max * 1.25).log10());
            return Axis {
                log: true,
                lo,
                hi,
                ticks: log_ticks(lo, hi),
                minor: Vec::new(),
                label: with_note(label, "log scale"),
                names: Vec::new(),
            };
        }
        let step = nice_step(max * 1.05, 6);
        let top = (max * 1.05 / step).ceil() * step;
        let n = (top / step).round() as usize;
        Axis {
            log: false,
            lo: 0.0,
            hi: top,
            ticks: (0..=n).map(|i| i as f64 * step).collect(),
            minor: Vec::new(),
            label: label.into(),
            names: Vec::new(),
        }
    }

    /// A categorical axis: slot `i` at `i`, labelled `names[i]`.
    pub fn slots(names: Vec<String>, label: &str) -> Axis {
        Axis {
            log: false,
            lo: -0.5,
            hi: names.len().max(1) as f64 - 0.5,
            ticks: (0..names.len()).map(|i| i as f64).collect(),
            minor: Vec::new(),
            label: label.into(),
            names,
        }
    }

    /// A data value in plot space.
    pub fn at(&self, v: f64) -> f64 {
        if self.log {
            // Clamp zeros to the bottom of the axis rather than to −∞.
            if v > 0.0 { v.log10() } else { self.lo }
        } else {
            v
        }
    }

    /// The data value of a plot-space position.
    pub fn value_of(&self, p: f64) -> f64 {
        if self.log { 10f64.powf(p) } else { p }
    }

    /// The label of a tick (plot space): integers stay integers (`1`, `20`, `1000`).
    pub fn tick_label(&self, p: f64) -> String {
        if !self.names.is_empty() {
            let i = p.round();
            return (i >= 0.0)
                .then(|| self.names.get(i as usize).cloned())
                .flatten()
                .unwrap_or_default();
        }
        let v = self.value_of(p);
        if self.log && (v - v.round()).abs() < 1e-6 * v.abs().max(1.0) {
            format!("{:.0}", v.round())
        } else {
            fmt_value(v)
        }
    }

    /// The plotters coordinate: the plot range with our ticks as its key points.
    pub fn coord(&self) -> Coord {
        Coord {
            range: self.lo..self.hi,
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// A linear plotters coordinate whose grid lines and labels are exactly our ticks (plotters'
/// own `WithKeyPoints` over `f64` has no label formatter, so it cannot be meshed).
pub struct Coord {
    range: Range<f64>,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Coord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span != 0.0 {
            (v - self.range.start) / span
        } else {
            0.0
        };
        let px = (limit.1 - limit.0) as f64 * t;
        if px.is_finite() {
            limit.0 + px.round() as i32
        } else {
            limit.0
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// `what (unit)` → `what (unit, note)`: the unit stays first in the parentheses.
pub fn with_note(label: &str, note: &str) -> String {
    match label.strip_suffix(')') {
        Some(head) => format!("{head}, {note})"),
        None => format!("{label} ({note})"),
    }
}

/// Split sorted plot-space positions into labelled ticks and unlabelled grid lines so labels
/// keep apart on an axis `px` wide: keep the first, then each that clears the last kept; the
/// last level is always labelled (replacing its too-close neighbour), since the ends of a
/// ladder are what a reader looks for.
fn thin(v: &[f64], px: f64, label: impl Fn(f64) -> String) -> (Vec<f64>, Vec<f64>) {
    let Some((&first, _)) = v.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let (lo, hi) = (v[0], v[v.len() - 1]);
    let scale = if hi > lo { px * 0.88 / (hi - lo) } else { 0.0 };
    let width = |p: f64| text_width(&label(p), TICK_FONT);
    let clear = |a: f64, b: f64| (b - a) * scale >= (width(a) + width(b)) / 2.0 + 8.0;
    let mut kept = vec![first];
    for &p in &v[1..] {
        if clear(*kept.last().expect("non-empty"), p) {
            kept.push(p);
        }
    }
    let last = v[v.len() - 1];
    if *kept.last().expect("non-empty") != last {
        if kept.len() > 1 {
            kept.pop();
        }
        if kept.len() == 1 || clear(*kept.last().expect("non-empty"), last) {
            kept.push(last);
        }
    }
    let minor = v.iter().copied().filter(|p| !kept.contains(p)).collect();
    (kept, minor)
}

/// A round step giving about `target` intervals over `span`: 1, 2, 2.5 or 5 × 10^k.
pub fn nice_step(span: f64, target: usize) -> f64 {
    if span.is_nan() || span <= 0.0 {
        return 1.0;
    }
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Ticks of a log axis (plot space): the densest of 1-2-5, 1-3, 1 per decade that gives at
/// most 10 labels.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    for digits in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
        let mut out = Vec::new();
        let mut k = lo.floor() as i32;
        while (k as f64) <= hi {
            for d in digits {
                let p = (d * 10f64.powi(k)).log10();
                if p >= lo && p <= hi {
                    out.push(p);
                }
            }
            k += 1;
        }
        if out.len() <= 10 {
            return out;
        }
    }
    vec![lo, hi]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(a: &Axis) -> Vec<String> {
        a.ticks.iter().map(|p| a.tick_label(*p)).collect()
    }

    #[test]
    fn concurrency_ticks_are_the_measured_levels() {
        let a = Axis::concurrency(&[20, 1, 2, 5, 10, 5], 780.0);
        assert!(a.log);
        assert_eq!(labels(&a), ["1", "2", "5", "10", "20"]);
        assert!(a.minor.is_empty());
        assert!(a.lo < 0.0 && a.hi > 20f64.log10());
        let one = Axis::concurrency(&[4], 780.0);
        assert_eq!(labels(&one), ["4"]);
        assert!(one.lo < one.hi);
    }

    #[test]
    fn crowded_concurrency_labels_are_thinned_but_keep_the_ends() {
        let levels: Vec<u64> = (1..=200).collect();
        let a = Axis::concurrency(&levels, 780.0);
        let l = labels(&a);
        assert_eq!(l.first().map(String::as_str), Some("1"));
        assert_eq!(l.last().map(String::as_str), Some("200"));
        assert!(l.len() < 40, "{l:?}");
        // Every level still has a grid line.
        assert_eq!(a.ticks.len() + a.minor.len(), 200);
        // Labels never overlap: neighbours are at least their half-widths apart.
        let px = 780.0 * 0.88 / (a.ticks[a.ticks.len() - 1] - a.ticks[0]);
        for w in a.ticks.windows(2) {
            let need = (text_width(&a.tick_label(w[0]), TICK_FONT)
                + text_width(&a.tick_label(w[1]), TICK_FONT))
                / 2.0;
            assert!((w[1] - w[0]) * px >= need, "{l:?}");
        }
    }

    #[test]
    fn value_axes_linear_or_log() {
        let lin = Axis::values(2.0, 9.0, "TPOT (ms)", true);
        assert!(!lin.log);
        assert_eq!(lin.lo, 0.0);
        assert!(lin.hi >= 9.0);
        assert_eq!(labels(&lin).first().map(String::as_str), Some("0"));
        let log = Axis::values(40.0, 20000.0, "TTFT (ms)", true);
        assert!(log.log);
        assert_eq!(log.label, "TTFT (ms, log scale)");
        assert_eq!(
            labels(&log),
            [
                "50", "100", "200", "500", "1000", "2000", "5000", "10000", "20000"
            ]
        );
        assert!(!Axis::values(40.0, 20000.0, "x (ms)", false).log);
    }
}
