//! The start-up log classifier: a pure function from `vllm serve` log lines to the cause of a
//! failed start (contract §4 signatures) and to the readiness milestone. No I/O here, so the
//! real logs in `tests/fixtures/logs/` and synthetic lines of every era test it directly.

use std::time::Duration;

/// A fatal cause named by a signature in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogCause {
    /// The KV cache does not fit (`No available memory for the cache blocks`, or the model's
    /// max seq len needs more KV cache than is available).
    NoKvCacheMemory,
    /// Allocator OOM (CUDA or HIP), or the GPU already holds too much memory at start-up.
    GpuOutOfMemory,
    /// `--max-model-len` above what the model supports.
    MaxModelLenTooLarge,
    /// Model id or path not found, or gated (401).
    ModelNotFound,
    /// The port is already bound.
    PortInUse,
    /// argparse refused the command line.
    BadServeArguments,
    /// No GPU or driver visible.
    NoGpu,
}

/// Why a start failed, as a decision: a cause named by the log, or what happened to the
/// process, the container or the deadline when the log names none. `crate::exit` maps each to
/// its documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "cause")]
pub enum StartFailure {
    /// A fatal signature in the log names the cause.
    Logged(LogCause),
    /// A readiness stage missed its deadline (hanging or too slow).
    Deadline,
    /// `vllm serve` exited and its log names no known cause.
    Exited,
    /// The server container stopped or was OOM-killed.
    ContainerDied,
    /// The server answers but refuses vbench's API key (missing or wrong).
    Unauthorized,
}

impl LogCause {
    /// One sentence for the user: what happened and the usual fix.
    pub fn explain(self) -> &'static str {
        match self {
            LogCause::NoKvCacheMemory => {
                "no GPU memory left for the KV cache: raise gpu_memory_utilization, lower max_model_len, or use more GPUs (tensor_parallel_size)"
            }
            LogCause::GpuOutOfMemory => {
                "GPU out of memory: another process may hold GPU memory, or the model does not fit; lower gpu_memory_utilization or use more GPUs"
            }
            LogCause::MaxModelLenTooLarge => {
                "max_model_len is larger than the model supports: lower it (or unset it to use the model's own)"
            }
            LogCause::ModelNotFound => {
                "model not found or not accessible: check the model id/path, the HF cache mount, and HF_TOKEN for gated models"
            }
            LogCause::PortInUse => {
                "the server port is already in use inside the container: another server is running there, or pick another port"
            }
            LogCause::BadServeArguments => {
                "vllm serve refused its arguments: check extra_args against `vllm serve --help`"
            }
            LogCause::NoGpu => {
                "no GPU visible to vLLM: check the GPU preset (nvidia runtime / --gpus, or /dev/kfd and /dev/dri for ROCm) and the driver"
            }
        }
    }
}

/// A signature found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub cause: LogCause,
    /// 0-based index of the line where it starts.
    pub line: usize,
    /// That line, ANSI-stripped.
    pub text: String,
}

