//! The run's journal: an append-only, fsynced log of state changes next to the manifest
//! (`<run dir>/journal.jsonl`), so recording a point costs one short line however long the
//! run is, instead of rewriting the whole manifest (1.5 MB at 1000 points) after every point.
//!
//! Each line is one JSON object: `{"point": i, "record": {…PointRecord…}}` (the point's whole
//! new state), `{"status": "…"}`, or `{"gpu_sample": {…}}`. `Manifest::load` replays the
//! journal over `manifest.json`; `Manifest::save` writes the full manifest (compaction) and
//! then removes the journal — a crash in between replays records that are already in the
//! manifest, which changes nothing. A torn last line (a crash mid-write) is ignored.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{Manifest, PointRecord};

pub const FILE_NAME: &str = "journal.jsonl";

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Entry {
    Point {
        point: usize,
        record: Box<PointRecord>,
    },
    Status {
        status: String,
    },
    Gpu {
        gpu_sample: serde_json::Value,
    },
}

/// The open journal of a run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Open (create) `<run_dir>/journal.jsonl` for appending.
    pub fn open(run_dir: &Path) -> std::io::Result<Journal> {
        let path = path(run_dir);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Journal { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, e: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        // One write of the whole line, then a data sync: the record is on disk before the
        // run goes on (a point's result is never "done" only in memory).
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    /// Point `i`'s new state.
    pub fn point(&mut self, i: usize, r: &PointRecord) -> std::io::Result<()> {
        self.append(&Entry::Point {
            point: i,
            record: Box::new(r.clone()),
        })
    }

    /// The run's new status.
    pub fn status(&mut self, status: &str) -> std::io::Result<()> {
        self.append(&Entry::Status {
            status: status.to_string(),
        })
    }

    /// A GPU sample kept with the run.
    pub fn gpu_sample(&mut self, v: &serde_json::Value) -> std::io::Result<()> {
        self.append(&Entry::Gpu {
            gpu_sample: v.clone(),
        })
    }
}

/// `<run_dir>/journal.jsonl`.
pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join(FILE_NAME)
}

/// Apply the journal in `run_dir` (if any) to `m`; how many entries were applied.
pub fn replay(run_dir: &Path, m: &mut Manifest) -> std::io::Result<usize> {
    let text = match std::fs::read(path(run_dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        // A torn last line (the crash came mid-write) is skipped; everything before it holds.
        let Ok(e) = serde_json::from_slice::<Entry>(line) else {
            continue;
        };
        match e {
            Entry::Point { point, record } => {
                if let Some(slot) = m.points.get_mut(point) {
                    *slot = *record;
                }
            }
            Entry::Status { status } => m.status = status,
            Entry::Gpu { gpu_sample } => m.gpu_samples.push(gpu_sample),
        }
        n += 1;
    }
    Ok(n)
}

/// Remove the journal once the manifest holds everything.
pub fn remove(run_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path(run_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::manifest::PointStatus;
    use crate::sweep::plan::{self, ContextLimit};

    fn manifest() -> Manifest {
        let cfg = crate::config::Config::default();
        let s = crate::sweep::presets::preset("demo").expect("demo");
        let p =
            plan::build(&cfg, &[("demo".into(), s.clone())], ContextLimit::Unknown).expect("plan");
        crate::sweep::session::new_manifest("r", &cfg, &[("demo".into(), s)], &p, None, true)
    }

    #[test]
    fn journal_replays_over_the_manifest_and_compaction_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = manifest();
        m.save(dir.path()).expect("save");
        let mut j = Journal::open(dir.path()).expect("open");
        m.points[2].status = PointStatus::Ok;
        m.points[2].attempts = 1;
        j.point(2, &m.points[2]).expect("append");
        j.status("running").expect("append");
        j.gpu_sample(&serde_json::json!({"after_point": "x"}))
            .expect("append");
        // A torn last line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .and_then(|mut f| f.write_all(b"{\"point\": 3, \"rec"))
            .expect("tear");
        let back = Manifest::load(dir.path()).expect("load");
        assert_eq!(back.points[2].status, PointStatus::Ok);
        assert_eq!(back.points[3].status, PointStatus::Pending);
        assert_eq!(back.status, "running");
        assert_eq!(back.gpu_samples.len(), 1);
        // Compaction: the manifest holds it all, the journal is gone, a reload is the same.
        let mut back2 = back.clone();
        back2.save(dir.path()).expect("compact");
        assert!(!path(dir.path()).exists());
        let again = Manifest::load(dir.path()).expect("load");
        assert_eq!(again.points, back.points);
    }

    #[test]
    fn appending_costs_the_same_however_long_the_run() {
        // The journal grows by one line per record: its size is linear in records, not
        // quadratic as rewriting the manifest after each point was.
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manifest();
        let mut j = Journal::open(dir.path()).expect("open");
        let len = |d: &Path| std::fs::metadata(path(d)).expect("meta").len();
        j.point(0, &m.points[0]).expect("append");
        let one = len(dir.path());
        for _ in 0..99 {
            j.point(0, &m.points[0]).expect("append");
        }
        assert_eq!(len(dir.path()), one * 100);
    }
}
