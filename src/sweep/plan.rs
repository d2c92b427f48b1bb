//! The planner: sweeps (presets, config entries, the custom flags) expanded into an ordered
//! list of points, with load semantics made explicit and points that cannot fit the model's
//! context marked skipped with the reason.
//!
//! Load semantics: a level is a maximum concurrency C (`--max-concurrency C`, request rate
//! `inf` unless configured) and num_prompts = k × C with k = `prompts_per_concurrency`
//! (or a fixed `num_prompts`). k = 1 is one wave: every request starts at t = 0, so the point
//! measures a burst rather than a steady state; the plan says so.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::presets::{self, tokens_label};
use crate::config::{Config, SweepConfig};

/// Where the context-length check takes its limit from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextLimit {
    /// `max_model_len` reported by the running server (`/v1/models`).
    Live(u64),
    /// `server.max_model_len` from the configuration (dry run without a live server).
    Configured(u64),
    /// Nothing known: points are not checked.
    Unknown,
}

impl ContextLimit {
    pub fn describe(&self) -> String {
        match self {
            ContextLimit::Live(n) => format!("checked against the server's max_model_len {n}"),
            ContextLimit::Configured(n) => {
                format!("checked against the configured max_model_len {n}")
            }
            ContextLimit::Unknown => {
                "not checked (no live server and no server.max_model_len)".into()
            }
        }
    }
}

/// One benchmark point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Unique in the run: `<sweep>/<stem>`, e.g. `production/input_1K_n1`.
    pub id: String,
    pub sweep: String,
    pub input_len: u64,
    pub output_len: u64,
    pub concurrency: u64,
    pub num_prompts: u64,
    /// `inf` or requests per second.
    pub request_rate: String,
    pub warmups: u64,
    /// Directory under the results directory (`production`, `scaling`, or the sweep's name).
    pub dir: String,
    /// File name without the `_<YYYYmmdd_HHMMSS>.json` tail (`input_1K_n1`, `scale_n5`).
    pub stem: String,
    /// Per-point deadline in seconds.
    pub timeout_s: u64,
    /// Why the point will not run (e.g. over the context length).
    pub skip: Option<String>,
    /// Which run of the point this is (1-based) when its sweep repeats points.
    #[serde(default = "first")]
    pub repeat: u32,
    /// Extra `vllm bench serve` arguments of this point alone (an SLO probe's `--goodput`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bench_args: Vec<String>,
}

fn first() -> u32 {
    1
}

impl Point {
    /// The result file name for a point started at `ts` (`YYYYmmdd_HHMMSS`).
    pub fn file_name(&self, ts: &str) -> String {
        format!("{}_{ts}.json", self.stem)
    }

    /// One wave only (num_prompts ≤ C): a burst, not a steady state.
    pub fn single_wave(&self) -> bool {
        self.num_prompts <= self.concurrency
    }
}

/// The expanded plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub points: Vec<Point>,
    /// Things the user should know about the plan (single waves, unchecked context).
    pub notes: Vec<String>,
    pub context: ContextLimit,
}

impl Plan {
    pub fn runnable(&self) -> impl Iterator<Item = &Point> {
        self.points.iter().filter(|p| p.skip.is_none())
    }
}

/// Resolve a sweep name: the config's own entries first (they may redefine a preset), then
/// the presets.
pub fn resolve(cfg: &Config, name: &str) -> Result<SweepConfig, String> {
    if let Some(s) = cfg.sweeps.get(name) {
        return Ok(s.clone());
    }
    presets::preset(name).ok_or_else(|| {
        let mut known: Vec<String> = presets::PRESET_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        known.extend(cfg.sweeps.keys().cloned());
        format!("unknown sweep `{name}` (known: {})", known.join(", "))
    })
}

