//! A matrix's dry run: every combination × every point, with the file each point would
//! write (under the combination's own results directory) and an estimate: the points' (from
//! earlier runs of that combination, else the heuristic) plus one server start per
//! combination (the median of that combination's earlier starts, when there were any).

use std::path::Path;

use serde::Serialize;

use crate::config::{Combination, Config, SweepConfig};
use crate::events::PlanView;
use crate::sweep::estimate::History;
use crate::sweep::plan::{self, ContextLimit};
use crate::sweep::session;

/// One combination's part of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct CombinationPlan {
    pub name: String,
    /// What it sets (`extra_args=--max-num-seqs 4`), secrets redacted.
    pub settings: Vec<String>,
    /// Where its results go.
    pub results_dir: String,
    /// One `vllm serve` start, from this combination's earlier starts (None: never started).
    pub start_estimate_s: Option<f64>,
    pub plan: PlanView,
}

/// The dry run of a matrix.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixPlanView {
    pub combinations: Vec<CombinationPlan>,
    /// Points in all (combinations × points).
    pub points: usize,
    /// Points and known server starts of every combination.
    pub total_estimate_s: f64,
    pub notes: Vec<String>,
}

/// The results directory of combination `name` under the matrix's results directory.
pub fn combination_dir(results_dir: &Path, name: &str) -> std::path::PathBuf {
    results_dir.join(name)
}

/// The configuration a combination runs with: its settings over the server section, and
/// results under `<results_dir>/<name>/`.
pub fn combination_config(cfg: &Config, c: &Combination) -> Config {
    let mut out = cfg.for_combination(c);
    out.results_dir = combination_dir(&cfg.results_dir, &c.name);
    out
}

/// The median `vllm serve` start-up time of a results directory's server records
/// (`server/server-<ts>.json`; starts only, not reuses).
pub fn start_estimate(results_dir: &Path) -> Option<f64> {
    let mut v: Vec<f64> = std::fs::read_dir(results_dir.join("server"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter(|r| r["reused"] == serde_json::Value::Bool(false))
        .filter_map(|r| r["startup_seconds"].as_f64())
        .filter(|s| *s > 0.0)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The plan of every combination: points checked against the combination's configured
/// `max_model_len` (no server is asked: each combination would start its own).
pub fn build(
    cfg: &Config,
    sweeps: &[(String, SweepConfig)],
    standin: bool,
) -> Result<MatrixPlanView, String> {
    let ts = crate::sweep::timestamp(&jiff::ZonedDateTime::now());
    let mut combinations = Vec::new();
    let (mut points, mut total) = (0usize, 0.0);
    let mut unknown_starts = 0;
    for c in &cfg.matrix {
        let ccfg = combination_config(cfg, c);
        let context = match ccfg.server.max_model_len {
            Some(n) => ContextLimit::Configured(n),
            None => ContextLimit::Unknown,
        };
        let p = plan::build(&ccfg, sweeps, context).map_err(|e| format!("{}: {e}", c.name))?;
        let history = History::load(&ccfg.results_dir);
        let view = session::plan_view(&p, &history, standin, &ts);
        let start = start_estimate(&ccfg.results_dir);
        points += view.points.len();
        total += view.total_estimate_s + start.unwrap_or(0.0);
        if start.is_none() {
            unknown_starts += 1;
        }
        combinations.push(CombinationPlan {
            name: c.name.clone(),
            settings: c.settings(),
            results_dir: ccfg.results_dir.display().to_string(),
            start_estimate_s: start,
            plan: view,
        });
    }
    let mut notes = vec![format!(
        "{} combination(s) run in this order; between them vllm serve restarts (the server container is recreated when the image or environment changes)",
        combinations.len()
    )];
    if unknown_starts > 0 {
        notes.push(format!(
            "{unknown_starts} combination(s) never started before: their server start is not in the estimate (a large model takes up to ~25 min)"
        ));
    }
    Ok(MatrixPlanView {
        combinations,
        points,
        total_estimate_s: total,
        notes,
    })
}
