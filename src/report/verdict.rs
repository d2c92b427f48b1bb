//! The verdict of a comparison, for cron: did the new run regress against the baseline?
//! Three outcomes, never confused: `Pass`, `Regressed` (naming each point and metric), and
//! `CannotJudge` (a point failed or is missing in either run, or the runs differ in model,
//! image digest, serve arguments or GPU — an outage or a configuration change is neither a
//! regression nor a pass).

use serde::Serialize;

/// The three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Regressed,
    CannotJudge,
}

/// One metric of one point that got worse beyond both the threshold and the noise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `production input 1K output 500 conc 5`.
    pub point: String,
    /// Metric id (`output_throughput`, `p99_ttft_ms`, …).
    pub metric: String,
    /// Medians over the repeats.
    pub baseline: f64,
    pub current: f64,
    /// How much worse, relative to the baseline (0.12 = 12 % worse).
    pub worse_by: f64,
    /// The relative spread seen between repeats (the larger of the two runs); 0 without
    /// repeats.
    pub noise: f64,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The baseline's and the new run's titles (run ids or import names).
    pub baseline: String,
    pub current: String,
    /// Relative change that counts (0.05 = 5 %).
    pub threshold: f64,
    /// Every regression (empty unless `Regressed`).
    pub regressions: Vec<Finding>,
    /// Why the runs cannot be judged (empty unless `CannotJudge`).
    pub reasons: Vec<String>,
    /// How many points were compared.
    pub compared: usize,
}
