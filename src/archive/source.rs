//! What a report, a comparison or a history reads: a vbench run (by id in the results
//! directory, `latest`, or its directory) or an import of plain result files and directories,
//! loaded into report rows plus what is known about the run (`RunMeta`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ArchiveError;
use crate::report::import::{self, Problem};
use crate::report::{Row, RunMeta};
use crate::sweep::manifest::{self, Manifest};
use crate::sweep::{rows, session};

/// Something to report on.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A vbench run: its id and directory (holding `manifest.json`).
    Run { id: String, dir: PathBuf },
    /// Plain result files and directories.
    Import { paths: Vec<PathBuf> },
}

/// A loaded source.
#[derive(Debug)]
pub struct Loaded {
    pub source: Source,
    pub meta: RunMeta,
    pub rows: Vec<Row>,
    /// Files of an import that could not be read (never those of a run).
    pub problems: Vec<Problem>,
    /// The run's manifest, for a run.
    pub manifest: Option<Manifest>,
}

/// Resolve what the user named: nothing or `latest` (the newest run), a run id, a run
/// directory, or files and directories to import. Several names are one import; a run must be
/// named alone.
pub fn resolve(results_dir: &Path, specs: &[String]) -> Result<Source, ArchiveError> {
    match specs {
        [] => resolve_run_id(results_dir, None),
        [one] => resolve_one(results_dir, one),
        many => {
            let mut paths = Vec::new();
            for s in many {
                match resolve_one(results_dir, s)? {
                    Source::Import { paths: p } => paths.extend(p),
                    Source::Run { id, .. } => {
                        return Err(ArchiveError::NotFound(format!(
                            "{id} is a run: name a run alone, or several result files and directories"
                        )));
                    }
                }
            }
            Ok(Source::Import { paths })
        }
    }
}

fn resolve_one(results_dir: &Path, spec: &str) -> Result<Source, ArchiveError> {
    if spec == "latest" {
        return resolve_run_id(results_dir, None);
    }
    let path = Path::new(spec);
    if path.join(manifest::FILE_NAME).is_file() {
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_string());
        return Ok(Source::Run {
            id,
            dir: path.to_path_buf(),
        });
    }
    if manifest::list_runs(results_dir).iter().any(|r| r == spec) {
        return resolve_run_id(results_dir, Some(spec));
    }
    if path.exists() {
        return Ok(Source::Import {
            paths: vec![path.to_path_buf()],
        });
    }
    let runs = manifest::list_runs(results_dir);
    Err(ArchiveError::NotFound(format!(
        "{spec} is neither a run in {} nor a file or directory (runs: {})",
        manifest::runs_dir(results_dir).display(),
        if runs.is_empty() {
            "none".to_string()
        } else {
            runs.join(", ")
        }
    )))
}

fn resolve_run_id(results_dir: &Path, id: Option<&str>) -> Result<Source, ArchiveError> {
    let id = manifest::find_run(results_dir, id)
        .map_err(|e| ArchiveError::NotFound(format!("{e:#}")))?;
    Ok(Source::Run {
        dir: session::run_dir(results_dir, &id),
        id,
    })
}

/// Load a source: a run's rows from its manifest, or an import's rows from its files.
pub fn load(results_dir: &Path, source: &Source) -> Result<Loaded, ArchiveError> {
    match source {
        Source::Run { id, dir } => {
            let m = Manifest::load(dir).map_err(|e| ArchiveError::Read {
                op: format!("read run {id}"),
                source: e.into(),
            })?;
            // A run directory named outside the results directory: its result paths are
            // relative to the results directory that holds it (`<results>/runs/<id>`).
            let base = dir
                .parent()
                .and_then(Path::parent)
                .filter(|_| dir.parent().and_then(Path::file_name) == Some("runs".as_ref()))
                .unwrap_or(results_dir);
            let rows = rows::rows_from_manifest_in(&m, base, dir);
            Ok(Loaded {
                meta: meta_of_run(&m, dir),
                rows,
                problems: vec![],
                manifest: Some(m),
                source: source.clone(),
            })
        }
        Source::Import { paths } => {
            let imported = import::import(paths);
            let meta = meta_of_import(paths, &imported.rows);
            Ok(Loaded {
                meta,
                rows: imported.rows,
                problems: imported.problems,
                manifest: None,
                source: source.clone(),
            })
        }
    }
}

/// What a run's manifest (and its server record, when still there) says about it.
pub fn meta_of_run(m: &Manifest, run_dir: &Path) -> RunMeta {
    let server = m.server.as_ref();
    let record = server
        .and_then(|s| s.record_path.as_deref())
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let from_record = |ptr: &str| {
        record
            .as_ref()
            .and_then(|r| r.pointer(ptr))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    RunMeta {
        title: m.run_id.clone(),
        source: run_dir.display().to_string(),
        standin: m.standin,
        vbench_version: from_record("/vbench_version")
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        model: server.and_then(|s| nonempty(&s.model_id)),
        vllm_version: server.and_then(|s| nonempty(&s.version)),
        image: server
            .and_then(|s| nonempty(&s.image))
            .or_else(|| from_record("/image/reference")),
        image_digest: server
            .and_then(|s| nonempty(&s.image_digest))
            .or_else(|| from_record("/image/digests/0"))
            .or_else(|| from_record("/image/id")),
        serve_args: server
            .filter(|s| !s.serve_args.is_empty())
            .map(|s| s.serve_args.clone())
            .or_else(|| {
                record
                    .as_ref()
                    .and_then(|r| serde_json::from_value(r.get("serve_argv")?.clone()).ok())
            }),
        gpus: server.map(|s| s.gpus.clone()).unwrap_or_default(),
        started: Some(m.created.clone()),
        config: Some(m.config.clone()),
        server_record: record,
    }
}

/// What an import's files say: the model when they agree on one.
fn meta_of_import(paths: &[PathBuf], rows: &[Row]) -> RunMeta {
    let mut models: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.result.as_ref()?.get_str("model_id"))
        .collect();
    models.sort_unstable();
    models.dedup();
    RunMeta {
        title: import_name(paths),
        source: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        vbench_version: env!("CARGO_PKG_VERSION").to_string(),
        model: (models.len() == 1).then(|| models[0].to_string()),
        ..Default::default()
    }
}

/// A stable name for an import: the first path's name and a short hash of all of them
/// (`production-1a2b3c4d`), so importing the same files again writes the same report.
pub fn import_name(paths: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for p in paths {
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        h.update(abs.to_string_lossy().as_bytes());
        h.update([0]);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let first = paths
        .first()
        .and_then(|p| p.file_stem())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    format!("{first}-{hex}")
}

/// Where an import's report goes unless `--out-dir` says otherwise: under the results
/// directory, never inside the imported directories.
pub fn import_report_dir(results_dir: &Path, paths: &[PathBuf]) -> PathBuf {
    results_dir.join("reports").join(import_name(paths))
}
