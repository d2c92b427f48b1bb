//! The configuration model: what `vbench.yaml` holds once loaded, expanded (`${VAR}`),
//! overridden by command-line flags and validated. The engine only ever sees `Config`.
//!
//! Submodules: `file` (raw YAML types), `load` (lookup, merge, overrides), `expand`
//! (`${VAR}`), `units` (durations, sizes, `1K`), `validate`, `error` (file:line:column
//! diagnostics), `hosts` (named Docker Engines), `redact` (secrets), `template` (`vbench init`'s commented file) and `schema`
//! (the file's JSON Schema, from `file`'s types).

mod error;
mod expand;
mod file;
mod gpus;
mod hosts;
mod load;
mod matrix;
mod redact;
pub mod schema;
mod slo;
pub mod template;
mod units;
mod validate;

pub use error::{ConfigError, ErrorDetail, Origin, Provenance};
pub use expand::{ExpandError, expand};
pub use gpus::{
    GPUS_EXPECTED, GpuSelection, check_on_host, parse_gpus, pipeline_parallel_size, world_size,
};
pub use hosts::{HOST_SCHEMES, HostConfig};
pub use load::{from_text, load_file, locate};
pub use matrix::{COMBINATION_KEYS, Combination, RESERVED_NAMES, parse_matrix_set};
pub use redact::{REDACTED, Secret, is_secret_name, redact_args, redact_env};
pub use slo::{DEFAULT_PROMPTS_PER_CONCURRENCY as SLO_PROMPTS_PER_CONCURRENCY, SloBy, SloConfig};
pub use units::{parse_duration, parse_size, parse_token_count};
pub use validate::is_docker_name;

/// Values that override the configuration file for one invocation (the command line's flags,
/// translated by `commands`). Each field names the setting it replaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub model: Option<String>,
    pub tensor_parallel_size: Option<u32>,
    pub gpu_memory_utilization: Option<f64>,
    pub max_model_len: Option<u64>,
    pub enforce_eager: Option<bool>,
    /// `auto`, `nvidia`, `amd` or `none` (checked when applied, so the error names the flag).
    pub gpu: Option<String>,
    /// `all`, a count or indices `4,5,6,7` (checked when applied, so the error names `--gpus`).
    pub gpus: Option<String>,
    pub server_image: Option<String>,
    pub client_image: Option<String>,
    pub server_container: Option<String>,
    pub client_container: Option<String>,
    pub network: Option<String>,
    pub results_dir: Option<PathBuf>,
    /// A duration as written on the command line (`30m`, `90s`).
    pub startup_timeout: Option<String>,
    /// `auto`, `worker` or `process`.
    pub client_mode: Option<String>,
    /// `missing`, `always` or `never` (`--pull`; checked when applied, so the error names the
    /// flag).
    pub pull: Option<String>,
    /// `NAME:key=value` (`--matrix-set`): set a key of matrix combination NAME (added when
    /// the file has none of that name).
    pub matrix_set: Vec<String>,
}

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// GPU preset for containers vbench creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GpuMode {
    /// NVIDIA runtime in `docker info` → nvidia; `/dev/kfd` present → amd; else none.
    #[default]
    Auto,
    Nvidia,
    Amd,
    None,
}

/// When vbench pulls the images it needs to create containers (Docker's `--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Pull only an image that is not present.
    #[default]
    Missing,
    /// Pull even a present image (a moving tag gets its newest image).
    Always,
    /// Never pull: an absent image is a set-up error.
    Never,
}

impl PullPolicy {
    /// `missing`, `always` or `never`.
    pub fn parse(s: &str) -> Option<PullPolicy> {
        Some(match s {
            "missing" => PullPolicy::Missing,
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            _ => return None,
        })
    }
}

/// The sweep presets built into vbench (defined by the sweep planner); a file cannot
/// redefine them.
pub const PRESETS: [&str; 3] = ["production", "scaling", "scaling-200"];

