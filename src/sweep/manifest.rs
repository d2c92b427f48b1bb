//! The run's state on disk: `<results_dir>/runs/<id>/manifest.json`, rewritten through
//! [`crate::durable`] (by [`crate::json_record`]) after every point, so a crash at any
//! moment leaves either the old or the new state, and `--resume` knows exactly which points
//! are done.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::plan::Point;
use crate::json_record;

/// Bumped when the manifest's meaning changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointStatus {
    /// Not run yet (or to be re-run: interrupted, or the server died under it).
    Pending,
    /// Started; if a manifest still says so after vbench ended, vbench was killed.
    Running,
    Ok,
    Failed,
    Skipped,
}

impl PointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PointStatus::Pending => "pending",
            PointStatus::Running => "running",
            PointStatus::Ok => "ok",
            PointStatus::Failed => "failed",
            PointStatus::Skipped => "skipped",
        }
    }

    /// Done points are not run again by `--resume`.
    pub fn done(self) -> bool {
        matches!(
            self,
            PointStatus::Ok | PointStatus::Failed | PointStatus::Skipped
        )
    }
}

/// The headline figures of a point's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub completed: u64,
    pub failed: u64,
    pub total_output_tokens: u64,
    pub duration_s: Option<f64>,
    pub mean_ttft_ms: Option<f64>,
    pub mean_tpot_ms: Option<f64>,
    pub mean_e2el_ms: Option<f64>,
    pub request_throughput: Option<f64>,
    pub output_throughput: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    #[serde(flatten)]
    pub point: Point,
    pub status: PointStatus,
    pub reason: Option<String>,
    /// Result file name (set when the point starts, so a crash can be recovered by name).
    pub file_name: Option<String>,
    /// Host path of the result file, relative to the results directory.
    pub result_file: Option<String>,
    /// Result files of earlier attempts that did not count (the server died or the client
    /// could not reach it under them): still on the host, named here so none is unaccounted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// Host path of the point's console log, relative to the run directory.
    pub log_file: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub elapsed_s: Option<f64>,
    /// How many times vbench started this point.
    pub attempts: u32,
    pub metrics: Option<Metrics>,
    /// GPU and server telemetry over the point: min, mean and max of each series.
    #[serde(default)]
    pub telemetry: Option<std::collections::BTreeMap<String, crate::telemetry::SeriesStats>>,
}

impl PointRecord {
    pub fn new(point: Point) -> Self {
        let (status, reason) = match &point.skip {
            Some(r) => (PointStatus::Skipped, Some(r.clone())),
            None => (PointStatus::Pending, None),
        };
        PointRecord {
            point,
            status,
            reason,
            file_name: None,
            result_file: None,
            superseded: Vec::new(),
            log_file: None,
            started: None,
            finished: None,
            elapsed_s: None,
            attempts: 0,
            metrics: None,
            telemetry: None,
        }
    }
}

/// What is known of the server the run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    pub model_id: String,
    pub root: String,
    pub max_model_len: u64,
    pub version: String,
    pub url_in_network: String,
    pub record_path: Option<String>,
    /// What served the run, for telling comparable runs apart (empty in older manifests).
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub image_digest: String,
    #[serde(default)]
    pub serve_args: Vec<String>,
    #[serde(default)]
    pub gpus: Vec<String>,
}

/// Run status: `running`, `finished` (all points done), `interrupted`, `server_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub run_id: String,
    pub created: String,
    pub updated: String,
    pub status: String,
    /// Hash of what makes results comparable (server, client, plan); `--resume` checks it.
    pub config_hash: String,
    /// The effective configuration, secrets redacted.
    pub config: serde_json::Value,
    pub sweeps: Vec<String>,
    /// The definition of each sweep as planned, so a resume needs nothing but the run (a
    /// custom sweep from flags has no other home). Empty in manifests of older vbench.
    #[serde(default)]
    pub sweep_configs: std::collections::BTreeMap<String, crate::config::SweepConfig>,
    /// Measured on the CPU stand-in (never a GPU measurement).
    pub standin: bool,
    pub server: Option<ServerSnapshot>,
    pub points: Vec<PointRecord>,
    /// GPU samples taken between points, when available.
    #[serde(default)]
    pub gpu_samples: Vec<serde_json::Value>,
    /// How the client ran the points (`worker (vllm=…)`, `process`, or an exec per point).
    #[serde(default)]
    pub client_mode: Option<String>,
    /// The verdict against a baseline, when the run was judged (`--baseline`).
    #[serde(default)]
    pub verdict: Option<VerdictRecord>,
}

