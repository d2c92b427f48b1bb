//! One run at a time per results directory: an advisory lock on `<results_dir>/.vbench.lock`
//! (`File::try_lock`, an flock held for the run's life: released by the kernel when the
//! holder dies, even by SIGKILL, so a crashed run never leaves a lock that blocks the next
//! one, and a live holder is never taken over whatever its record says). The file holds a
//! human-readable record of the holder: pid, run id, host, start time, and what tells that
//! process apart from a later one with the same pid (its start time in clock ticks since boot,
//! `/proc/<pid>/stat` field 22, and the boot id). A holder that releases the lock empties the
//! record, so a record found under a free lock was left by a holder that died: the new holder
//! says whose it was and why it is stale (`Stale`).
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
    /// The holder's start time in clock ticks after boot (`/proc/<pid>/stat` field 22): with
    /// `boot_id`, what tells the holder from a later process that got the same pid.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` when the lock was taken.
    #[serde(default)]
    pub boot_id: Option<String>,
}

impl Holder {
    /// This process, for `run_id`.
    pub fn me(run_id: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            run_id: run_id.to_string(),
            host: hostname(),
            started: jiff::Timestamp::now().to_string(),
            start_ticks: start_ticks(pid),
            boot_id: boot_id(),
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

/// Why a record found under a free lock is stale: its holder ended without releasing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// No process has that pid any more.
    Exited,
    /// The pid belongs to a process that started at another time: reused.
    PidReused,
    /// The machine restarted since (another boot id).
    Rebooted,
    /// The holder ran on another host (a shared results directory).
    OtherHost,
    /// The very process still runs (same pid and start time) but no longer holds the lock.
    AliveWithoutLock,
    /// The record is not readable.
    Unreadable,
}

/// A stale record taken over by `acquire`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub holder: Option<Holder>,
    pub why: Staleness,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(h) = &self.holder else {
            return write!(
                f,
                "a lock record that cannot be read was left behind (nothing holds the lock)"
            );
        };
        let why = match self.why {
            Staleness::Exited => format!(
                "pid {} is not running: that vbench ended without releasing it (killed?)",
                h.pid
            ),
            Staleness::PidReused => format!(
                "pid {} now belongs to another process (started at another time): the holder is gone",
                h.pid
            ),
            Staleness::Rebooted => {
                "the machine restarted since (another boot id): the holder is gone".to_string()
            }
            Staleness::OtherHost => {
                format!("it ran on {}, and nothing holds the lock any more", h.host)
            }
            Staleness::AliveWithoutLock => {
                format!("pid {} still runs but no longer holds the lock", h.pid)
            }
            Staleness::Unreadable => "its record cannot be read".to_string(),
        };
        write!(f, "the lock of {h} was left behind: {why}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another vbench run holds {path}: {}; wait for it to end, or stop it (Ctrl-C saves it for `vbench run --resume`)", holder.as_ref().map(|h| h.to_string()).unwrap_or_else(|| "holder unknown".into()))]
    Held {
        path: PathBuf,
        /// Boxed: the error travels in every `Result` of the pipeline.
        holder: Option<Box<Holder>>,
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
    /// The record of an earlier holder that died without releasing the lock, if any.
    pub stale: Option<Stale>,
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
                    holder: serde_json::from_str(&s).ok().map(Box::new),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Ours now. A record left in the file is a holder that died holding it.
        let mut old = String::new();
        let _ = file.read_to_string(&mut old);
        let stale = (!old.trim().is_empty()).then(|| {
            let prev: Option<Holder> = serde_json::from_str(&old).ok();
            let why = match &prev {
                Some(h) => judge(h, &hostname(), boot_id().as_deref(), start_ticks),
                None => Staleness::Unreadable,
            };
            Stale { holder: prev, why }
        });
        let mut lock = RunLock {
            file,
            path: path.clone(),
            stale,
        };
        lock.update(holder).map_err(io)?;
        Ok(lock)
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

impl Drop for RunLock {
    /// Empty the record while still holding the lock: a record under a free lock then always
    /// means a holder that died. (Closing the file releases the lock.)
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// Why the record `h` is stale, on `host` with `boot`; `ticks_of(pid)` is the start time of
/// the process that has that pid now (None: no such process).
pub fn judge(
    h: &Holder,
    host: &str,
    boot: Option<&str>,
    ticks_of: impl Fn(u32) -> Option<u64>,
) -> Staleness {
    if h.host != host {
        return Staleness::OtherHost;
    }
    if let (Some(then), Some(now)) = (h.boot_id.as_deref(), boot)
        && then != now
    {
        return Staleness::Rebooted;
    }
    match (ticks_of(h.pid), h.start_ticks) {
        (None, _) => Staleness::Exited,
        (Some(now), Some(then)) if now == then => Staleness::AliveWithoutLock,
        (Some(_), Some(_)) => Staleness::PidReused,
        // An older record without a start time: a live pid proves nothing either way.
        (Some(_), None) => Staleness::PidReused,
    }
}

/// Start time of process `pid` in clock ticks after boot (`/proc/<pid>/stat` field 22).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and
/// may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state); field 22 is the 20th after it.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This boot's id.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
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
        assert_eq!(lock.stale, None);
        match RunLock::acquire(dir.path(), &Holder::me("run-two")) {
            Err(LockError::Held {
                holder: Some(h), ..
            }) => assert_eq!(*h, first),
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
        // A clean release leaves no record: the next holder finds nothing stale.
        let again = RunLock::acquire(dir.path(), &Holder::me("run-two")).expect("free after drop");
        assert_eq!(again.stale, None);
        let content = std::fs::read_to_string(&again.path).expect("read");
        assert!(content.contains("run-two"), "{content}");
    }

    #[test]
    fn a_record_under_a_free_lock_is_taken_over_and_explained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut dead = Holder::me("run-dead");
        dead.pid = u32::MAX - 7; // above pid_max: no such process
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let lock = RunLock::acquire(dir.path(), &Holder::me("run-new")).expect("taken over");
        let stale = lock.stale.clone().expect("stale record reported");
        assert_eq!(stale.why, Staleness::Exited);
        assert_eq!(
            stale.holder.as_ref().map(|h| h.run_id.as_str()),
            Some("run-dead")
        );
        let text = stale.to_string();
        assert!(
            text.contains("run-dead") && text.contains("is not running"),
            "{text}"
        );
        drop(lock);
        std::fs::write(dir.path().join(LOCK_FILE), "not json").unwrap();
        let lock = RunLock::acquire(dir.path(), &Holder::me("run-new")).expect("taken over");
        assert_eq!(
            lock.stale.as_ref().map(|s| &s.why),
            Some(&Staleness::Unreadable)
        );
    }

    #[test]
    fn judge_tells_a_reused_pid_a_reboot_and_another_host_apart() {
        let h = Holder {
            pid: 42,
            run_id: "r".into(),
            host: "box".into(),
            started: "t".into(),
            start_ticks: Some(1000),
            boot_id: Some("boot-a".into()),
        };
        let alive_since = |t: u64| move |_pid: u32| Some(t);
        assert_eq!(
            judge(&h, "box", Some("boot-a"), |_| None),
            Staleness::Exited
        );
        assert_eq!(
            judge(&h, "box", Some("boot-a"), alive_since(5000)),
            Staleness::PidReused
        );
        assert_eq!(
            judge(&h, "box", Some("boot-a"), alive_since(1000)),
            Staleness::AliveWithoutLock
        );
        // After a reboot the same pid and even the same tick count mean nothing.
        assert_eq!(
            judge(&h, "box", Some("boot-b"), alive_since(1000)),
            Staleness::Rebooted
        );
        assert_eq!(
            judge(&h, "other", Some("boot-a"), alive_since(1000)),
            Staleness::OtherHost
        );
    }

    #[test]
    fn start_ticks_is_field_22_even_with_spaces_in_the_name() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 100 18446744073709551615";
        assert_eq!(parse_start_ticks(line), Some(987654));
        assert_eq!(parse_start_ticks("garbage"), None);
        // This process has one, and it does not change.
        let me = start_ticks(std::process::id()).expect("own start time");
        assert_eq!(start_ticks(std::process::id()), Some(me));
    }
}
