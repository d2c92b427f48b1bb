//! Which points a run measures, in the engine's own terms: sweeps by name, or a custom sweep
//! described by its lengths and concurrency levels (what the command line's flags say).

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
