//! What each SLO search of a run found: the capacity, the curve it walked (every probe in
//! order, with its p99 latencies, vLLM's goodput and whether it met the SLO), as the
//! `slo_result` event, as `slo.md` / `slo.json` in the run directory, and as a chart of the walk
//! (`charts/slo_<sweep>_<input>.svg`).

use std::path::Path;

use serde::Serialize;

use super::probe::{self, level_label};
use super::search::{self, Found, Next};
use crate::config::SloBy;
use crate::events::{Event, Sink};
use crate::report::{ChartOptions, WalkLimit, WalkProbe};
use crate::sweep::manifest::{Manifest, PointStatus};

/// One probe of a search, as walked.
#[derive(Debug, Clone, Serialize)]
pub struct SloProbe {
    pub id: String,
    pub level: f64,
    /// Which run of this level it was (boundary repeats).
    pub repeat: u32,
    pub status: String,
    /// Every limit held.
    pub meets: bool,
    /// Why not, when it did not.
    pub reason: Option<String>,
    pub p99_ttft_ms: Option<f64>,
    pub p99_tpot_ms: Option<f64>,
    pub p99_e2el_ms: Option<f64>,
    /// vLLM's `request_goodput`: requests per second that met every limit (`--goodput`).
    pub request_goodput: Option<f64>,
    pub request_throughput: Option<f64>,
    pub output_throughput: Option<f64>,
}

/// One search: its SLO, its outcome and its walk.
#[derive(Debug, Clone, Serialize)]
pub struct SloSearch {
    pub run_id: String,
    pub sweep: String,
    pub input_len: u64,
    pub output_len: u64,
    /// `concurrency` or `rate`.
    pub by: String,
    pub ttft_p99_ms: Option<u64>,
    pub tpot_p99_ms: Option<u64>,
    pub e2el_p99_ms: Option<u64>,
    /// The highest level that met the SLO (0: none); `None` while the search is unfinished
    /// or when it could not run (skipped).
    pub capacity: Option<f64>,
    pub first_miss: Option<f64>,
    pub converged: bool,
    pub note: String,
    /// Measured on the CPU stand-in (never a GPU measurement).
    pub standin: bool,
    pub points: Vec<SloProbe>,
}

/// The searches of `m` as they stand.
pub fn searches(m: &Manifest, results_dir: &Path) -> Vec<SloSearch> {
    let mut out = Vec::new();
    for (name, s, slo) in super::searches_of(m) {
        for &input_len in &s.input_lens {
            let mut points = Vec::new();
            for r in probe::points_of(m, name, input_len) {
                let res = probe::result_of(r, results_dir);
                let (meets, why) = probe::judge(r, slo, res.as_ref());
                let get = |k: &str| res.as_ref().and_then(|x| x.get_f64(k));
                points.push(SloProbe {
                    id: r.point.id.clone(),
                    level: probe::level_of(&r.point, slo),
                    repeat: r.point.repeat,
                    status: r.status.as_str().to_string(),
                    meets,
                    reason: (!meets).then_some(why),
                    p99_ttft_ms: get("p99_ttft_ms"),
                    p99_tpot_ms: get("p99_tpot_ms"),
                    p99_e2el_ms: get("p99_e2el_ms"),
                    request_goodput: res.as_ref().and_then(|x| x.request_goodput()),
                    request_throughput: get("request_throughput"),
                    output_throughput: get("output_throughput"),
                });
            }
            let skipped = points.iter().any(|p| p.status == "skipped");
            let obs = probe::observations(m, name, input_len, slo, results_dir);
            let all_done = probe::points_of(m, name, input_len).all(|r| r.status.done());
            let (capacity, first_miss, converged, note) = if skipped {
                let why = probe::points_of(m, name, input_len)
                    .find(|r| r.status == PointStatus::Skipped)
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_default();
                (None, None, false, format!("not searched: {why}"))
            } else {
                match search::next(slo, &obs) {
                    Next::Done(Found {
                        capacity,
                        first_miss,
                        converged,
                        note,
                    }) if all_done => (Some(capacity), first_miss, converged, note),
                    _ => (
                        None,
                        None,
                        false,
                        "unfinished: the run stopped before the search ended (`vbench run --resume` continues it)".into(),
                    ),
                }
            };
            out.push(SloSearch {
                run_id: m.run_id.clone(),
                sweep: name.to_string(),
                input_len,
                output_len: s.output_len,
                by: slo.by.as_str().to_string(),
                ttft_p99_ms: slo.ttft_p99,
                tpot_p99_ms: slo.tpot_p99,
                e2el_p99_ms: slo.e2el_p99,
                capacity,
                first_miss,
                converged,
                note,
                standin: m.standin,
                points,
            });
        }
    }
    out
}

/// Reads one p99 of a probe.
type Metric = fn(&SloProbe) -> Option<f64>;

impl SloSearch {
    /// `p99 TTFT ≤ 2000 ms, p99 TPOT ≤ 50 ms`.
    pub fn limits(&self) -> String {
        [
            ("p99 TTFT", self.ttft_p99_ms),
            ("p99 TPOT", self.tpot_p99_ms),
            ("p99 E2EL", self.e2el_p99_ms),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} ≤ {v} ms")))
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn unit(&self) -> &'static str {
        if self.by == SloBy::Rate.as_str() {
            " req/s"
        } else {
            ""
        }
    }

