//! vbench's state records as JSON files (a run's manifest, a matrix's record, a fan-out's
//! record): saved pretty-printed through [`crate::durable`] and read back with the file's
//! path in every error and their schema version checked, so that every record is written,
//! read and refused the same way. The records own their types and when they are saved.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Replace the record at `path` durably; `what` names it in errors (`manifest`).
pub fn save(path: &Path, record: &impl Serialize, what: &str) -> anyhow::Result<()> {
    let bytes =
        serde_json::to_vec_pretty(record).with_context(|| format!("serialising the {what}"))?;
    crate::durable::write_replace(path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The record at `path`, parsed (its schema version not checked yet: see [`check_schema`]).
pub fn read<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a vbench {what}", path.display()))
}

/// The ids of the records in `dir`: its subdirectories holding a `file_name`, sorted (ids
/// start with their timestamp, so oldest first). None when `dir` cannot be read.
pub fn list(dir: &Path, file_name: &str) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(file_name).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

/// Refuse a record of another schema version than the one this vbench reads.
pub fn check_schema(path: &Path, found: u32, reads: u32) -> anyhow::Result<()> {
    if found != reads {
        anyhow::bail!(
            "{}: schema_version {found} (this vbench reads {reads})",
            path.display()
        );
    }
    Ok(())
}
