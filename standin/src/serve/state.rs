//! The small state file the stand-in server keeps up to date (default
//! `/tmp/vllm-standin-state.json`, `VLLM_STANDIN_STATE` overrides) so that the stand-in
//! `nvidia-smi` / `rocm-smi`, run as separate processes in the same container, can show
//! values that follow the server's load.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::engine::Stats;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub pid: u32,
    pub running: u64,
    pub waiting: u64,
    /// 0.0–1.0
    pub kv_cache_usage: f64,
    pub gpu_memory_utilization: f64,
    /// GPUs of the stand-in host (`VLLM_STANDIN_GPUS`, else tp × pp): what the monitors
    /// assume when their own environment does not say.
    pub host_gpus: u32,
    /// The physical GPUs the server runs on (busy and memory-holding in the monitors).
    pub used_gpus: Vec<u32>,
    pub gpu: String,
    pub model: String,
    pub max_num_seqs: u64,
    pub updated_unix: f64,
}

impl State {
    /// Read the state file; `None` when absent, unreadable, stale (> 30 s) or its server is gone.
    pub fn read(path: &str) -> Option<State> {
        let text = std::fs::read_to_string(path).ok()?;
        let st: State = serde_json::from_str(&text).ok()?;
        let now = now_unix();
        let alive = std::path::Path::new(&format!("/proc/{}", st.pid)).exists();
        (alive && now - st.updated_unix < 30.0).then_some(st)
    }
}

pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What the writer needs besides the live counters.
pub struct Fixed {
    pub path: String,
    pub gpu_memory_utilization: f64,
    pub host_gpus: u32,
    pub used_gpus: Vec<u32>,
    pub gpu: String,
    pub model: String,
    pub max_num_seqs: u64,
    pub kv_cache_tokens: u64,
}

/// Rewrite the state file every 250 ms (write to a temp file, then rename, so readers never
/// see half a file). Failures are ignored: the monitors then show an idle GPU.
pub fn spawn_writer(fixed: Fixed, stats: Arc<Stats>) {
    tokio::spawn(async move {
        let tmp = format!("{}.tmp{}", fixed.path, std::process::id());
        loop {
            let st = State {
                pid: std::process::id(),
                running: stats.running.load(Ordering::Relaxed),
                waiting: stats.waiting.load(Ordering::Relaxed),
                kv_cache_usage: (stats.kv_used_tokens.load(Ordering::Relaxed) as f64
                    / fixed.kv_cache_tokens.max(1) as f64)
                    .min(1.0),
                gpu_memory_utilization: fixed.gpu_memory_utilization,
                host_gpus: fixed.host_gpus,
                used_gpus: fixed.used_gpus.clone(),
                gpu: fixed.gpu.clone(),
                model: fixed.model.clone(),
                max_num_seqs: fixed.max_num_seqs,
                updated_unix: now_unix(),
            };
            if let Ok(text) = serde_json::to_string(&st)
                && tokio::fs::write(&tmp, text).await.is_ok()
            {
                let _ = tokio::fs::rename(&tmp, &fixed.path).await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Remove the state file at shutdown (the monitors then show an idle GPU at once).
pub fn remove(path: &str) {
    let _ = std::fs::remove_file(path);
}
