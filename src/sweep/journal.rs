//! The run's journal: an append-only, fsynced log of state changes next to the manifest
//! (`<run dir>/journal.jsonl`), so recording a point costs one short line however long the
//! run is, instead of rewriting the whole manifest (1.5 MB at 1000 points) after every point.
//!
//! Each line is one JSON object: `{"point": i, "record": {…PointRecord…}}` (the point's whole
//! new state), `{"status": "…"}`, or `{"gpu_sample": {…}}`. `Manifest::load` replays the
//! journal over `manifest.json`; `Manifest::save` writes the full manifest (compaction) and
//! then removes the journal — a crash in between replays records that are already in the
//! manifest, which changes nothing. A torn last line (a crash mid-write) is ignored.
//!
//! Durability: every line is written (so in the kernel's page cache: a killed vbench loses
//! nothing) before the call returns; a point record's `fdatasync` (~1–10 ms on a loaded disk,
//! more than the rest of a point's bookkeeping) runs on a thread of its own, overlapping
//! the point's work, and is waited for before the next record — at most one is in flight,
//! and its error is never lost. So a power cut can lose at most the last record: a lost
//! "running" line leaves the point pending (it runs again), a lost final line leaves it
//! running (resume collects its result from the host). GPU sample lines are not synced on
//! their own: the point record that follows each one syncs it.

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
    /// The sync of the last point record, running on its own thread.
    syncing: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Journal {
    /// Open (create) `<run_dir>/journal.jsonl` for appending.
    pub fn open(run_dir: &Path) -> std::io::Result<Journal> {
        let path = path(run_dir);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Journal {
            file,
            path,
            syncing: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One write of the whole line (a crash mid-write tears only this line).
    fn write(&mut self, e: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }

    fn append(&mut self, e: &Entry) -> std::io::Result<()> {
        self.settle()?;
        self.write(e)?;
        self.file.sync_data()
    }

    /// Wait for the last point record's sync; its error, if it failed.
    pub fn settle(&mut self) -> std::io::Result<()> {
        match self.syncing.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the journal's sync panicked"))),
            None => Ok(()),
        }
    }

    /// Point `i`'s new state: written now, synced on a thread of its own (waited for by the
    /// next record; see the module doc).
    pub fn point(&mut self, i: usize, r: &PointRecord) -> std::io::Result<()> {
        self.settle()?;
        self.write(&Entry::Point {
            point: i,
            record: Box::new(r.clone()),
        })?;
        let file = self.file.try_clone()?;
        self.syncing = Some(std::thread::spawn(move || file.sync_data()));
        Ok(())
    }

    /// The run's new status.
    pub fn status(&mut self, status: &str) -> std::io::Result<()> {
        self.append(&Entry::Status {
            status: status.to_string(),
        })
    }

    /// A GPU sample kept with the run: written, and synced by the point record that follows.
    pub fn gpu_sample(&mut self, v: &serde_json::Value) -> std::io::Result<()> {
        self.write(&Entry::Gpu {
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
