//! A run's bookkeeping around the loop: which sweeps the command line selects, the config
//! hash that decides whether a run may be resumed, a new run's manifest, and the dry-run
//! table.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::estimate::{self, History, Source};
use super::manifest::{Manifest, PointRecord, SCHEMA_VERSION, ServerSnapshot};
use super::plan::Plan;
use super::presets;
use crate::cli::SweepSelection;
use crate::config::{Config, SweepConfig};

/// The sweeps to run: the custom flags, then names on the command line, else `run.sweeps`
/// from the configuration. Errors are usage errors naming the sweep or flag.
pub fn select(cfg: &Config, sel: &SweepSelection) -> Result<Vec<(String, SweepConfig)>, String> {
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
            json!([
                p.id,
                p.input_len,
                p.output_len,
                p.concurrency,
                p.num_prompts,
                p.request_rate,
                p.warmups
            ])
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
        standin,
        server,
        points: plan.points.iter().cloned().map(PointRecord::new).collect(),
        gpu_samples: vec![],
    }
}

/// The dry-run table: every point with its command-line shape, file name pattern, status
/// (runs / skipped + reason) and estimate, then the total.
pub fn dry_run_table(plan: &Plan, history: &History, standin: bool, ts: &str) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    t.set_header(vec![
        "#", "point", "input", "output", "C", "prompts", "file", "estimate", "note",
    ]);
    let mut total = std::time::Duration::ZERO;
    let (mut measured, mut guessed) = (0usize, 0usize);
    for (i, p) in plan.points.iter().enumerate() {
        let (est, note) = match &p.skip {
            Some(r) => ("-".to_string(), format!("skipped: {r}")),
            None => {
                let (d, src) = history.estimate(p, standin);
                total += d;
                let how = match src {
                    Source::Measured(n) => {
                        measured += 1;
                        format!("median of {n} earlier run(s)")
                    }
                    Source::Heuristic => {
                        guessed += 1;
                        "heuristic".to_string()
                    }
                };
                (estimate::human(d), how)
            }
        };
        t.add_row(vec![
            (i + 1).to_string(),
            p.id.clone(),
            p.input_len.to_string(),
            p.output_len.to_string(),
            p.concurrency.to_string(),
            p.num_prompts.to_string(),
            format!("{}/{}", p.dir, p.file_name(ts)),
            est,
            note,
        ]);
    }
    let runnable = plan.runnable().count();
    let mut s = format!("{t}\n");
    s.push_str(&format!(
        "{} point(s), {runnable} to run, {} skipped; estimated {} ({measured} from earlier runs, {guessed} by the heuristic: {})\n",
        plan.points.len(),
        plan.points.len() - runnable,
        estimate::human(total),
        estimate::HEURISTIC
    ));
    s.push_str(&format!("context length {}\n", plan.context.describe()));
    s.push_str(&format!(
        "file names end in the point's start time (shown: {ts}); K = 1024 tokens\n"
    ));
    for n in &plan.notes {
        if !n.starts_with("context length") {
            s.push_str(&format!("note: {n}\n"));
        }
    }
    s
}

/// The dry-run plan as one JSON object (`--json`): `{"event": "plan", "context", "notes",
/// "total_estimate_s", "points": [{…point, "file", "estimate_s", "estimate_source"}]}`.
pub fn dry_run_json(plan: &Plan, history: &History, standin: bool, ts: &str) -> Value {
    let mut total = 0.0;
    let points: Vec<Value> = plan
        .points
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
            let (est, src) = match &p.skip {
                Some(_) => (Value::Null, Value::Null),
                None => {
                    let (d, src) = history.estimate(p, standin);
                    total += d.as_secs_f64();
                    let src = match src {
                        Source::Measured(n) => format!("median of {n} earlier run(s)"),
                        Source::Heuristic => "heuristic".into(),
                    };
                    (json!(d.as_secs_f64()), json!(src))
                }
            };
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "file".into(),
                    json!(format!("{}/{}", p.dir, p.file_name(ts))),
                );
                o.insert("estimate_s".into(), est);
                o.insert("estimate_source".into(), src);
            }
            v
        })
        .collect();
    json!({
        "event": "plan",
        "context": plan.context.describe(),
        "heuristic": estimate::HEURISTIC,
        "notes": plan.notes,
        "total_estimate_s": total,
        "points": points,
    })
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
        let s = select(&cfg, &SweepSelection::default()).expect("default");
        assert_eq!(
            s.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["production"]
        );
        let sel = SweepSelection {
            sweeps: vec!["scaling".into(), "demo".into()],
            ..Default::default()
        };
        assert_eq!(select(&cfg, &sel).expect("named").len(), 2);
        let custom = SweepSelection {
            input_len: vec!["1K".into()],
            output_len: Some(8),
            single: Some(3),
            ..Default::default()
        };
        let s = select(&cfg, &custom).expect("custom");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "custom");
        let twice = SweepSelection {
            sweeps: vec!["demo".into(), "demo".into()],
            ..Default::default()
        };
        assert!(select(&cfg, &twice).unwrap_err().contains("twice"));
        let np = SweepSelection {
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
            &SweepSelection {
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
            &SweepSelection {
                sweeps: vec!["production".into()],
                ..Default::default()
            },
        )
        .expect("sel");
        let p = plan::build(&cfg, &sweeps, ContextLimit::Configured(32768)).expect("plan");
        let t = dry_run_table(&p, &History::default(), false, "20260101_000000");
        assert!(
            t.contains("production/input_1K_n1_20260101_000000.json"),
            "{t}"
        );
        assert!(t.contains("40 point(s), 25 to run, 15 skipped"), "{t}");
        assert!(t.contains("skipped: input 32768 + output 500"), "{t}");
    }
}
