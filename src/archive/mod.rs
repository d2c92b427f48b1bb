//! The results directory as an archive of runs: what a report, a comparison or the history
//! can read (a run by id or directory, or an import of plain result files), which earlier run
//! is the baseline (`last-good`), the trend of points across runs, and pruning old runs.
//!
//! Submodules: `source` (resolve and load a run or an import into rows and `RunMeta`),
//! `publish` (write a report, compare, judge, emit the events), `baseline` (the last good
//! run), `history` (a point's metric across runs), `prune`.

pub mod baseline;
pub mod history;
pub mod prune;
pub mod publish;
pub mod report;
pub mod source;

pub use publish::{Against, Described, publish};
pub use source::{Loaded, Source};

/// What reading the archive can fail at.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A run id, directory or file that is not there, or names nothing readable.
    #[error("{0}")]
    NotFound(String),
    /// A manifest or record that cannot be read.
    #[error("cannot {op}: {source}")]
    Read {
        op: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing a report or deleting a pruned run failed.
    #[error("cannot {op}: {source}")]
    Write {
        op: String,
        #[source]
        source: std::io::Error,
    },
}

/// A report writer's error as the `io::Error` of `ArchiveError::Write`, its causes kept (not
/// flattened into text): a write the file system refused stays one, with its kind and errno,
/// for `crate::exit` to tell.
pub(crate) fn io_error(e: anyhow::Error) -> std::io::Error {
    let kind = e
        .chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map_or(std::io::ErrorKind::Other, std::io::Error::kind);
    std::io::Error::new(kind, e)
}
