//! `vbench init`'s file: every key with a comment saying what it does and its default. It
//! parses back to exactly `Config::default()` (tested), so it documents the defaults
//! rather than changing them.

use std::io::Write;
use std::path::Path;

/// The commented default `vbench.yaml`.
pub const TEMPLATE: &str = r#"# vbench configuration. Every key is optional: a missing key takes the default shown here.
# Reference: docs/configuration.md. Print the effective configuration with `vbench config`.
#
# Strings may use ${VAR} (error if VAR is unset) and ${VAR:-default} from the environment;
# write $$ for a literal $. Command-line flags (--model, --tp, ...) override this file.
# Environment values whose NAME contains TOKEN, KEY, SECRET or PASSWORD, and the value of
# --api-key style flags, are never printed, logged or saved.

server:
  # Name of the container that runs `vllm serve` (attached if it exists, else created).
  container: vllm-server
  # Image, used only when vbench creates the container.
  image: vllm/vllm-openai:latest
  # Model to serve: a Hugging Face id or a path inside the server container.
  model: openai/gpt-oss-120b
  # --served-model-name; null: the model id.
  served_model_name: null
  # --tensor-parallel-size: GPUs per model replica (>= 1).
  tensor_parallel_size: 4
  # --gpu-memory-utilization: fraction of GPU memory vLLM may use, 0 < F <= 1.
  gpu_memory_utilization: 0.9
  # Pass --enforce-eager (no CUDA/HIP graphs; the manual AMD workflow uses it).
  enforce_eager: true
  # Port `vllm serve` listens on inside the container.
  port: 8000
  # --max-model-len; null: vLLM derives it from the model.
  max_model_len: null
  # Extra `vllm serve` arguments, appended verbatim, e.g. ["--max-num-seqs", "256"].
  extra_args: []
  # Environment for the container and `vllm serve`. Entries that are empty after ${VAR}
  # expansion are not passed, so HF_TOKEN is passed only when it is set.
  env:
    HF_TOKEN: ${HF_TOKEN:-}
  # Mounts for a container vbench creates, Docker `source:target[:ro]` form (the HF cache).
  volumes:
    - ${HOME}/.cache/huggingface:/root/.cache/huggingface
  # GPU preset for a container vbench creates: auto (NVIDIA runtime in `docker info` ->
  # nvidia; /dev/kfd present -> amd; else none), nvidia, amd or none.
  gpu: auto
  # Which GPUs a container vbench creates gets: all, a count (4: the first four) or host
  # indices ([4, 5, 6, 7], as nvidia-smi / rocm-smi number them). tensor_parallel_size (x the
  # pipeline-parallel size in extra_args) must fit in the selection (flag --gpus 4,5,6,7).
  gpus: all
  # Shared memory for a container vbench creates; k/m/g are powers of 1024 as in Docker
  # (16g = 16GiB).
  shm_size: 16g
  # Deadline for `vllm serve` to become ready (large models take ~25 minutes to load).
  startup_timeout: 30m
  # Publish the server port on 127.0.0.1:<port> of the host (never 0.0.0.0) when vbench
  # creates the container; null: not published (the client reaches it over the network).
  publish_port: null
  # API key the server demands, e.g. "${VLLM_API_KEY}"; null (or empty): none. vbench gives it
  # to vllm serve as VLLM_API_KEY and to vllm bench serve as OPENAI_API_KEY, in their
  # environments only (never on a command line), and its probes send it; never printed/saved.
  api_key: null
  # --pipeline-parallel-size: pipeline stages (with `nodes`, typically one per node).
  pipeline_parallel_size: 1
  # Multi-node server (host names from `hosts:`): a Ray head on the first, Ray workers on the
  # others, each in a server container with host networking; vllm serve runs on the head with
  # --distributed-executor-backend ray. []: one node. See docs/scale-out.md.
  nodes: []
  # Multi-node: the Ray head's port on the first node (host networking: must be free there).
  ray_port: 6379
  # Multi-node: deadline for every node to join the Ray cluster with its GPUs.
  nodes_timeout: 5m

client:
  # Name of the container that runs `vllm bench serve`.
  container: vllm-bench-client
  # Image, used only when vbench creates the container.
  image: vllm/vllm-openai:latest
  # --tokenizer for `vllm bench serve`; null: the served model's tokenizer.
  tokenizer: null
  # Directory inside the client container where result files are written.
  result_dir: /root/bench_results
  # Environment for the client container and `vllm bench serve`.
  env: {}
  # Mounts for a client container vbench creates (the HF cache, read-only).
  volumes:
    - ${HOME}/.cache/huggingface:/root/.cache/huggingface:ro
  # Extra `vllm bench serve` arguments, appended verbatim.
  extra_args: []

# Docker network joining both containers (created if missing).
network: vllm-bench

# Host directory for results, logs and run state (relative to the working directory).
results_dir: ./bench_results

# When to pull the server and client images for a container vbench creates (Docker's --pull):
# missing (only an image that is not present), always (even a present one: a moving tag gets
# its newest image), never (an absent image is a set-up error). Credentials come from your
# Docker configuration (`docker login`). An image may be pinned: repo@sha256:<digest>.
# Flag: --pull on `vbench up` and `vbench run`.
pull: missing