/// What the run's verdict was, and against which run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// `pass`, `regressed` or `cannot judge`.
    pub outcome: String,
    pub baseline: String,
}

impl Manifest {
    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join(FILE_NAME)
    }

    /// Replace the manifest durably (see [`crate::durable`]) with everything in memory, then
    /// drop the journal it now holds (compaction: at a run's start and end, and on resume).
    pub fn save(&mut self, run_dir: &Path) -> anyhow::Result<()> {
        self.updated = jiff::Timestamp::now().to_string();
        json_record::save(&Self::path(run_dir), self, "manifest")?;
        super::journal::remove(run_dir)
            .with_context(|| format!("cannot remove the journal in {}", run_dir.display()))
    }

    /// The manifest with its journal's records applied.
    pub fn load(run_dir: &Path) -> anyhow::Result<Manifest> {
        let path = Self::path(run_dir);
        let mut m: Manifest = json_record::read(&path, "manifest")?;
        super::journal::replay(run_dir, &mut m)
            .with_context(|| format!("cannot read {}", super::journal::path(run_dir).display()))?;
        json_record::check_schema(&path, m.schema_version, SCHEMA_VERSION)?;
        Ok(m)
    }

    pub fn count(&self, status: PointStatus) -> usize {
        self.points.iter().filter(|p| p.status == status).count()
    }
}

/// `<results_dir>/runs`.
pub fn runs_dir(results_dir: &Path) -> PathBuf {
    results_dir.join("runs")
}

/// Run ids with a manifest, oldest first (ids start with their timestamp).
pub fn list_runs(results_dir: &Path) -> Vec<String> {
    json_record::list(&runs_dir(results_dir), FILE_NAME)
}

/// Resolve `latest` (or None) to the newest run id; check a given id exists.
pub fn find_run(results_dir: &Path, id: Option<&str>) -> anyhow::Result<String> {
    let runs = list_runs(results_dir);
    match id {
        None | Some("latest") => runs.last().cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "no runs in {} (nothing to resume or report)",
                runs_dir(results_dir).display()
            )
        }),
        Some(id) if runs.iter().any(|r| r == id) => Ok(id.to_string()),
        Some(id) => anyhow::bail!(
            "no run {id} in {} (runs: {})",
            runs_dir(results_dir).display(),
            runs.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::plan::{self, ContextLimit};

    fn manifest() -> Manifest {
        let cfg = crate::config::Config::default();
        let s = crate::sweep::presets::preset("production").expect("preset");
        let p = plan::build(&cfg, &[("production".into(), s)], ContextLimit::Live(32768))
            .expect("plan");
        Manifest {
            schema_version: SCHEMA_VERSION,
            run_id: "20260101_000000-00000000".into(),
            created: "2026-01-01T00:00:00Z".into(),
            updated: String::new(),
            status: "running".into(),
            config_hash: "abc".into(),
            config: cfg.redacted(),
            sweeps: vec!["production".into()],
            sweep_configs: Default::default(),
            standin: false,
            server: Some(ServerSnapshot {
                model_id: "m".into(),
                max_model_len: 32768,
                ..Default::default()
            }),
            points: p.points.into_iter().map(PointRecord::new).collect(),
            gpu_samples: vec![],
            client_mode: None,
            verdict: None,
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = manifest();
        m.points[0].status = PointStatus::Ok;
        m.points[0].metrics = Some(Metrics {
            completed: 1,
            mean_ttft_ms: Some(12.5),
            ..Default::default()
        });
        m.save(dir.path()).expect("save");
        let back = Manifest::load(dir.path()).expect("load");
        assert_eq!(back, m);
        assert_eq!(back.count(PointStatus::Skipped), 15);
        assert_eq!(back.count(PointStatus::Pending), 24);
        // No temp file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn wrong_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = manifest();
        m.schema_version = 99;
        m.save(dir.path()).expect("save");
        let e = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("schema_version 99"), "{e}");
    }

    #[test]
    fn latest_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(find_run(dir.path(), None).is_err());
        for id in ["20260101_000000-aa", "20260102_000000-bb"] {
            let d = runs_dir(dir.path()).join(id);
            std::fs::create_dir_all(&d).expect("mkdir");
            let mut m = manifest();
            m.run_id = id.into();
            m.save(&d).expect("save");
        }
        assert_eq!(
            find_run(dir.path(), Some("latest")).expect("latest"),
            "20260102_000000-bb"
        );
        assert_eq!(
            find_run(dir.path(), Some("20260101_000000-aa")).expect("id"),
            "20260101_000000-aa"
        );
        assert!(
            find_run(dir.path(), Some("x"))
                .unwrap_err()
                .to_string()
                .contains("20260101_000000-aa")
        );
    }
}
