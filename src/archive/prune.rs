//! `vbench prune --keep N`: delete all but the newest N runs — each run's directory and the
//! result files it wrote in the manual layout — so a nightly job does not fill the disk.
//! Imports, server records and logs are left alone.

use std::path::{Path, PathBuf};

use super::ArchiveError;
use crate::sweep::manifest::{self, Manifest};
use crate::sweep::session;

/// What pruning removed (or would remove).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Pruned {
    pub runs: Vec<String>,
    pub files: Vec<PathBuf>,
    pub kept: usize,
}

/// Remove every run but the newest `keep`. The caller holds the results directory's lock, so
/// no run is in progress.
pub fn prune(results_dir: &Path, keep: usize) -> Result<Pruned, ArchiveError> {
    let runs = manifest::list_runs(results_dir);
    let cut = runs.len().saturating_sub(keep);
    let mut out = Pruned {
        kept: runs.len() - cut,
        ..Default::default()
    };
    for id in &runs[..cut] {
        let dir = session::run_dir(results_dir, id);
        // A run whose manifest cannot be read still goes; its result files are then kept.
        if let Ok(m) = Manifest::load(&dir) {
            for rel in m.points.iter().filter_map(|p| p.result_file.as_deref()) {
                let f = results_dir.join(rel);
                match std::fs::remove_file(&f) {
                    Ok(()) => out.files.push(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(ArchiveError::Write {
                            op: format!("remove {}", f.display()),
                            source,
                        });
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).map_err(|source| ArchiveError::Write {
            op: format!("remove {}", dir.display()),
            source,
        })?;
        out.runs.push(id.clone());
    }
    Ok(out)
}