/// Signatures (substrings of ANSI-stripped lines), from contract §4. Case-sensitive: these are
/// the exact wordings of vLLM, PyTorch, huggingface_hub and argparse.
const SIGNATURES: &[(LogCause, &str)] = &[
    (
        LogCause::NoKvCacheMemory,
        "No available memory for the cache blocks",
    ),
    (
        LogCause::NoKvCacheMemory,
        "which is larger than the available KV cache memory",
    ),
    (LogCause::GpuOutOfMemory, "CUDA out of memory"),
    (LogCause::GpuOutOfMemory, "HIP out of memory"),
    (LogCause::GpuOutOfMemory, "torch.OutOfMemoryError"),
    (
        LogCause::GpuOutOfMemory,
        "is less than desired GPU memory utilization",
    ),
    (
        LogCause::MaxModelLenTooLarge,
        "is greater than the derived max_model_len",
    ),
    (
        LogCause::ModelNotFound,
        "Invalid repository ID or local directory specified",
    ),
    (LogCause::ModelNotFound, "RepositoryNotFoundError"),
    (LogCause::ModelNotFound, "GatedRepoError"),
    (LogCause::ModelNotFound, "LocalEntryNotFoundError"),
    (LogCause::ModelNotFound, "401 Client Error"),
    (
        LogCause::ModelNotFound,
        "is not a local folder and is not a valid model identifier",
    ),
    (LogCause::PortInUse, "Address already in use"),
    (
        LogCause::BadServeArguments,
        "error: unrecognized arguments:",
    ),
    (
        LogCause::BadServeArguments,
        "error: the following arguments are required",
    ),
    (LogCause::BadServeArguments, ": error: argument "),
    (LogCause::NoGpu, "Failed to infer device type"),
    (LogCause::NoGpu, "No CUDA GPUs are available"),
    (LogCause::NoGpu, "No HIP GPUs are available"),
    (LogCause::NoGpu, "Found no NVIDIA driver on your system"),
    // `--distributed-executor-backend ray`: the Ray cluster never had tp × pp GPUs free
    // (vLLM's `_wait_until_pg_ready`).
    (LogCause::NoGpu, "Cannot provide a placement group"),
];

/// The uvicorn line every vLLM era prints once the app is up (contract §4 table). Never
/// `Uvicorn running on`: current vLLM does not print it.
pub const STARTUP_COMPLETE: &str = "Application startup complete.";

/// Remove ANSI escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL`, lone `ESC x`) and
/// carriage-return redraws (keep the text after the last `\r`, as a terminal shows it).
pub fn clean_line(s: &str) -> String {
    let s = match s.trim_end_matches('\r').rsplit_once('\r') {
        Some((_, last)) => last,
        None => s.trim_end_matches('\r'),
    };
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters and intermediates, then one final byte in @..~.
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: until BEL or ST (ESC \).
                while let Some(d) = chars.next() {
                    if d == '\u{7}' {
                        break;
                    }
                    if d == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Line `i` joined with line `i+1`: a copy of a log hard-wrapped at a fixed width splits a
/// signature over two lines (the real 0.10 fixture is wrapped at 140 columns).
fn with_next(lines: &[String], i: usize) -> Option<String> {
    lines.get(i + 1).map(|next| format!("{}{}", lines[i], next))
}

fn matches_at(lines: &[String], i: usize, needle: &str) -> bool {
    lines[i].contains(needle)
        || with_next(lines, i).is_some_and(|j| j.contains(needle) && !lines[i + 1].contains(needle))
}

/// The first fatal signature in the (ANSI-stripped) lines, in log order: the earliest one is
/// the root cause (later ones, like `Engine core initialization failed`, are consequences).
pub fn classify(lines: &[String]) -> Option<Finding> {
    (0..lines.len()).find_map(|i| {
        SIGNATURES
            .iter()
            .find(|(_, needle)| matches_at(lines, i, needle))
            .map(|(cause, _)| Finding {
                cause: *cause,
                line: i,
                text: lines[i].clone(),
            })
    })
}

/// Index of the line holding `Application startup complete.` (possibly wrapped onto the next).
pub fn startup_complete(lines: &[String]) -> Option<usize> {
    (0..lines.len()).find(|&i| matches_at(lines, i, STARTUP_COMPLETE))
}

/// The version vLLM prints at start (`vLLM API server version 0.10.1.1`), a fallback when
/// `GET /version` is not available.
pub fn logged_version(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| {
        let rest = l.split_once("vLLM API server version ")?.1;
        rest.split_whitespace().next().map(str::to_string)
    })
}

/// How the wait ended when it did not reach ready.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The `vllm serve` process is gone (exit status when the launcher logged it).
    Exited { status: Option<i64> },
    /// The container stopped (or was OOM-killed by the kernel).
    ContainerDied {
        exit_code: Option<i64>,
        oom_killed: bool,
    },
    /// A readiness stage did not finish in time.
    Deadline {
        stage: String,
        #[serde(with = "secs")]
        after: Duration,
    },
    /// A fatal signature is in the log but the process has not exited within the grace period.
    FatalLogged,
    /// `GET /v1/models` answered 401/403: the API key vbench sent (or did not send) is not
    /// the one the server demands.
    Unauthorized { status: u16, key_sent: bool },
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// The verdict on a failed start: what failed, the message and the log tail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnosis {
    pub outcome: Outcome,
    pub cause: Option<LogCause>,
    pub failure: StartFailure,
    /// One line: the cause and its usual fix.
    pub summary: String,
    /// The log line that names the cause.
    pub evidence: Option<String>,
    /// Last lines of the log (ANSI-stripped).
    pub tail: Vec<String>,
}