/// The effective configuration.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Config {
    /// Where it came from (None: built-in defaults).
    pub source: Option<PathBuf>,
    pub server: ServerConfig,
    pub client: ClientConfig,
    /// User-defined Docker network joining both containers.
    pub network: String,
    /// Host directory for results (`production/`, `scaling/`), run state and logs.
    pub results_dir: PathBuf,
    /// When to pull the server and client images vbench needs to create containers.
    pub pull: PullPolicy,
    /// Named sweeps defined in the file (the presets are built in and need no entry).
    pub sweeps: BTreeMap<String, SweepConfig>,
    /// What `vbench run` does with no sweep named on the command line.
    pub run: RunConfig,
    /// Named combinations of server settings: a run measures its sweeps once per combination.
    pub matrix: Vec<Combination>,
    /// Named Docker Engines (`--host NAME`, `vbench run --hosts a,b`); empty: only the local
    /// engine (or `--docker-host`).
    pub hosts: Vec<HostConfig>,
    /// Where each value came from, for errors found after loading (not part of the value).
    #[serde(skip)]
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerConfig {
    /// Container name (`vllm-server`).
    pub container: String,
    /// Image used only when vbench creates the container.
    pub image: String,
    pub model: String,
    pub served_model_name: Option<String>,
    pub tensor_parallel_size: u32,
    pub gpu_memory_utilization: f64,
    pub enforce_eager: bool,
    pub port: u16,
    pub max_model_len: Option<u64>,
    /// Extra `vllm serve` arguments, appended verbatim as argv items.
    pub extra_args: Vec<String>,
    /// Environment for the container and for `vllm serve` (secrets redacted when printed).
    pub env: BTreeMap<String, String>,
    /// Bind mounts / volumes, Docker `src:dst[:ro]` form (HF cache by default).
    pub volumes: Vec<String>,
    pub gpu: GpuMode,
    /// Which GPUs the server container gets when vbench creates it: all, the first N, or
    /// these host indices.
    pub gpus: GpuSelection,
    /// Shared memory size in bytes, for containers vbench creates.
    pub shm_size: Option<u64>,
    /// Overall start-up deadline (default 30 min: large models take ~25 min to load).
    #[serde(with = "duration_secs")]
    pub startup_timeout: Duration,
    /// Publish the server port on 127.0.0.1 (never 0.0.0.0) when creating the container.
    pub publish_port: Option<u16>,
    /// The API key `vllm serve` demands (usually `${VLLM_API_KEY}`): handed to the server as
    /// `VLLM_API_KEY` and to the benchmark client as `OPENAI_API_KEY`, in their process
    /// environments only; shown as `***` wherever the configuration is printed or saved.
    pub api_key: Option<Secret>,
    /// `--pipeline-parallel-size` (1: not passed).
    pub pipeline_parallel_size: u32,
    /// Multi-node: host names (`hosts:`), the Ray head on the first; empty: one node.
    pub nodes: Vec<String>,
    /// Multi-node: the Ray head's port (host networking, so it must be free on the head host).
    pub ray_port: u16,
    /// Multi-node: deadline for every node to join the Ray cluster.
    #[serde(with = "duration_secs")]
    pub nodes_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientConfig {
    /// Container name (`vllm-bench-client`).
    pub container: String,
    /// Image used only when vbench creates the container.
    pub image: String,
    /// `--tokenizer` for `vllm bench serve` (a path or id the client can load).
    pub tokenizer: Option<String>,
    /// Directory inside the client container where results are written.
    pub result_dir: String,
    pub env: BTreeMap<String, String>,
    pub volumes: Vec<String>,
    /// Extra `vllm bench serve` arguments, appended verbatim.
    pub extra_args: Vec<String>,
}

/// One sweep: a grid of input lengths × concurrency levels at one output length.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Input lengths in tokens (`1K` = 1024).
    pub input_lens: Vec<u64>,
    pub output_len: u64,
    /// Maximum-concurrency levels (none in an SLO search).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<u64>,
    /// num_prompts = prompts_per_concurrency × C (1 = one wave, as the manual scripts did).
    #[serde(default = "one")]
    pub prompts_per_concurrency: u64,
    /// Fixed num_prompts for every point (overrides prompts_per_concurrency).
    #[serde(default)]
    pub num_prompts: Option<u64>,
    /// `inf` or requests per second (Poisson arrivals).
    #[serde(default = "inf")]
    pub request_rate: String,
    #[serde(default)]
    pub warmups: u64,
    /// Result layout: `production` (`input_1K_n1_<ts>.json`), `scaling` (`scale_n<N>_<ts>.json`)
    /// or `custom`.
    #[serde(default)]
    pub layout: Option<String>,
    /// Per-point deadline.
    #[serde(default)]
    pub point_timeout: Option<String>,
    /// How many times each point runs (in rounds over the sweep), so a verdict knows the noise.
    #[serde(default = "one_u32")]
    pub repeats: u32,
    /// An SLO search instead of fixed levels (`concurrency` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloConfig>,
}

