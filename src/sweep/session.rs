//! A run's bookkeeping around the loop: which sweeps the selection names, the config hash
//! that decides whether a run may be resumed, a new run's manifest, and the dry run's plan.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::estimate::{self, History, Source};
use super::manifest::{Manifest, PointRecord, SCHEMA_VERSION, ServerSnapshot};
use super::plan::Plan;
use super::presets;
use super::selection::Selection;
use crate::config::{Config, SweepConfig};
use crate::events::{PlanView, PlannedPoint};

/// The sweeps to run: the custom flags, then names on the command line, else `run.sweeps`
/// from the configuration. Errors are usage errors naming the sweep or flag.
pub fn select(cfg: &Config, sel: &Selection) -> Result<Vec<(String, SweepConfig)>, String> {
    let mut out = Vec::new();
    let custom = presets::custom(sel)?;
    let names: Vec<String> = if !sel.sweeps.is_empty() {
        sel.sweeps.clone()
    } else if custom.is_some() {
        vec![]
    } else {
        cfg.run.sweeps.clone()
    };
    if let Some(c) = custom {
        out.push((presets::CUSTOM.to_string(), c));
    }
    for name in names {
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("sweep `{name}` named twice"));
        }
        let mut s = super::plan::resolve(cfg, &name)?;
        // Without custom flags, `--num-prompts` fixes num_prompts of the named sweeps.
        if let (Some(n), false) = (sel.num_prompts, presets::has_custom(sel)) {
            s.num_prompts = Some(n);
        }
        out.push((name, s));
    }
    if let Some(r) = sel.repeats {
        if r == 0 {
            return Err("--repeats: give at least 1".into());
        }
        for (_, s) in &mut out {
            s.repeats = r;
        }
    }
    Ok(out)
}

