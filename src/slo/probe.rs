//! An SLO search's points in a run: the sweep point that probes one level (with vLLM's own
//! `--goodput` set to the SLO's limits, so each result also says how many requests met
//! them), and what each finished probe says about the SLO, read back from its result file.

use std::path::Path;

use crate::config::{SloBy, SloConfig, SweepConfig};
use crate::results::BenchResult;
use crate::sweep::manifest::{Manifest, PointRecord, PointStatus};
use crate::sweep::plan::{ContextLimit, Point, over_context};
use crate::sweep::presets::tokens_label;

use super::search::Observation;

/// Rate searches send this many seconds of arrivals per level unless `num_prompts` is set.
pub const RATE_WINDOW_S: f64 = 30.0;

/// A level as it appears in ids and tables: `8`, `2.5`.
pub fn level_label(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as u64)
    } else {
        let s = format!("{level:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `--goodput ttft:2000 tpot:50`: vLLM counts the requests that meet every limit.
pub fn goodput_args(slo: &SloConfig) -> Vec<String> {
    let mut v = vec!["--goodput".to_string()];
    v.extend(slo.limits().iter().map(|(_, k, ms)| format!("{k}:{ms}")));
    v
}

/// The point probing `level` of sweep `name` at `input_len`, its `repeat`-th run.
#[allow(clippy::too_many_arguments)]
pub fn point(
    name: &str,
    s: &SweepConfig,
    slo: &SloConfig,
    input_len: u64,
    level: f64,
    repeat: u32,
    timeout_s: u64,
    context: ContextLimit,
) -> Point {
    let base = format!("input_{}_out{}", tokens_label(input_len), s.output_len);
    let (stem, concurrency, num_prompts, rate) = match slo.by {
        SloBy::Concurrency => {
            let c = level.max(1.0) as u64;
            let n = s.num_prompts.unwrap_or(s.prompts_per_concurrency * c);
            (format!("{base}_n{c}"), c, n, s.request_rate.clone())
        }
        SloBy::Rate => {
            // No concurrency cap: every prompt may be in flight, as the arrivals decide.
            let n = s
                .num_prompts
                .unwrap_or(((level * RATE_WINDOW_S).ceil() as u64).clamp(10, 5000));
            (
                format!("{base}_rate{}", level_label(level)),
                n,
                n,
                level_label(level),
            )
        }
    };
    let id = if repeat > 1 {
        format!("{name}/{stem}.r{repeat}")
    } else {
        format!("{name}/{stem}")
    };
    Point {
        id,
        sweep: name.to_string(),
        input_len,
        output_len: s.output_len,
        concurrency,
        num_prompts,
        request_rate: rate,
        warmups: s.warmups,
        dir: name.to_string(),
        stem,
        timeout_s,
        skip: over_context(input_len, s.output_len, context),
        repeat,
        bench_args: goodput_args(slo),
    }
}

/// The level a probe point ran at.
pub fn level_of(p: &Point, slo: &SloConfig) -> f64 {
    match slo.by {
        SloBy::Concurrency => p.concurrency as f64,
        SloBy::Rate => p.request_rate.parse().unwrap_or(0.0),
    }
}

/// The points of one search (sweep `name`, `input_len`), in the order they were added.
pub fn points_of<'a>(
    m: &'a Manifest,
    name: &'a str,
    input_len: u64,
) -> impl Iterator<Item = &'a PointRecord> + 'a {
    m.points
        .iter()
        .filter(move |r| r.point.sweep == name && r.point.input_len == input_len)
}

/// A finished probe's result file, when it has one.
pub fn result_of(r: &PointRecord, results_dir: &Path) -> Option<BenchResult> {
    let f = results_dir.join(r.result_file.as_ref()?);
    let bytes = std::fs::read(&f).ok()?;
    crate::results::parse(&bytes, &f.display().to_string()).ok()
}

/// Whether a finished probe met every limit, and if not, why.
pub fn judge(r: &PointRecord, slo: &SloConfig, result: Option<&BenchResult>) -> (bool, String) {
    match r.status {
        PointStatus::Ok => {}
        PointStatus::Failed => {
            return (
                false,
                format!(
                    "failed: {}",
                    r.reason.as_deref().unwrap_or("no reason recorded")
                ),
            );
        }
        s => return (false, s.as_str().to_string()),
    }
    let Some(res) = result else {
        return (false, "its result file cannot be read".into());
    };
    let mut misses = Vec::new();
    for (key, _, limit) in slo.limits() {
        match res.get_f64(key) {
            Some(v) if v <= limit as f64 => {}
            Some(v) => misses.push(format!("{key} {v:.1} > {limit}")),
            None => misses.push(format!("{key} missing in the result")),
        }
    }
    if misses.is_empty() {
        (true, String::new())
    } else {
        (false, misses.join(", "))
    }
}

/// Every finished probe of one search as an observation (pending and running ones are not
/// observed yet; skipped ones are not measurements).
pub fn observations(
    m: &Manifest,
    name: &str,
    input_len: u64,
    slo: &SloConfig,
    results_dir: &Path,
) -> Vec<Observation> {
    points_of(m, name, input_len)
        .filter(|r| matches!(r.status, PointStatus::Ok | PointStatus::Failed))
        .map(|r| Observation {
            level: level_of(&r.point, slo),
            meets: judge(r, slo, result_of(r, results_dir).as_ref()).0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_points() {
        let s = SweepConfig {
            input_lens: vec![1024],
            output_len: 500,
            concurrency: vec![],
            prompts_per_concurrency: 4,
            num_prompts: None,
            request_rate: "inf".into(),
            warmups: 0,
            layout: None,
            point_timeout: None,
            repeats: 1,
            slo: None,
        };
        let slo = SloConfig {
            ttft_p99: Some(2000),
            tpot_p99: Some(50),
            ..Default::default()
        };
        let p = point("cap", &s, &slo, 1024, 8.0, 1, 60, ContextLimit::Unknown);
        assert_eq!(p.id, "cap/input_1K_out500_n8");
        assert_eq!((p.concurrency, p.num_prompts), (8, 32));
        assert_eq!(p.bench_args, ["--goodput", "ttft:2000", "tpot:50"]);
        let p2 = point("cap", &s, &slo, 1024, 8.0, 2, 60, ContextLimit::Live(1000));
        assert_eq!(p2.id, "cap/input_1K_out500_n8.r2");
        assert!(p2.skip.is_some());
        let rate = SloConfig {
            by: SloBy::Rate,
            ..slo
        };
        let p = point("cap", &s, &rate, 1024, 2.5, 1, 60, ContextLimit::Unknown);
        assert_eq!(p.id, "cap/input_1K_out500_rate2.5");
        assert_eq!(p.request_rate, "2.5");
        assert_eq!((p.concurrency, p.num_prompts), (75, 75));
        assert_eq!(level_of(&p, &rate), 2.5);
    }
}
