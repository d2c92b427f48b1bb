//! What is known about the run behind a report: where it came from, what measured it (model,
//! vLLM version, image and digest, serve arguments, GPUs) and whether it ran on the CPU
//! stand-in. Reports show it; the verdict refuses to compare runs whose set-up differs.

use serde::Serialize;

/// The run behind a report. `None`/empty: not known (an imported file says little).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunMeta {
    /// A run id, or a name for an import.
    pub title: String,
    /// The run directory, or the imported paths.
    pub source: String,
    /// Measured on the CPU stand-in (never a GPU measurement).
    pub standin: bool,
    /// vbench that wrote the report.
    pub vbench_version: String,
    /// Model id as served.
    pub model: Option<String>,
    pub vllm_version: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    /// `vllm serve` argv, secrets redacted.
    pub serve_args: Option<Vec<String>>,
    /// GPU names (one per GPU).
    pub gpus: Vec<String>,
    /// When the run started (RFC 3339).
    pub started: Option<String>,
    /// The effective configuration, secrets redacted.
    pub config: Option<serde_json::Value>,
    /// The server record (`server/server-<ts>.json`), when the run has one.
    pub server_record: Option<serde_json::Value>,
}