/// How many log lines a diagnosis carries.
pub const TAIL_LINES: usize = 40;

/// Name the cause: a log signature wins (it says *why* the process exited or the container
/// died); otherwise the outcome itself.
pub fn diagnose(outcome: Outcome, lines: &[String]) -> Diagnosis {
    let finding = classify(lines);
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].to_vec();
    let (failure, summary) = match (&finding, &outcome) {
        // The server serves; only the key is wrong. No log line explains that.
        (_, Outcome::Unauthorized { status, key_sent }) => (
            StartFailure::Unauthorized,
            if *key_sent {
                format!("the server refused vbench's API key (GET /v1/models: HTTP {status}): it demands another key than server.api_key. A running server keeps the key it was started with: set server.api_key to that key, or stop it (`vbench down`) so that vbench starts it with yours")
            } else {
                format!("the server demands an API key (GET /v1/models: HTTP {status}) and vbench has none: set server.api_key (e.g. `api_key: ${{VLLM_API_KEY}}`) to the key the server was started with")
            },
        ),
        // The kernel OOM killer is not in vLLM's log; it outranks whatever the log says.
        (_, Outcome::ContainerDied { oom_killed: true, .. }) => (
            StartFailure::ContainerDied,
            "the server container was OOM-killed by the kernel (host memory): lower the load or raise the container's memory".to_string(),
        ),
        (Some(f), _) => (StartFailure::Logged(f.cause), f.cause.explain().to_string()),
        (None, Outcome::Exited { status }) => (
            StartFailure::Exited,
            match status {
                Some(s) => format!("vllm serve exited with status {s} during start-up; no known cause in its log"),
                None => "vllm serve exited during start-up; no known cause in its log".to_string(),
            },
        ),
        (None, Outcome::ContainerDied { exit_code, .. }) => (
            StartFailure::ContainerDied,
            match exit_code {
                Some(c) => format!("the server container stopped (exit code {c}) during start-up"),
                None => "the server container stopped during start-up".to_string(),
            },
        ),
        (None, Outcome::Deadline { stage, after }) => (
            StartFailure::Deadline,
            format!("deadline: stage `{stage}` did not finish within {}s (server hanging or too slow; raise startup_timeout if it is only slow)", after.as_secs()),
        ),
        (None, Outcome::FatalLogged) => (StartFailure::Exited, "vllm serve logged a fatal error".to_string()),
    };
    Diagnosis {
        cause: finding.as_ref().map(|f| f.cause),
        evidence: finding.map(|f| f.text),
        failure,
        summary,
        outcome,
        tail,
    }
}

impl Diagnosis {
    /// The full multi-line message: summary, evidence and the log tail.
    pub fn message(&self) -> String {
        if self.failure == StartFailure::Unauthorized {
            // The server runs fine: its log has nothing to add.
            return format!("vllm serve answers but refuses vbench: {}", self.summary);
        }
        let mut m = format!("vllm serve failed to start: {}", self.summary);
        if let Some(e) = &self.evidence {
            m.push_str(&format!("\n  log: {}", e.trim()));
        }
        if !self.tail.is_empty() {
            m.push_str(&format!(
                "\n--- last {} lines of the serve log ---",
                self.tail.len()
            ));
            for l in &self.tail {
                m.push_str("\n  ");
                m.push_str(l);
            }
        }
        m
    }
}