    /// One line: what was found.
    pub fn headline(&self) -> String {
        let what = if self.by == SloBy::Rate.as_str() {
            "request rate"
        } else {
            "concurrency"
        };
        let head = format!(
            "SLO search {} (input {}, output {}; {})",
            self.sweep,
            crate::report::fmt_tokens(self.input_len),
            crate::report::fmt_tokens(self.output_len),
            self.limits()
        );
        match self.capacity {
            Some(c) if c > 0.0 => format!(
                "{head}: capacity {what} {}{} in {} point(s){} — {}",
                level_label(c),
                self.unit(),
                self.points.len(),
                if self.converged {
                    ""
                } else {
                    " (not converged)"
                },
                self.note
            ),
            Some(_) => format!(
                "{head}: capacity 0 — {} ({} point(s))",
                self.note,
                self.points.len()
            ),
            None => format!("{head}: {}", self.note),
        }
    }

    /// The chart file of this search's walk, relative to the run directory.
    pub fn chart_name(&self) -> String {
        let sweep: String = self
            .sweep
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("charts/slo_{sweep}_{}.svg", self.input_len)
    }

    /// The walk as a chart: each limited p99 as a share of its limit against the level, each
    /// probe numbered in the order it ran, the capacity marked.
    pub fn walk_svg(&self) -> String {
        let limits: Vec<(&str, Option<u64>, Metric)> = vec![
            ("p99 TTFT", self.ttft_p99_ms, |p| p.p99_ttft_ms),
            ("p99 TPOT", self.tpot_p99_ms, |p| p.p99_tpot_ms),
            ("p99 E2EL", self.e2el_p99_ms, |p| p.p99_e2el_ms),
        ];
        let limits: Vec<_> = limits
            .into_iter()
            .filter_map(|(name, limit, get)| Some((name, limit?, get)))
            .collect();
        let probes: Vec<WalkProbe> = self
            .points
            .iter()
            .filter(|p| p.status != "skipped" && p.status != "pending")
            .map(|p| WalkProbe {
                level: p.level,
                values: limits.iter().map(|(_, _, get)| get(p)).collect(),
                meets: p.meets,
                reason: p.reason.clone(),
            })
            .collect();
        let limits: Vec<WalkLimit> = limits
            .iter()
            .map(|(name, limit, _)| WalkLimit {
                name: name.to_string(),
                limit_ms: *limit as f64,
            })
            .collect();
        let x_label = if self.by == SloBy::Rate.as_str() {
            "request rate (req/s, log scale)"
        } else {
            "max concurrency (requests, log scale)"
        };
        let title = format!(
            "SLO search {} (input {}): {}",
            self.sweep,
            crate::report::fmt_tokens(self.input_len),
            self.limits()
        );
        crate::report::walk_svg(
            &title,
            x_label,
            &limits,
            &probes,
            self.capacity,
            &ChartOptions {
                standin: self.standin,
            },
        )
    }

    /// The walk as a markdown table, under the headline and the walk's chart.
    pub fn markdown(&self) -> String {
        let f = |v: Option<f64>| crate::report::fmt_num(v);
        let mut s = format!("## {}\n\n", self.headline());
        if self.standin {
            s.push_str("_Measured on the CPU stand-in: not a GPU measurement._\n\n");
        }
        if !self.points.is_empty() {
            s.push_str(&format!("![the walk]({})\n\n", self.chart_name()));
        }
        s.push_str(&format!(
            "| # | {} | run | status | meets | p99 TTFT ms | p99 TPOT ms | p99 E2EL ms | goodput req/s | req/s | out tok/s | why not |\n",
            if self.by == SloBy::Rate.as_str() { "rate" } else { "C" }
        ));
        s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (i, p) in self.points.iter().enumerate() {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                level_label(p.level),
                p.repeat,
                p.status,
                if p.meets { "yes" } else { "no" },
                f(p.p99_ttft_ms),
                f(p.p99_tpot_ms),
                f(p.p99_e2el_ms),
                f(p.request_goodput),
                f(p.request_throughput),
                f(p.output_throughput),
                p.reason.as_deref().unwrap_or("").replace('|', "/")
            ));
        }
        s
    }
}

/// Emit each search's result and write `slo.md` and `slo.json` into the run directory (a
/// run without an SLO search gets neither).
pub fn publish(
    m: &Manifest,
    results_dir: &Path,
    run_dir: &Path,
    sink: &dyn Sink,
) -> anyhow::Result<Vec<SloSearch>> {
    let found = searches(m, results_dir);
    if found.is_empty() {
        return Ok(found);
    }
    let md: String = found
        .iter()
        .map(SloSearch::markdown)
        .collect::<Vec<_>>()
        .join("\n");
    for f in found.iter().filter(|f| !f.points.is_empty()) {
        let path = run_dir.join(f.chart_name());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::durable::write_replace(&path, f.walk_svg().as_bytes())?;
    }
    crate::durable::write_replace(&run_dir.join("slo.md"), md.as_bytes())?;
    crate::durable::write_replace(
        &run_dir.join("slo.json"),
        &serde_json::to_vec_pretty(&found)?,
    )?;
    for f in &found {
        sink.emit(Event::SloResult(Box::new(f.clone())));
    }
    Ok(found)
}
