//! The points of one sweep as the charts need them: rows grouped into points (the repeats of a
//! point together, see [`super::super::group`]), the series they belong to (an input length,
//! and the output length when a sweep has several), and — for each chart — the points that
//! have no value to draw, with why, so none is dropped silently.

use super::super::{Group, Metric, Row, Spread, fmt_tokens, group};
use super::overlay::GapKind;

/// A line of a chart: one input length (and output length) — or, comparing runs, one
/// variant (a matrix combination) at one input length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Index into `SweepData::variants` (0 when the chart shows a single run).
    pub variant: usize,
    pub input_len: u64,
    pub output_len: u64,
}

/// One point (all its repeats) of a sweep.
pub struct Point<'a> {
    pub series: SeriesKey,
    pub concurrency: u64,
    pub group: Group<'a>,
}

impl Point<'_> {
    /// A metric over the `ok` repeats: median, min and max.
    pub fn metric(&self, m: Metric) -> Option<Spread> {
        self.group.metric(m)
    }

    /// A value derived from each `ok` repeat (e.g. `1000 / TPOT`), over the repeats.
    pub fn derived(&self, f: impl Fn(&Row) -> Option<f64>) -> Option<Spread> {
        let v: Vec<f64> = self.group.ok().filter_map(f).collect();
        Spread::of(&v)
    }

    fn ok_count(&self) -> usize {
        self.group.ok().count()
    }
}

/// A sweep's points and the axes they span.
pub struct SweepData<'a> {
    pub name: &'a str,
    /// Sorted by series, then concurrency.
    pub points: Vec<Point<'a>>,
    /// Sorted.
    pub series: Vec<SeriesKey>,
    /// Every concurrency of the sweep, measured or not, sorted.
    pub concurrencies: Vec<u64>,
    /// The sweep has more than one output length, so labels must say which.
    pub multi_output: bool,
    /// The runs compared, one line each (empty: one run, one line per input length).
    pub variants: Vec<String>,
}

impl<'a> SweepData<'a> {
    /// The sweeps of `rows`, in first-seen order.
    pub fn of(rows: &'a [Row]) -> Vec<SweepData<'a>> {
        let mut names: Vec<&str> = Vec::new();
        for r in rows {
            if !names.contains(&r.sweep.as_str()) {
                names.push(&r.sweep);
            }
        }
        let groups = group(rows);
        names
            .into_iter()
            .map(|name| {
                let points: Vec<Point<'a>> = groups
                    .iter()
                    .filter(|g| g.key.sweep == name)
                    .map(|g| Point {
                        series: SeriesKey {
                            variant: 0,
                            input_len: g.key.input_len,
                            output_len: g.key.output_len,
                        },
                        concurrency: g.key.concurrency,
                        group: g.clone(),
                    })
                    .collect();
                Self::from_points(name, points, vec![])
            })
            .collect()
    }

    /// One chart's data comparing runs: the points of sweep `sweep` at `input_len` in each
    /// named run, one line per run (a matrix's combinations).
    pub fn of_variants(
        name: &'a str,
        sweep: &str,
        input_len: u64,
        runs: &'a [(String, Vec<Row>)],
    ) -> SweepData<'a> {
        let mut points = Vec::new();
        for (i, (_, rows)) in runs.iter().enumerate() {
            points.extend(
                group(rows)
                    .into_iter()
                    .filter(|g| g.key.sweep == sweep && g.key.input_len == input_len)
                    .map(|g| Point {
                        series: SeriesKey {
                            variant: i,
                            input_len: g.key.input_len,
                            output_len: g.key.output_len,
                        },
                        concurrency: g.key.concurrency,
                        group: g,
                    }),
            );
        }
        let variants = runs.iter().map(|(n, _)| n.clone()).collect();
        Self::from_points(name, points, variants)
    }

    fn from_points(name: &'a str, mut points: Vec<Point<'a>>, variants: Vec<String>) -> Self {
        points.sort_by_key(|p| (p.series, p.concurrency));
        let mut series: Vec<SeriesKey> = points.iter().map(|p| p.series).collect();
        series.dedup();
        let mut concurrencies: Vec<u64> = points.iter().map(|p| p.concurrency).collect();
        concurrencies.sort_unstable();
        concurrencies.dedup();
        let mut outputs: Vec<u64> = series.iter().map(|s| s.output_len).collect();
        outputs.sort_unstable();
        outputs.dedup();
        SweepData {
            name,
            points,
            series,
            concurrencies,
            multi_output: outputs.len() > 1,
            variants,
        }
    }

