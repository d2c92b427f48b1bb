//! A results directory that cannot be written — its file system full or read-only — is
//! neither a bug nor the server's fault: the run stops with one message that names the
//! directory, the write that was refused and the way on (free space or make it writable,
//! then `--resume`), and keeps everything written before. `explain` turns any run error
//! whose chain holds such a refused write into `RunError::Storage`.

use std::path::Path;

use super::error::RunError;
use super::{manifest, session};
use crate::durable::{self, Refusal};

/// `err` as `RunError::Storage` when a refused write is among its causes, else unchanged.
/// `run_id`: the run under way, if one was resolved (its manifest on disk makes it
/// resumable).
pub fn explain(err: RunError, results_dir: &Path, run_id: Option<&str>) -> RunError {
    if matches!(err, RunError::Storage { .. }) {
        return err;
    }
    let Some(refusal) = durable::refusal_in(&err) else {
        return err;
    };
    let dir = results_dir.display();
    let (cause, fix) = match refusal {
        Refusal::Full => (
            format!("the results directory {dir} is full (its file system has no space left)"),
            "free space there",
        ),
        Refusal::ReadOnly => (
            format!("the results directory {dir} is read-only (its file system refuses writes)"),
            "make it writable (remount it read-write, or set results_dir elsewhere)",
        ),
    };
    let saved =
        run_id.filter(|id| manifest::Manifest::path(&session::run_dir(results_dir, id)).is_file());
    let next = match saved {
        Some(id) => format!(
            "every result written before is kept and the run is saved: {fix}, then `vbench run --resume {id}` continues it"
        ),
        None => format!("nothing was lost: {fix}, then run again"),
    };
    let detail = crate::error_text::chain(&err);
    RunError::Storage {
        message: format!("{cause}: {detail}; {next}"),
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(errno: rustix::io::Errno) -> RunError {
        RunError::State {
            op: "write /r/x.json".into(),
            source: std::io::Error::from_raw_os_error(errno.raw_os_error()).into(),
        }
    }

    #[test]
    fn full_and_read_only_are_explained_others_kept() {
        let d = tempfile::tempdir().expect("tempdir");
        let e = explain(io(rustix::io::Errno::NOSPC), d.path(), None);
        let text = e.to_string();
        assert!(matches!(e, RunError::Storage { .. }), "{e:?}");
        assert!(text.contains("is full"), "{text}");
        assert!(text.contains("write /r/x.json"), "{text}");
        assert!(text.contains("free space there, then run again"), "{text}");
        let e = explain(io(rustix::io::Errno::ROFS), d.path(), Some("r1"));
        assert!(e.to_string().contains("is read-only"), "{e}");
        // No manifest for r1: not resumable.
        assert!(!e.to_string().contains("--resume"), "{e}");
        let other = explain(io(rustix::io::Errno::ACCESS), d.path(), None);
        assert!(matches!(other, RunError::State { .. }), "{other:?}");
    }

    #[test]
    fn a_saved_run_is_named_for_resume() {
        let d = tempfile::tempdir().expect("tempdir");
        let run_dir = session::run_dir(d.path(), "r1");
        std::fs::create_dir_all(&run_dir).expect("mkdir");
        std::fs::write(manifest::Manifest::path(&run_dir), "{}").expect("write");
        let e = explain(io(rustix::io::Errno::NOSPC), d.path(), Some("r1"));
        assert!(
            e.to_string()
                .contains("free space there, then `vbench run --resume r1` continues it"),
            "{e}"
        );
    }
}