/// What makes results comparable: the server and client set-up, the seed and the point
/// shapes. Paths, names of output directories and secrets do not count.
pub fn config_hash(cfg: &Config, plan: &Plan) -> String {
    let red = cfg.redacted();
    let points: Vec<Value> = plan
        .points
        .iter()
        .map(|p| {
            let mut shape = json!([
                p.id,
                p.input_len,
                p.output_len,
                p.concurrency,
                p.num_prompts,
                p.request_rate,
                p.warmups
            ]);
            // Only when present, so the hashes of runs without them stay as they were.
            if !p.bench_args.is_empty()
                && let Some(a) = shape.as_array_mut()
            {
                a.push(json!(p.bench_args));
            }
            shape
        })
        .collect();
    let doc = json!({
        "server": red.get("server"),
        "client": red.get("client"),
        "seed": cfg.run.seed,
        "points": points,
    });
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A fresh manifest for `plan`.
pub fn new_manifest(
    run_id: &str,
    cfg: &Config,
    sweeps: &[(String, SweepConfig)],
    plan: &Plan,
    server: Option<ServerSnapshot>,
    standin: bool,
) -> Manifest {
    Manifest {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        created: jiff::Timestamp::now().to_string(),
        updated: String::new(),
        status: "planned".into(),
        config_hash: config_hash(cfg, plan),
        config: cfg.redacted(),
        sweeps: sweeps.iter().map(|(n, _)| n.clone()).collect(),
        sweep_configs: sweeps.iter().cloned().collect(),
        standin,
        server,
        points: plan.points.iter().cloned().map(PointRecord::new).collect(),
        gpu_samples: vec![],
        client_mode: None,
        verdict: None,
    }
}

/// The dry run's plan: every point with its file name (as if started at `ts`), whether it
/// runs, and its estimate (the median of earlier runs, else the heuristic).
pub fn plan_view(plan: &Plan, history: &History, standin: bool, ts: &str) -> PlanView {
    let mut total = 0.0;
    let points = plan
        .points
        .iter()
        .map(|p| {
            let (estimate_s, estimate_source) = match &p.skip {
                Some(_) => (None, None),
                None => {
                    let (d, src) = history.estimate(p, standin);
                    total += d.as_secs_f64();
                    let src = match src {
                        Source::Measured(n) => format!("median of {n} earlier run(s)"),
                        Source::Heuristic => "heuristic".into(),
                    };
                    (Some(d.as_secs_f64()), Some(src))
                }
            };
            PlannedPoint {
                point: p.clone(),
                file: format!("{}/{}", p.dir, p.file_name(ts)),
                estimate_s,
                estimate_source,
            }
        })
        .collect();
    PlanView {
        context: plan.context.describe(),
        heuristic: estimate::HEURISTIC.to_string(),
        notes: plan.notes.clone(),
        total_estimate_s: total,
        timestamp: ts.to_string(),
        standin,
        points,
    }
}

/// `<results_dir>/runs/<run_id>`.
pub fn run_dir(results_dir: &Path, run_id: &str) -> std::path::PathBuf {
    super::manifest::runs_dir(results_dir).join(run_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::plan::{self, ContextLimit};

    #[test]
    fn selection_rules() {
        let cfg = Config::default();
        let s = select(&cfg, &Selection::default()).expect("default");
        assert_eq!(
            s.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["production"]
        );
        let sel = Selection {
            sweeps: vec!["scaling".into(), "demo".into()],
            ..Default::default()
        };
        assert_eq!(select(&cfg, &sel).expect("named").len(), 2);
        let custom = Selection {
            input_len: vec!["1K".into()],
            output_len: Some(8),
            single: Some(3),
            ..Default::default()
        };
        let s = select(&cfg, &custom).expect("custom");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "custom");
        let twice = Selection {
            sweeps: vec!["demo".into(), "demo".into()],
            ..Default::default()
        };
        assert!(select(&cfg, &twice).unwrap_err().contains("twice"));
        let np = Selection {
            sweeps: vec!["demo".into()],
            num_prompts: Some(9),
            ..Default::default()
        };
        assert_eq!(select(&cfg, &np).expect("np")[0].1.num_prompts, Some(9));
    }

    #[test]
    fn hash_tracks_what_matters() {
        let cfg = Config::default();
        let sweeps = select(
            &cfg,
            &Selection {
                sweeps: vec!["demo".into()],
                ..Default::default()
            },
        )
        .expect("sel");
        let p = plan::build(&cfg, &sweeps, ContextLimit::Unknown).expect("plan");
        let h = config_hash(&cfg, &p);
        let mut other_dir = cfg.clone();
        other_dir.results_dir = "/elsewhere".into();
        assert_eq!(config_hash(&other_dir, &p), h);
        let mut other_model = cfg.clone();
        other_model.server.model = "x/y".into();
        assert_ne!(config_hash(&other_model, &p), h);
        let mut s2 = sweeps.clone();
        s2[0].1.output_len = 64;
        let p2 = plan::build(&cfg, &s2, ContextLimit::Unknown).expect("plan");
        assert_ne!(config_hash(&cfg, &p2), h);
    }

    #[test]
    fn dry_run_lists_points_and_estimates() {
        let cfg = Config::default();
        let sweeps = select(
            &cfg,
            &Selection {
                sweeps: vec!["production".into()],
                ..Default::default()
            },
        )
        .expect("sel");
        let p = plan::build(&cfg, &sweeps, ContextLimit::Configured(32768)).expect("plan");
        let v = plan_view(&p, &History::default(), false, "20260101_000000");
        assert_eq!(v.points.len(), 40);
        assert_eq!(
            v.points[0].file,
            "production/input_1K_n1_20260101_000000.json"
        );
        let skipped: Vec<_> = v.points.iter().filter(|p| p.estimate_s.is_none()).collect();
        assert_eq!(skipped.len(), 15);
        assert!(
            skipped[0]
                .point
                .skip
                .as_deref()
                .is_some_and(|r| r.starts_with("input 32768 + output 500")),
            "{:?}",
            skipped[0].point.skip
        );
        let sum: f64 = v.points.iter().filter_map(|p| p.estimate_s).sum();
        assert!((v.total_estimate_s - sum).abs() < 1e-9 && sum > 0.0);
    }
}
