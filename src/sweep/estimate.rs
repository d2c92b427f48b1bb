//! Time estimates for a plan: the median measured time of the same point (same sweep point
//! shape: input, output, concurrency, prompts) in earlier runs' manifests where known, else a
//! stated heuristic.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::manifest::{self, Manifest, PointStatus};
use super::plan::Point;

/// The heuristic, stated so the user can judge it: a fixed client start-up (the real
/// `vllm bench serve` spends 20–25 s importing vLLM before the first request), then per wave
/// of C requests a prefill at 5,000 input tokens/s and a decode at 30 ms per output token.
pub const HEURISTIC: &str = "25 s client start-up + per wave (num_prompts / C waves): input_len / 5000 tok/s prefill + output_len × 30 ms decode";

/// Where an estimate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Median of this many earlier measurements.
    Measured(usize),
    Heuristic,
}

/// Earlier measured durations by point shape.
#[derive(Debug, Default)]
pub struct History(BTreeMap<String, Vec<f64>>);

fn shape(p: &Point) -> String {
    format!(
        "{}/{}/{}/{}",
        p.input_len, p.output_len, p.concurrency, p.num_prompts
    )
}

impl History {
    /// Read every run manifest under `results_dir` (unreadable ones are ignored: they only
    /// make estimates less informed).
    pub fn load(results_dir: &Path) -> History {
        let mut h = History::default();
        for id in manifest::list_runs(results_dir) {
            if let Ok(m) = Manifest::load(&manifest::runs_dir(results_dir).join(&id)) {
                h.add(&m);
            }
        }
        h
    }

    /// Only the stand-in's or only real runs count: a CPU stand-in time says nothing of a GPU.
    pub fn add(&mut self, m: &Manifest) {
        for r in &m.points {
            if let (PointStatus::Ok, Some(s)) = (r.status, r.elapsed_s) {
                let key = format!("{}:{}", m.standin, shape(&r.point));
                self.0.entry(key).or_default().push(s);
            }
        }
    }

    pub fn estimate(&self, p: &Point, standin: bool) -> (Duration, Source) {
        if let Some(v) = self
            .0
            .get(&format!("{standin}:{}", shape(p)))
            .filter(|v| !v.is_empty())
        {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            let median = v[v.len() / 2];
            return (
                Duration::from_secs_f64(median.max(0.0)),
                Source::Measured(v.len()),
            );
        }
        (heuristic(p), Source::Heuristic)
    }
}

pub fn heuristic(p: &Point) -> Duration {
    let waves = p.num_prompts.div_ceil(p.concurrency.max(1)) as f64;
    let per_wave = p.input_len as f64 / 5000.0 + p.output_len as f64 * 0.030;
    Duration::from_secs_f64(25.0 + waves * per_wave)
}

/// `1h02m`, `3m20s`, `45s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(c: u64, n: u64) -> Point {
        Point {
            id: "x/y".into(),
            sweep: "x".into(),
            input_len: 5000,
            output_len: 100,
            concurrency: c,
            num_prompts: n,
            request_rate: "inf".into(),
            warmups: 0,
            dir: "x".into(),
            stem: "y".into(),
            timeout_s: 60,
            skip: None,
            repeat: 1,
            bench_args: vec![],
        }
    }

    #[test]
    fn heuristic_counts_waves() {
        assert_eq!(heuristic(&point(5, 5)), Duration::from_secs(29));
        assert_eq!(heuristic(&point(5, 10)), Duration::from_secs(33));
    }

    #[test]
    fn measured_median_wins_for_same_kind_of_server() {
        let mut h = History::default();
        h.0.insert(
            format!("false:{}", shape(&point(5, 5))),
            vec![10.0, 30.0, 20.0],
        );
        assert_eq!(
            h.estimate(&point(5, 5), false),
            (Duration::from_secs(20), Source::Measured(3))
        );
        assert_eq!(h.estimate(&point(5, 5), true).1, Source::Heuristic);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(200)), "3m20s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
