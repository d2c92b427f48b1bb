//! A fan-out run's state on disk: `<results_dir>/fanout/<id>/fanout.json`, rewritten through
//! [`crate::durable`] whenever a host starts, a unit of work starts, ends or is re-queued,
//! or a host ends — so `--resume` knows each host's run (replicate) and which units are
//! still to do (shard), and the report knows which runs hold whose points.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::SweepConfig;
use crate::json_record;

pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "fanout.json";
/// What errors call the file.
const WHAT: &str = "fan-out record";

/// How the hosts share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every host runs every point (to compare hosts or GPU types).
    #[default]
    Replicate,
    /// The points are divided among identical hosts, each with its own server; a host that
    /// is free takes the next point, a failed host's points go back in the queue.
    Shard,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "replicate" => Mode::Replicate,
            "shard" => Mode::Shard,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replicate => "replicate",
            Mode::Shard => "shard",
        }
    }
}

/// Where a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    Pending,
    Running,
    /// Every point it ran passed.
    Ok,
    /// Its points ran; some failed validation.
    PointsFailed,
    /// It could not be used or stopped on the way (unreachable, its server did not start or
    /// died, its engine was lost): `cause` says which.
    Failed,
    /// Stopped by SIGINT/SIGTERM; resumable.
    Interrupted,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Pending => "pending",
            HostStatus::Running => "running",
            HostStatus::Ok => "ok",
            HostStatus::PointsFailed => "points_failed",
            HostStatus::Failed => "failed",
            HostStatus::Interrupted => "interrupted",
        }
    }
}

/// One host of the fan-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub name: String,
    pub docker_host: String,
    pub status: HostStatus,
    /// Its runs, under `<results_dir>/hosts/<name>/runs/` (replicate: one; shard: one per
    /// unit it ran).
    pub run_ids: Vec<String>,
    pub cause: Option<String>,
}

/// Where a unit of work stands (shard mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    Pending,
    Running,
    /// Ran: every point passed.
    Ok,
    /// Ran: some point failed validation (a result, not a host failure).
    PointsFailed,
}

/// One unit of work in shard mode: one point of one sweep (with its repeats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub sweep: String,
    pub input_len: u64,
    /// `None`: an SLO search over this input length (its levels are searched in one run).
    pub concurrency: Option<u64>,
    pub status: UnitStatus,
    /// The host that ran it (or runs it now).
    pub host: Option<String>,
    pub run_id: Option<String>,
    /// Hosts that took it and failed, in order (a re-queued unit names each).
    pub failed_on: Vec<String>,
}

impl UnitRecord {
    /// `demo 128 C=4`.
    pub fn label(&self) -> String {
        match self.concurrency {
            Some(c) => format!("{} {} C={c}", self.sweep, self.input_len),
            None => format!("{} {}", self.sweep, self.input_len),
        }
    }

    pub fn done(&self) -> bool {
        matches!(self.status, UnitStatus::Ok | UnitStatus::PointsFailed)
    }
}

/// The fan-out run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutRecord {
    pub schema_version: u32,
    pub fanout_id: String,
    pub created: String,
    pub updated: String,
    pub mode: Mode,
    /// `running`, `finished`, `hosts_failed`, `interrupted`.
    pub status: String,
    pub standin: bool,
    pub sweeps: Vec<String>,
    pub sweep_configs: BTreeMap<String, SweepConfig>,
    pub hosts: Vec<HostRecord>,
    /// Shard mode's units (empty in replicate mode).
    pub units: Vec<UnitRecord>,
}

impl FanoutRecord {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    pub fn save(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.updated = jiff::Timestamp::now().to_string();
        json_record::save(&Self::path(dir), self, WHAT)
    }

    pub fn load(dir: &Path) -> anyhow::Result<FanoutRecord> {
        let path = Self::path(dir);
        let r: FanoutRecord = json_record::read(&path, WHAT)?;
        json_record::check_schema(&path, r.schema_version, SCHEMA_VERSION)?;
        Ok(r)
    }

    pub fn host_mut(&mut self, name: &str) -> Option<&mut HostRecord> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }
}

/// `<results_dir>/fanout`.
pub fn fanouts_dir(results_dir: &Path) -> PathBuf {
    results_dir.join("fanout")
}

/// `<results_dir>/fanout/<id>`.
pub fn fanout_dir(results_dir: &Path, id: &str) -> PathBuf {
    fanouts_dir(results_dir).join(id)
}

/// Fan-out ids with a record, oldest first.
pub fn list(results_dir: &Path) -> Vec<String> {
    json_record::list(&fanouts_dir(results_dir), FILE_NAME)
}

/// Resolve `latest` to the newest fan-out; check a given id exists.
pub fn find(results_dir: &Path, id: &str) -> Result<String, String> {
    let all = list(results_dir);
    match id {
        "latest" => all.last().cloned().ok_or_else(|| {
            format!(
                "no fan-out run in {} to resume",
                fanouts_dir(results_dir).display()
            )
        }),
        id if all.iter().any(|m| m == id) => Ok(id.to_string()),
        id => Err(format!(
            "no fan-out run {id} in {} (fan-out runs: {})",
            fanouts_dir(results_dir).display(),
            if all.is_empty() {
                "none".to_string()
            } else {
                all.join(", ")
            }
        )),
    }
}