fn one() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}
fn inf() -> String {
    "inf".into()
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct RunConfig {
    /// Sweeps run by `vbench run` when none is named.
    pub sweeps: Vec<String>,
    pub seed: u64,
    /// Per-point deadline default.
    #[serde(with = "duration_secs")]
    pub point_timeout: Duration,
    /// How points run in the client: `worker` (one Python process that imported vLLM once),
    /// `process` (a new `vllm bench serve` each point), `auto` (worker when the import works).
    pub client_mode: ClientMode,
}

/// How the client runs each point (through the persistent channel either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientMode {
    /// The worker when Python and vLLM are in the client, else a process per point.
    #[default]
    Auto,
    /// The worker, or fail: vLLM's benchmark imported once, each point run in-process.
    Worker,
    /// A new `vllm bench serve` process per point.
    Process,
}

impl ClientMode {
    pub fn parse(s: &str) -> Option<ClientMode> {
        Some(match s {
            "auto" => ClientMode::Auto,
            "worker" => ClientMode::Worker,
            "process" => ClientMode::Process,
            _ => return None,
        })
    }
}

mod duration_secs {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", d.as_secs()))
    }
}

impl Default for Config {
    /// Built-in defaults: today's manual workflow.
    fn default() -> Self {
        let mut env = BTreeMap::new();
        env.insert("HF_TOKEN".to_string(), "${HF_TOKEN:-}".to_string());
        Config {
            source: None,
            server: ServerConfig {
                container: "vllm-server".into(),
                image: "vllm/vllm-openai:latest".into(),
                model: "openai/gpt-oss-120b".into(),
                served_model_name: None,
                tensor_parallel_size: 4,
                gpu_memory_utilization: 0.9,
                enforce_eager: true,
                port: 8000,
                max_model_len: None,
                extra_args: vec![],
                env,
                volumes: vec!["${HOME}/.cache/huggingface:/root/.cache/huggingface".into()],
                gpu: GpuMode::Auto,
                gpus: GpuSelection::All,
                shm_size: Some(16 << 30),
                startup_timeout: Duration::from_secs(30 * 60),
                publish_port: None,
                api_key: None,
                pipeline_parallel_size: 1,
                nodes: vec![],
                ray_port: 6379,
                nodes_timeout: Duration::from_secs(5 * 60),
            },
            client: ClientConfig {
                container: "vllm-bench-client".into(),
                image: "vllm/vllm-openai:latest".into(),
                tokenizer: None,
                result_dir: "/root/bench_results".into(),
                env: BTreeMap::new(),
                volumes: vec!["${HOME}/.cache/huggingface:/root/.cache/huggingface:ro".into()],
                extra_args: vec![],
            },
            network: "vllm-bench".into(),
            results_dir: PathBuf::from("./bench_results"),
            pull: PullPolicy::Missing,
            sweeps: BTreeMap::new(),
            run: RunConfig {
                sweeps: vec!["production".into()],
                seed: 0,
                point_timeout: Duration::from_secs(60 * 60),
                client_mode: ClientMode::Auto,
            },
            matrix: vec![],
            hosts: vec![],
            provenance: Provenance::default(),
        }
    }
}

/// Load the effective configuration: the file (`explicit`, else `./vbench.yaml` if present,
/// else built-in defaults), `${VAR}` expansion, then command-line overrides, then validation.
/// The error names file:line:column and the field.
pub fn load(
    explicit: Option<&std::path::Path>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let path = locate(explicit, &cwd)?;
    load_file(path.as_deref(), overrides, Some(&expand::process_env))
}
