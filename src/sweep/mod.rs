//! Sweeps: which benchmark points a run measures, and running them one by one in the client
//! container, resumably and safely for cron.
//!
//! Submodules, one job each: `selection` (which points were asked for), `presets` (the
//! built-in sweeps and 1-2-5 ladders), `plan` (sweeps expanded into points, context-length
//! skipping), `argv` (the `vllm bench serve` command line of one point), `estimate` (time
//! estimates), `manifest` (the run's state on disk), `journal` (its per-point appends), `lock` (one run at a time per results
//! directory), `validate` (judging a result file), `signals` (Ctrl-C/SIGTERM into a
//! cancellation token), `runner` (the per-point loop), `execute` (a point's command through the channel, else
//! an exec), `infra` (the client container or the engine lost under a point), `session` (sweep selection, config
//! hash, new manifests, the dry run's plan), `rows` (report rows from a manifest), `error`
//! (what stops a run). The steps of `vbench run` are `crate::pipeline`'s.

pub mod argv;
pub mod error;
pub mod estimate;
pub mod execute;
pub mod infra;
pub mod journal;
pub mod lock;
pub mod manifest;
pub mod plan;
pub mod presets;
pub mod rows;
pub mod runner;
pub mod selection;
pub mod session;
pub mod signals;
pub mod storage;
pub mod validate;

pub use error::RunError;
pub use manifest::{Manifest, PointRecord, PointStatus};
pub use plan::{ContextLimit, Plan, Point};
pub use selection::Selection;

/// A run id: `<YYYYmmdd_HHMMSS>-<8 hex>` (time first so ids sort by start time).
pub fn new_run_id(now: &jiff::ZonedDateTime, config_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(config_hash.as_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(now.timestamp().as_nanosecond().to_le_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{hex}", timestamp(now))
}

/// The manual workflow's file timestamp: `YYYYmmdd_HHMMSS` in local time.
pub fn timestamp(now: &jiff::ZonedDateTime) -> String {
    now.strftime("%Y%m%d_%H%M%S").to_string()
}
