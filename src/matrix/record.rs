//! A matrix's state on disk: `<results_dir>/matrix/<id>/matrix.json`, rewritten through
//! [`crate::durable`] whenever a combination starts or ends, so `--resume` knows which
//! combinations are done, which to continue (their run id) and which never started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::SweepConfig;
use crate::json_record;

pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "matrix.json";
/// What errors call the file.
const WHAT: &str = "matrix record";

/// Where a combination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CombinationStatus {
    /// Not started yet.
    Pending,
    /// Started; still so after vbench ended means vbench was killed.
    Running,
    /// Every point passed.
    Ok,
    /// Every point ran; some failed validation.
    PointsFailed,
    /// The server could not be brought up (or the container not prepared): recorded with
    /// its cause and skipped.
    Failed,
    /// Its run stopped before its points were done — the server died, the client container
    /// or the Docker Engine was lost, the client could not reach the server — and is
    /// resumable; `cause` says which.
    Stopped,
    /// Stopped by SIGINT/SIGTERM; resumable.
    Interrupted,
}

impl CombinationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CombinationStatus::Pending => "pending",
            CombinationStatus::Running => "running",
            CombinationStatus::Ok => "ok",
            CombinationStatus::PointsFailed => "points_failed",
            CombinationStatus::Failed => "failed",
            CombinationStatus::Stopped => "stopped",
            CombinationStatus::Interrupted => "interrupted",
        }
    }

    /// Done combinations are not run again by `--resume` (a failed start is a result: start
    /// a new matrix to try it again).
    pub fn done(self) -> bool {
        matches!(
            self,
            CombinationStatus::Ok | CombinationStatus::PointsFailed | CombinationStatus::Failed
        )
    }
}

/// One combination of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinationRecord {
    pub name: String,
    /// What it sets (`extra_args=--max-num-seqs 4`), secrets redacted.
    pub settings: Vec<String>,
    pub status: CombinationStatus,
    /// Its run, under `<results_dir>/<name>/runs/`.
    pub run_id: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Why it failed (the diagnosis of a failed start, the server's death), secrets scrubbed.
    pub cause: Option<String>,
}

/// The matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixRecord {
    pub schema_version: u32,
    pub matrix_id: String,
    pub created: String,
    pub updated: String,
    /// `running`, `finished`, `combinations_failed`, `interrupted`.
    pub status: String,
    /// What decides whether the matrix may be resumed: every combination's run hash.
    pub config_hash: String,
    pub standin: bool,
    pub sweeps: Vec<String>,
    pub sweep_configs: BTreeMap<String, SweepConfig>,
    pub combinations: Vec<CombinationRecord>,
}

impl MatrixRecord {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    pub fn save(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.updated = jiff::Timestamp::now().to_string();
        json_record::save(&Self::path(dir), self, WHAT)
    }

    pub fn load(dir: &Path) -> anyhow::Result<MatrixRecord> {
        let path = Self::path(dir);
        let m: MatrixRecord = json_record::read(&path, WHAT)?;
        json_record::check_schema(&path, m.schema_version, SCHEMA_VERSION)?;
        Ok(m)
    }
}

/// `<results_dir>/matrix`.
pub fn matrices_dir(results_dir: &Path) -> PathBuf {
    results_dir.join("matrix")
}

/// `<results_dir>/matrix/<id>`.
pub fn matrix_dir(results_dir: &Path, id: &str) -> PathBuf {
    matrices_dir(results_dir).join(id)
}

/// Matrix ids with a record, oldest first.
pub fn list(results_dir: &Path) -> Vec<String> {
    json_record::list(&matrices_dir(results_dir), FILE_NAME)
}

/// Resolve `latest` (or None) to the newest matrix; check a given id exists. The id of a
/// combination's run (what its own resume hint names) finds the matrix it belongs to.
pub fn find(results_dir: &Path, id: Option<&str>) -> Result<String, String> {
    let all = list(results_dir);
    if let Some(id) = id.filter(|id| *id != "latest" && !all.iter().any(|m| m == id)) {
        let holder = all.iter().rev().find(|m| {
            MatrixRecord::load(&matrix_dir(results_dir, m)).is_ok_and(|r| {
                r.combinations
                    .iter()
                    .any(|c| c.run_id.as_deref() == Some(id))
            })
        });
        if let Some(m) = holder {
            return Ok(m.clone());
        }
    }
    match id {
        None | Some("latest") => all.last().cloned().ok_or_else(|| {
            format!(
                "no matrix in {} to resume",
                matrices_dir(results_dir).display()
            )
        }),
        Some(id) if all.iter().any(|m| m == id) => Ok(id.to_string()),
        Some(id) => Err(format!(
            "no matrix {id} in {} (matrices: {})",
            matrices_dir(results_dir).display(),
            if all.is_empty() {
                "none".to_string()
            } else {
                all.join(", ")
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_find() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find(dir.path(), None).is_err());
        let mut r = MatrixRecord {
            schema_version: SCHEMA_VERSION,
            matrix_id: "20260101_000000-aa".into(),
            created: "x".into(),
            updated: String::new(),
            status: "running".into(),
            config_hash: "h".into(),
            standin: true,
            sweeps: vec!["demo".into()],
            sweep_configs: BTreeMap::new(),
            combinations: vec![CombinationRecord {
                name: "a".into(),
                settings: vec![],
                status: CombinationStatus::Pending,
                run_id: None,
                started: None,
                finished: None,
                cause: None,
            }],
        };
        let d = matrix_dir(dir.path(), &r.matrix_id);
        r.save(&d).unwrap();
        let back = MatrixRecord::load(&d).unwrap();
        assert_eq!(back, r);
        assert_eq!(find(dir.path(), None).unwrap(), r.matrix_id);
        r.combinations[0].run_id = Some("20260101_000001-bb".into());
        r.save(&d).unwrap();
        assert_eq!(
            find(dir.path(), Some("20260101_000001-bb")).unwrap(),
            r.matrix_id,
            "a combination's run finds its matrix"
        );
        assert!(
            find(dir.path(), Some("nope"))
                .unwrap_err()
                .contains(&r.matrix_id)
        );
        assert!(!CombinationStatus::Stopped.done());
        assert!(CombinationStatus::Failed.done());
    }
}
