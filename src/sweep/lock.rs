//! One run at a time per results directory: an advisory lock on `<results_dir>/.vbench.lock`
//! (`File::try_lock`: released by the kernel when the holder dies, even by SIGKILL, so a
//! crashed run never leaves a stale lock), with the holder's pid, run id, host and start time
//! written inside so a refused run can name who holds it.
//!
//! The file is never deleted (deleting a lock file races with a new holder); only its content
//! changes. The check for `vllm bench` processes in the client lives in `runner`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const LOCK_FILE: &str = ".vbench.lock";

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub run_id: String,
    pub host: String,
    pub started: String,
}

impl Holder {
    /// This process, for `run_id`.
    pub fn me(run_id: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            run_id: run_id.to_string(),
            host: hostname(),
            started: jiff::Timestamp::now().to_string(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} (pid {} on {}, since {})",
            self.run_id, self.pid, self.host, self.started
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another vbench run holds {path}: {}", holder.as_ref().map(|h| h.to_string()).unwrap_or_else(|| "holder unknown".into()))]
    Held {
        path: PathBuf,
        holder: Option<Holder>,
    },
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    pub path: PathBuf,
}

impl RunLock {
    /// Take the lock in `results_dir` (created if missing) or say who holds it.
    pub fn acquire(results_dir: &Path, holder: &Holder) -> Result<RunLock, LockError> {
        let path = results_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(results_dir).map_err(io)?;
        // No truncate on open: the current holder's details must survive a failed attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(LockError::Held {
                    path: path.clone(),
                    holder: serde_json::from_str(&s).ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let body = serde_json::to_string_pretty(holder).unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(body.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(RunLock { file, path })
    }

    /// Record a different run id (the lock is taken before a resumed run's id is known).
    pub fn update(&mut self, holder: &Holder) -> std::io::Result<()> {
        let body = serde_json::to_string_pretty(holder).unwrap_or_default();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(body.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.file.sync_all()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Holder::me("run-one");
        let lock = RunLock::acquire(dir.path(), &first).expect("first lock");
        match RunLock::acquire(dir.path(), &Holder::me("run-two")) {
            Err(LockError::Held {
                holder: Some(h), ..
            }) => assert_eq!(h, first),
            other => panic!("expected Held naming run-one, got {other:?}"),
        }
        let msg = RunLock::acquire(dir.path(), &Holder::me("run-two"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("run-one") && msg.contains(&std::process::id().to_string()),
            "{msg}"
        );
        drop(lock);
        let again = RunLock::acquire(dir.path(), &Holder::me("run-two")).expect("free after drop");
        let content = std::fs::read_to_string(&again.path).expect("read");
        assert!(content.contains("run-two"), "{content}");
    }
}