/// Expand `sweeps` (name, definition) into points, in the order given (input length, then
/// concurrency). A sweep with `repeats: N` is expanded N times in rounds (every point once,
/// then again), so slow drift shows up as spread between repeats rather than as a bias of
/// one point; repeated points get ids `<sweep>/<stem>.r<k>`. Errors name the sweep and field
/// at fault.
pub fn build(
    cfg: &Config,
    sweeps: &[(String, SweepConfig)],
    context: ContextLimit,
) -> Result<Plan, String> {
    let mut points = Vec::new();
    let mut notes = Vec::new();
    let mut seen = BTreeMap::new();
    let mut single_waves = 0usize;
    for (name, s) in sweeps {
        check_sweep(name, s)?;
        let layout = s.layout.clone().unwrap_or_else(|| "custom".into());
        let timeout_s = match &s.point_timeout {
            Some(t) => crate::config::parse_duration(t)
                .map_err(|e| format!("sweeps.{name}.point_timeout: {e}"))?,
            None => cfg.run.point_timeout,
        }
        .as_secs()
        .max(1);
        if let Some(slo) = &s.slo {
            // An SLO search: its first probe per input length; the rest follow the results.
            points.extend(crate::slo::first_points(name, s, slo, timeout_s, context));
            notes.push(format!(
                "sweep `{name}` is an SLO search ({}; by {} from {} up to {}): later levels are chosen as results arrive, at most {} point(s) per input length; the plan shows the first",
                slo.limits()
                    .iter()
                    .map(|(k, _, ms)| format!("{k} ≤ {ms} ms"))
                    .collect::<Vec<_>>()
                    .join(", "),
                slo.by.as_str(),
                slo.start,
                slo.max,
                slo.max_points
            ));
            continue;
        }
        for repeat in 1..=s.repeats.max(1) {
            for &input_len in &s.input_lens {
                for &c in &s.concurrency {
                    let (dir, stem) = match layout.as_str() {
                        "production" => (
                            "production".to_string(),
                            format!("input_{}_n{c}", tokens_label(input_len)),
                        ),
                        "scaling" => ("scaling".to_string(), format!("scale_n{c}")),
                        _ => (
                            name.clone(),
                            format!("input_{}_out{}_n{c}", tokens_label(input_len), s.output_len),
                        ),
                    };
                    // `scaling` with several input lengths would reuse a stem: keep ids unique.
                    let stem = if layout == "scaling" && s.input_lens.len() > 1 {
                        format!("scale_in{}_n{c}", tokens_label(input_len))
                    } else {
                        stem
                    };
                    let id = if s.repeats > 1 {
                        format!("{name}/{stem}.r{repeat}")
                    } else {
                        format!("{name}/{stem}")
                    };
                    if seen.insert(id.clone(), ()).is_some() {
                        return Err(format!("sweep `{name}` lists the point {id} twice"));
                    }
                    let num_prompts = s.num_prompts.unwrap_or(s.prompts_per_concurrency * c);
                    let skip = over_context(input_len, s.output_len, context);
                    let p = Point {
                        id,
                        sweep: name.clone(),
                        input_len,
                        output_len: s.output_len,
                        concurrency: c,
                        num_prompts,
                        request_rate: s.request_rate.clone(),
                        warmups: s.warmups,
                        dir,
                        stem,
                        timeout_s,
                        skip,
                        repeat,
                        bench_args: vec![],
                    };
                    if p.single_wave() && p.skip.is_none() && repeat == 1 {
                        single_waves += 1;
                    }
                    points.push(p);
                }
            }
        }
    }
    if single_waves > 0 {
        notes.push(format!(
            "{single_waves} point(s) send num_prompts = C: one wave of C requests at once (a burst, as the manual scripts measured), not a steady state; raise prompts_per_concurrency for steady-state points"
        ));
    }
    if context == ContextLimit::Unknown {
        notes.push(format!("context length {}", context.describe()));
    }
    Ok(Plan {
        points,
        notes,
        context,
    })
}

fn check_sweep(name: &str, s: &SweepConfig) -> Result<(), String> {
    let field = |f: &str, why: &str| format!("sweeps.{name}.{f}: {why}");
    if s.input_lens.is_empty() {
        return Err(field("input_lens", "empty"));
    }
    if s.concurrency.is_empty() && s.slo.is_none() {
        return Err(field("concurrency", "empty"));
    }
    if let Some(slo) = &s.slo {
        slo.check()
            .map_err(|(k, why)| field(&format!("slo.{k}"), &why))?;
    }
    if s.input_lens.contains(&0) {
        return Err(field("input_lens", "lengths must be at least 1"));
    }
    if s.output_len == 0 {
        return Err(field("output_len", "must be at least 1"));
    }
    if s.concurrency.contains(&0) {
        return Err(field("concurrency", "levels must be at least 1"));
    }
    if s.prompts_per_concurrency == 0 {
        return Err(field("prompts_per_concurrency", "must be at least 1"));
    }
    if s.num_prompts == Some(0) {
        return Err(field("num_prompts", "must be at least 1"));
    }
    let rate_ok = s.request_rate == "inf"
        || s.request_rate
            .parse::<f64>()
            .is_ok_and(|r| r.is_finite() && r > 0.0);
    if !rate_ok {
        return Err(field(
            "request_rate",
            &format!(
                "`{}` is neither `inf` nor a positive number",
                s.request_rate
            ),
        ));
    }
    Ok(())
}

