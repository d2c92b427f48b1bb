//! The stand-in server's knobs: `VLLM_STANDIN_*` environment variables that set its timing
//! model and inject faults. Every knob is documented, with its symptom, in `images/README.md`.
//! Parsing is strict: a knob that does not parse stops the server with a message naming it,
//! because a silently ignored fault knob would make a test pass for the wrong reason.

use std::time::Duration;

/// A cause of a fatal start (`VLLM_STANDIN_FAIL_AT_START`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAtStart {
    KvCache,
    Oom,
    MaxModelLen,
    ModelNotFound,
    NoGpu,
    PortInUse,
}

impl FailAtStart {
    fn parse(v: &str) -> Option<Self> {
        Some(match v {
            "kv-cache" => Self::KvCache,
            "oom" => Self::Oom,
            "max-model-len" => Self::MaxModelLen,
            "model-not-found" => Self::ModelNotFound,
            "no-gpu" => Self::NoGpu,
            "port-in-use" => Self::PortInUse,
            _ => return None,
        })
    }
}

/// Which vendor's wording the stand-in imitates (`VLLM_STANDIN_GPU`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuKind {
    Nvidia,
    Amd,
}

impl GpuKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GpuKind::Nvidia => "nvidia",
            GpuKind::Amd => "amd",
        }
    }
}

/// All knobs, read once at start.
#[derive(Debug, Clone)]
pub struct Knobs {
    pub load: Duration,
    /// How long `--distributed-executor-backend ray` waits for its placement group
    /// (`VLLM_STANDIN_PG_WAIT_SECONDS`, default vLLM's 1800 s).
    pub pg_wait: Duration,
    pub fail_at_start: Option<FailAtStart>,
    pub derived_max_model_len: u64,
    pub exit_after_requests: Option<u64>,
    pub exit_after: Option<Duration>,
    pub hang_after_requests: Option<u64>,
    pub error_rate: f64,
    pub ttft_base_ms: f64,
    pub prefill_us_per_token: f64,
    pub tpot_base_ms: f64,
    pub tpot_per_seq_ms: f64,
    pub eos_rate: f64,
    pub kv_cache_tokens: Option<u64>,
    pub seed: Option<u64>,
    pub gpu: GpuKind,
    pub gpus: Option<u32>,
    pub state_path: String,
    pub stats_interval: Duration,
    /// `VLLM_STANDIN_LOG_SPAM_MB`: MiB of filler log lines written at start-up (0: none).
    pub log_spam_mb: u64,
}

/// Default path of the state file the GPU monitors read.
pub const DEFAULT_STATE_PATH: &str = "/tmp/vllm-standin-state.json";

/// The state file path (`VLLM_STANDIN_STATE` or the default); shared with the monitors.
pub fn state_path() -> String {
    std::env::var("VLLM_STANDIN_STATE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_STATE_PATH.into())
}

/// The vendor wording (`VLLM_STANDIN_GPU`, default nvidia); shared with the monitors.
pub fn gpu_kind() -> Result<GpuKind, String> {
    match std::env::var("VLLM_STANDIN_GPU").ok().as_deref() {
        None | Some("") | Some("nvidia") => Ok(GpuKind::Nvidia),
        Some("amd") => Ok(GpuKind::Amd),
        Some(other) => Err(format!(
            "VLLM_STANDIN_GPU={other:?}: expected nvidia or amd"
        )),
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn num<T: std::str::FromStr>(name: &str, what: &str) -> Result<Option<T>, String> {
    match var(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(Some)
            .map_err(|_| format!("{name}={v:?}: expected {what}")),
    }
}

fn non_negative(name: &str, default: f64) -> Result<f64, String> {
    let v = num::<f64>(name, "a number")?.unwrap_or(default);
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{name}={v}: expected a number ≥ 0"))
    }
}

fn seconds(name: &str) -> Result<Option<Duration>, String> {
    match num::<f64>(name, "seconds")? {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(format!("{name}={s}: expected seconds ≥ 0")),
    }
}

impl Knobs {
    /// Read every knob from the environment; the error names the variable.
    pub fn from_env() -> Result<Self, String> {
        let fail_at_start = match var("VLLM_STANDIN_FAIL_AT_START") {
            None => None,
            Some(v) => Some(FailAtStart::parse(&v).ok_or_else(|| {
                format!("VLLM_STANDIN_FAIL_AT_START={v:?}: expected kv-cache, oom, max-model-len, model-not-found, no-gpu or port-in-use")
            })?),
        };
        let error_rate = non_negative("VLLM_STANDIN_ERROR_RATE", 0.0)?;
        if error_rate > 1.0 {
            return Err(format!(
                "VLLM_STANDIN_ERROR_RATE={error_rate}: expected a fraction between 0 and 1"
            ));
        }
        let eos_rate = non_negative("VLLM_STANDIN_EOS_RATE", 0.005)?;
        if eos_rate > 1.0 {
            return Err(format!(
                "VLLM_STANDIN_EOS_RATE={eos_rate}: expected a fraction between 0 and 1"
            ));
        }
        let gpus = crate::devices::host_gpus_knob()?;
        Ok(Knobs {
            load: seconds("VLLM_STANDIN_LOAD_SECONDS")?.unwrap_or(Duration::from_secs(2)),
            pg_wait: seconds("VLLM_STANDIN_PG_WAIT_SECONDS")?
                .unwrap_or(crate::ray::placement::PG_WAIT_TIMEOUT),
            fail_at_start,
            derived_max_model_len: num("VLLM_STANDIN_DERIVED_MAX_MODEL_LEN", "a token count")?
                .unwrap_or(131_072),
            exit_after_requests: num("VLLM_STANDIN_EXIT_AFTER_REQUESTS", "a request count")?,
            exit_after: seconds("VLLM_STANDIN_EXIT_AFTER_SECONDS")?,
            hang_after_requests: num("VLLM_STANDIN_HANG_AFTER_REQUESTS", "a request count")?,
            error_rate,
            ttft_base_ms: non_negative("VLLM_STANDIN_TTFT_MS", 20.0)?,
            prefill_us_per_token: non_negative("VLLM_STANDIN_PREFILL_US_PER_TOKEN", 30.0)?,
            tpot_base_ms: non_negative("VLLM_STANDIN_TPOT_MS", 8.0)?,
            tpot_per_seq_ms: non_negative("VLLM_STANDIN_TPOT_PER_SEQ_MS", 0.2)?,
            eos_rate,
            kv_cache_tokens: num("VLLM_STANDIN_KV_CACHE_TOKENS", "a token count")?,
            seed: num("VLLM_STANDIN_SEED", "an integer seed")?,
            gpu: gpu_kind()?,
            gpus,
            state_path: state_path(),
            stats_interval: seconds("VLLM_LOG_STATS_INTERVAL")?.unwrap_or(Duration::from_secs(10)),
            log_spam_mb: match num::<u64>("VLLM_STANDIN_LOG_SPAM_MB", "a whole number of MB")? {
                Some(n) if n > 100_000 => {
                    return Err(format!(
                        "VLLM_STANDIN_LOG_SPAM_MB={n}: expected at most 100000 (MB)"
                    ));
                }
                n => n.unwrap_or(0),
            },
        })
    }
}
