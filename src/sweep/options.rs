//! What a run was asked to do, in the engine's own terms: the sweep selection (named sweeps
//! or a custom sweep from flags) and the run options. `commands` builds these from the
//! command line; nothing here knows about clap.

use crate::config::SweepConfig;
use crate::docker::Labels;

/// Which points to run: sweeps by name (presets or the configuration's), or a custom sweep
/// described by its input lengths, output length and concurrency levels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Sweep names: `production`, `scaling`, `scaling-200`, `demo`, or the configuration's.
    pub sweeps: Vec<String>,
    /// Custom sweep: input lengths as written (`1024`, `1K`).
    pub input_len: Vec<String>,
    pub output_len: Option<u64>,
    /// Custom sweep: lowest and highest level of a 1-2-5 ladder.
    pub min_concurrency: Option<u64>,
    pub max_concurrency: Option<u64>,
    /// Custom sweep: explicit concurrency levels.
    pub concurrency: Vec<u64>,
    /// Custom sweep: one concurrency level.
    pub single: Option<u64>,
    /// Prompts per point (custom sweep), or for every named sweep when no custom flag is given.
    pub num_prompts: Option<u64>,
    /// Runs of every point, for every selected sweep.
    pub repeats: Option<u32>,
}

/// The whole request behind `vbench run` / `vbench demo`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub selection: Selection,
    /// Sweeps decided by the command itself (`demo`), instead of `selection`.
    pub sweeps: Option<Vec<(String, SweepConfig)>>,
    pub dry_run: bool,
    /// `Some("latest")` or a run id.
    pub resume: Option<String>,
    /// With `resume`: accept a changed configuration.
    pub force: bool,
    /// Bring a server that died mid-sweep back and retry the point once.
    pub restart_server: bool,
    /// Stop the server when the run ends.
    pub down: bool,
    /// Replace a server that serves another model or other arguments.
    pub restart: bool,
    /// The configuration is the CPU stand-in's (a rehearsal, never a GPU measurement).
    pub standin: bool,
    /// The Docker Engine (`None`: `DOCKER_HOST`, else the local socket).
    pub docker_host: Option<String>,
    /// Extra labels on everything the run creates.
    pub labels: Labels,
    /// What a second SIGINT/SIGTERM does: exit at once (the caller decides the code).
    pub exit_now: Option<fn()>,
}