# Named sweeps. The presets `production`, `scaling` and `scaling-200` are built in and need
# no entry here (and cannot be redefined). A sweep is a grid of input lengths x concurrency
# levels at one output length. Token counts accept K = 1024 tokens (1K = 1024, 96K = 98304).
sweeps: {}
#  long-context:
#    input_lens: [32K, 64K, 96K]     # input tokens per request
#    output_len: 500                 # output tokens per request
#    concurrency: [1, 2, 5, 10]      # --max-concurrency levels
#    prompts_per_concurrency: 1      # num_prompts = this x concurrency (default 1: one wave)
#    num_prompts: null               # fixed num_prompts for every point (overrides the above)
#    request_rate: inf               # inf, or requests per second (Poisson arrivals)
#    warmups: 0                      # warm-up requests before each point
#    layout: custom                  # result file names: production, scaling or custom
#    point_timeout: 1h               # per-point deadline (default: run.point_timeout)
#    repeats: 1                      # run each point N times (rounds), to know the noise
#  capacity:                         # an SLO search instead of concurrency levels:
#    input_lens: [1K]
#    output_len: 500
#    slo:
#      ttft_p99: 2s                  # limits on p99 latencies (at least one)
#      tpot_p99: 50ms
#      e2el_p99: 60s
#      by: concurrency               # or rate (requests per second, no concurrency cap)
#      start: 1                      # first level; doubles until a level misses the SLO
#      max: 1024                     # highest level probed
#      max_points: 20                # at most this many points per input length
#      boundary_repeats: 3           # runs of the last level that meets and the first that misses
#      precision: 0.1                # rate search: stop when the two rates are within 10 %

# Combinations of server settings: with a matrix, `vbench run` measures its sweeps once per
# combination, restarting vllm serve in between (recreating the server container when the
# image or environment changes). Each combination's results go to <results_dir>/<name>/.
# Keys: name, then any of image, tensor_parallel_size, gpu_memory_utilization, max_model_len,
# enforce_eager, extra_args (replaces server.extra_args), env (merges over server.env).
# Flag: --matrix-set NAME:key=value adds or changes a combination.
matrix: []
#  - name: seqs-64
#    extra_args: ["--max-num-seqs", "64"]
#  - name: seqs-256
#    extra_args: ["--max-num-seqs", "256"]
#    gpu_memory_utilization: 0.95
#    enforce_eager: false
#    tensor_parallel_size: 4
#    max_model_len: 32768
#    image: vllm/vllm-openai:v0.11.0
#    env:
#      VLLM_LOGGING_LEVEL: DEBUG

# Named Docker Engines: `--host NAME` points any command at one (results then under
# <results_dir>/hosts/NAME/), `vbench run --hosts a,b [--mode replicate|shard]` fans a run out
# over several, `vbench doctor --all-hosts` checks them all. Keys: name, docker_host
# (unix://, tcp:// or ssh://user@host), then any of tls_cert_path (a directory with ca.pem,
# cert.pem, key.pem), gpu, gpus, server_container, client_container, publish_port.
hosts: []
#  - name: gpu-a
#    docker_host: unix:///var/run/docker.sock
#  - name: gpu-b
#    docker_host: tcp://10.0.0.7:2376
#    tls_cert_path: /etc/vbench/certs/gpu-b
#    gpu: nvidia
#    gpus: 4,5,6,7
#    server_container: vllm-server
#    client_container: vllm-bench-client
#    publish_port: 18000

run:
  # Sweeps `vbench run` runs when none is named on the command line.
  sweeps: [production]
  # --seed for `vllm bench serve` (same seed, same prompts).
  seed: 0
  # Deadline for one sweep point.
  point_timeout: 1h
  # How the client runs each point: worker (vLLM's benchmark imported once, each point run
  # in-process: no 5-10 s start-up per point), process (a new `vllm bench serve` per point),
  # or auto (the worker when the client has Python and vLLM, else a process).
  client_mode: auto
"#;

/// Why `vbench init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists; not overwriting it (use `vbench init --force` to replace it)", path.display())]
    Exists { path: std::path::PathBuf },
    /// The path cannot be created (no such directory, a directory in the way): a bad argument.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Write the template to `path`; refuse to replace an existing file unless `force`.
pub fn write(path: &Path, force: bool) -> Result<(), InitError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        // create_new: no window between "does it exist?" and writing.
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            InitError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            InitError::Create {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    f.write_all(TEMPLATE.as_bytes())
        .map_err(|source| InitError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides, from_text};

    #[test]
    fn template_parses_back_to_exactly_the_defaults() {
        let parsed = from_text(
            TEMPLATE.to_string(),
            Some("vbench.yaml".into()),
            &Overrides::default(),
            None,
        )
        .unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn template_example_sweep_is_valid_when_uncommented() {
        let text = TEMPLATE
            .replace("sweeps: {}\n#", "sweeps:\n")
            .replace("\n#    ", "\n    ")
            .replace("\n#  capacity:", "\n  capacity:")
            .replace("matrix: []\n#", "matrix:\n")
            .replace("hosts: []\n#", "hosts:\n")
            .replace("\n#  - name", "\n  - name");
        let c = from_text(text, None, &Overrides::default(), None).unwrap();
        let s = &c.sweeps["long-context"];
        assert_eq!(s.input_lens, vec![32 * 1024, 64 * 1024, 96 * 1024]);
        assert_eq!(s.concurrency, vec![1, 2, 5, 10]);
        let slo = c.sweeps["capacity"].slo.as_ref().expect("an slo sweep");
        assert_eq!((slo.ttft_p99, slo.tpot_p99), (Some(2000), Some(50)));
        assert_eq!(c.matrix.len(), 2);
        assert_eq!(c.matrix[1].env["VLLM_LOGGING_LEVEL"], "DEBUG");
        assert_eq!(c.hosts.len(), 2);
        assert_eq!(c.hosts[1].publish_port, Some(18000));
    }
}