    /// Whether any point has an `ok` repeat: a sweep without one gets no charts (its table
    /// rows say why every point failed; a chart of nothing but ✕ marks would add nothing).
    pub fn has_ok(&self) -> bool {
        self.points.iter().any(|p| p.ok_count() > 0)
    }

    /// A series' name in legends: `input 1K`, or `input 1K → 500` when output lengths differ.
    pub fn series_label(&self, s: SeriesKey) -> String {
        if let Some(v) = self.variants.get(s.variant) {
            return if self.multi_output {
                format!("{v} → {}", fmt_tokens(s.output_len))
            } else {
                v.clone()
            };
        }
        if self.multi_output {
            format!(
                "input {} → {}",
                fmt_tokens(s.input_len),
                fmt_tokens(s.output_len)
            )
        } else {
            format!("input {}", fmt_tokens(s.input_len))
        }
    }

    /// The short name of a series (`8K`) for labels next to marks.
    pub fn series_short(&self, s: SeriesKey) -> String {
        if let Some(v) = self.variants.get(s.variant) {
            return v.clone();
        }
        if self.multi_output {
            format!("{}→{}", fmt_tokens(s.input_len), fmt_tokens(s.output_len))
        } else {
            fmt_tokens(s.input_len)
        }
    }

    /// The output length, when the sweep has one (for titles).
    pub fn output_len(&self) -> Option<u64> {
        match self.series.first() {
            Some(s) if !self.multi_output => Some(s.output_len),
            _ => None,
        }
    }

    /// The index of a series (its colour).
    pub fn series_index(&self, s: SeriesKey) -> usize {
        self.series.iter().position(|k| *k == s).unwrap_or(0)
    }

    /// The points of a chart that cannot be drawn, or not fully: every point without an `ok`
    /// repeat, every `ok` point for which `has_value` is false (`what` names the value), and
    /// every point some of whose repeats did not pass.
    pub fn gaps(&self, what: &str, has_value: impl Fn(&Point) -> bool) -> Vec<Gap> {
        let mut out = Vec::new();
        for p in &self.points {
            let ok = p.ok_count();
            let total = p.group.rows.len();
            let head = format!(
                "{}, concurrency {}",
                self.series_label(p.series),
                p.concurrency
            );
            let why = reasons(&p.group);
            let kind = if p.group.rows.iter().any(|r| r.status == "failed") {
                GapKind::Failed
            } else {
                GapKind::NotRun
            };
            if ok == 0 {
                let status = p.group.status();
                let note = if total > 1 {
                    format!("{head}: {status} (all {total} repeats){why}")
                } else {
                    format!("{head}: {status}{why}")
                };
                out.push(Gap::new(p, kind, status, note));
            } else if !has_value(p) {
                out.push(Gap::new(
                    p,
                    GapKind::NoValue,
                    "no value",
                    format!("{head}: the result has no {what}"),
                ));
            } else if ok < total {
                let status = p.group.status();
                let note = format!("{head}: {} of {total} repeats {status}{why}", total - ok);
                out.push(Gap::new(p, kind, status, note));
            }
        }
        out
    }
}

/// ` — reason; reason`, or nothing when no reason is known.
fn reasons(g: &Group) -> String {
    let r = g.reasons();
    if r.is_empty() {
        String::new()
    } else {
        let mut s = r.join("; ");
        // A tooltip is not a log: keep it to a readable size.
        if s.chars().count() > 400 {
            s = s.chars().take(400).collect::<String>() + "…";
        }
        format!(" — {s}")
    }
}

/// A point a chart cannot draw (or draws from fewer repeats than were run).
#[derive(Debug, Clone)]
pub struct Gap {
    pub series: SeriesKey,
    pub concurrency: u64,
    pub kind: GapKind,
    /// One word for cells (`failed`, `skipped`, `no value`).
    pub word: String,
    /// The full tooltip: which point, its status, why.
    pub note: String,
}

impl Gap {
    fn new(p: &Point, kind: GapKind, word: &str, note: String) -> Gap {
        Gap {
            series: p.series,
            concurrency: p.concurrency,
            kind,
            word: word.into(),
            note,
        }
    }
}