/// `Some(reason)` when input + output does not fit the context limit.
pub fn over_context(input_len: u64, output_len: u64, context: ContextLimit) -> Option<String> {
    let (limit, whose) = match context {
        ContextLimit::Live(n) => (n, "the server's"),
        ContextLimit::Configured(n) => (n, "the configured"),
        ContextLimit::Unknown => return None,
    };
    let total = input_len + output_len;
    (total > limit).then(|| {
        format!("input {input_len} + output {output_len} = {total} tokens exceed {whose} max_model_len {limit}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str], ctx: ContextLimit) -> Plan {
        let cfg = Config::default();
        let sweeps: Vec<_> = names
            .iter()
            .map(|n| (n.to_string(), resolve(&cfg, n).expect("preset")))
            .collect();
        build(&cfg, &sweeps, ctx).expect("plan")
    }

    #[test]
    fn production_points_and_names() {
        let p = plan(&["production"], ContextLimit::Unknown);
        assert_eq!(p.points.len(), 40);
        assert_eq!(p.points[0].stem, "input_1K_n1");
        assert_eq!(
            p.points[0].file_name("20260101_120000"),
            "input_1K_n1_20260101_120000.json"
        );
        assert_eq!(p.points[0].dir, "production");
        assert_eq!(p.points[39].id, "production/input_96K_n20");
        assert!(
            p.points
                .iter()
                .all(|x| x.num_prompts == x.concurrency && x.output_len == 500)
        );
        assert!(p.notes.iter().any(|n| n.contains("one wave")));
        assert!(p.notes.iter().any(|n| n.contains("not checked")));
    }

    #[test]
    fn repeats_run_in_rounds_with_distinct_ids() {
        let cfg = Config::default();
        let mut s = presets::preset("demo").expect("demo");
        s.repeats = 3;
        let p = build(&cfg, &[("demo".into(), s)], ContextLimit::Unknown).expect("plan");
        assert_eq!(p.points.len(), 18);
        // Every point once, then again: round k holds repeat k.
        assert!(p.points[..6].iter().all(|x| x.repeat == 1));
        assert!(p.points[12..].iter().all(|x| x.repeat == 3));
        assert_eq!(p.points[0].id, "demo/input_128_out32_n1.r1");
        assert_eq!(p.points[6].id, "demo/input_128_out32_n1.r2");
        assert_eq!(p.points[0].stem, p.points[6].stem, "same file name stem");
        let once = plan(&["demo"], ContextLimit::Unknown);
        assert_eq!(once.points[0].id, "demo/input_128_out32_n1");
        assert_eq!(once.points[0].repeat, 1);
    }

    #[test]
    fn scaling_names() {
        let p = plan(&["scaling"], ContextLimit::Live(4096));
        let stems: Vec<_> = p.points.iter().map(|x| x.stem.as_str()).collect();
        assert_eq!(stems[..3], ["scale_n1", "scale_n2", "scale_n5"]);
        assert!(
            p.points
                .iter()
                .all(|x| x.dir == "scaling" && x.skip.is_none())
        );
    }

    #[test]
    fn over_context_points_are_skipped_with_reason() {
        let p = plan(&["production"], ContextLimit::Live(32768));
        let skipped: Vec<_> = p.points.iter().filter(|x| x.skip.is_some()).collect();
        // 32K + 500, 64K and 96K do not fit 32768: 3 lengths × 5 levels.
        assert_eq!(skipped.len(), 15);
        let r = skipped[0].skip.as_deref().expect("reason");
        assert!(
            r.contains("32768 + output 500 = 33268") && r.contains("max_model_len 32768"),
            "{r}"
        );
        assert_eq!(p.runnable().count(), 25);
        let c = plan(&["production"], ContextLimit::Configured(8692));
        assert_eq!(c.runnable().count(), 20);
        assert!(
            c.points[20]
                .skip
                .as_deref()
                .expect("skip")
                .contains("configured")
        );
    }

    #[test]
    fn prompts_per_concurrency_and_fixed_num_prompts() {
        let cfg = Config::default();
        let mut s = presets::preset("demo").expect("demo");
        s.prompts_per_concurrency = 3;
        let p = build(&cfg, &[("d".into(), s.clone())], ContextLimit::Unknown).expect("plan");
        assert!(p.points.iter().all(|x| x.num_prompts == 3 * x.concurrency));
        assert!(!p.notes.iter().any(|n| n.contains("one wave")));
        s.num_prompts = Some(10);
        let p = build(&cfg, &[("d".into(), s.clone())], ContextLimit::Unknown).expect("plan");
        assert!(p.points.iter().all(|x| x.num_prompts == 10));
        s.request_rate = "fast".into();
        let e = build(&cfg, &[("d".into(), s)], ContextLimit::Unknown).unwrap_err();
        assert!(e.contains("sweeps.d.request_rate"), "{e}");
    }

    #[test]
    fn unknown_sweep_names_the_known_ones() {
        let e = resolve(&Config::default(), "prod").unwrap_err();
        assert!(e.contains("production") && e.contains("scaling-200"), "{e}");
    }
}
