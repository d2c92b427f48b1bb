//! The raw `vbench.yaml` as written: every key optional, unknown keys rejected, every leaf
//! value carrying its source position (`Spanned`) so that later checks can still point at
//! `file:line:column`. Integers are read as i64 and text as strings (`1K`, `16g`, `30m`) and
//! range- or unit-checked when merged, which gives better messages than a failed `u32`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{ConfigError, Ctx, Origin, path_at, suggest};
use super::schema;

type Opt<T> = Option<Spanned<T>>;

// `#[schemars(with = …)]` names what each field accepts for `vbench config --schema`
// (`schema.rs` has the marker types); the doc comments are the schema's descriptions.

/// vbench.yaml: every key is optional; a missing key (or null) takes the default
/// (`vbench init` writes them all, commented).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vbench.yaml")]
pub struct RawConfig {
    /// The container that runs `vllm serve`.
    pub server: Option<RawServer>,
    /// The container that runs `vllm bench serve`.
    pub client: Option<RawClient>,
    /// Docker network joining both containers (created if missing). Default: vllm-bench.
    #[schemars(with = "Option<schema::Scalar>")]
    pub network: Opt<String>,
    /// Host directory for results, logs and run state. Default: ./bench_results.
    #[schemars(with = "Option<schema::Scalar>")]
    pub results_dir: Opt<String>,
    /// Named sweeps (grids of input lengths x concurrency at one output length); the presets
    /// production, scaling and scaling-200 are built in.
    #[schemars(with = "Option<BTreeMap<String, RawSweep>>")]
    pub sweeps: Option<BTreeMap<String, Spanned<RawSweep>>>,
    /// What `vbench run` does by default.
    pub run: Option<RawRun>,
    /// When to pull the images of containers vbench creates: missing (default), always, never.
    #[schemars(with = "Option<schema::Pull>")]
    pub pull: Opt<String>,
    /// Named combinations of server settings: the run's sweeps are measured once per
    /// combination, in order.
    #[schemars(with = "Option<Vec<RawCombination>>")]
    pub matrix: Opt<Vec<Spanned<RawCombination>>>,
    /// Named Docker Engines: `--host NAME` points a command at one, `vbench run --hosts a,b`
    /// fans a run out over several.
    #[schemars(with = "Option<Vec<RawHost>>")]
    pub hosts: Opt<Vec<Spanned<RawHost>>>,
}

/// One named Docker Engine (`hosts:` entries); unset keys keep the `server`/`client` values.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Host")]
pub struct RawHost {
    /// The host's name, unique (required).
    #[schemars(with = "schema::Scalar")]
    pub name: Opt<String>,
    /// The engine's address (required): unix:///var/run/docker.sock, tcp://HOST:2376 or
    /// ssh://user@host.
    #[schemars(with = "schema::Scalar")]
    pub docker_host: Opt<String>,
    /// Directory with ca.pem, cert.pem and key.pem: connect to a tcp:// address over TLS.
    #[schemars(with = "Option<schema::Scalar>")]
    pub tls_cert_path: Opt<String>,
    /// GPU preset on this host: auto, nvidia, amd or none.
    #[schemars(with = "Option<schema::GpuMode>")]
    pub gpu: Opt<String>,
    /// GPUs on this host: all, a count (the first N) or host indices.
    #[schemars(with = "Option<schema::Gpus>")]
    pub gpus: Opt<super::gpus::RawGpus>,
    /// Server container name on this host.
    #[schemars(with = "Option<schema::Scalar>")]
    pub server_container: Opt<String>,
    /// Client container name on this host.
    #[schemars(with = "Option<schema::Scalar>")]
    pub client_container: Opt<String>,
    /// Publish the server port on 127.0.0.1:<port> of this host.
    #[schemars(with = "Option<schema::Port>")]
    pub publish_port: Opt<i64>,
}

/// One named combination of server settings (`matrix:` entries); unset keys keep the
/// `server` section's value.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Combination")]
pub struct RawCombination {
    /// The combination's name, unique (required).
    #[schemars(with = "schema::Scalar")]
    pub name: Opt<String>,
    /// Server image for this combination.
    #[schemars(with = "Option<schema::Scalar>")]
    pub image: Opt<String>,
    /// --tensor-parallel-size for this combination.
    #[schemars(with = "Option<schema::Positive32>")]
    pub tensor_parallel_size: Opt<i64>,
    /// --gpu-memory-utilization for this combination, 0 < F <= 1.
    #[schemars(with = "Option<schema::Fraction>")]
    pub gpu_memory_utilization: Opt<f64>,
    /// --max-model-len for this combination.
    #[schemars(with = "Option<schema::Positive>")]
    pub max_model_len: Opt<i64>,
    /// Pass --enforce-eager in this combination.
    #[schemars(with = "Option<bool>")]
    pub enforce_eager: Opt<bool>,
    /// Extra `vllm serve` arguments (replace the server's list whole).
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub extra_args: Opt<Vec<Spanned<String>>>,
    /// Environment merged over server.env key by key; an empty value removes the key.
    #[schemars(with = "Option<BTreeMap<String, schema::Scalar>>")]
    pub env: Option<BTreeMap<String, Spanned<String>>>,
}

/// An SLO search (`sweeps.<name>.slo`): the highest load at which every p99 limit given
/// holds (at least one of ttft_p99, tpot_p99, e2el_p99).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Slo")]
pub struct RawSlo {
    /// p99 time to first token must not exceed this (2s, 500ms).
    #[schemars(with = "Option<schema::Duration>")]
    pub ttft_p99: Opt<String>,
    /// p99 time per output token must not exceed this (50ms).
    #[schemars(with = "Option<schema::Duration>")]
    pub tpot_p99: Opt<String>,
    /// p99 end-to-end request latency must not exceed this.
    #[schemars(with = "Option<schema::Duration>")]
    pub e2el_p99: Opt<String>,
    /// What the search varies: concurrency (default) or rate.
    #[schemars(with = "Option<schema::SloBy>")]
    pub by: Opt<String>,
    /// The first level; the search doubles from it. Default: 1.
    #[schemars(with = "Option<schema::Level>")]
    pub start: Opt<f64>,
    /// The highest level probed (>= start). Default: 1024.
    #[schemars(with = "Option<schema::Level>")]
    pub max: Opt<f64>,
    /// At most this many points per input length, repeats included. Default: 20.
    #[schemars(with = "Option<schema::MaxPoints>")]
    pub max_points: Opt<i64>,
    /// Runs of the boundary levels; the majority decides. Default: 3.
    #[schemars(with = "Option<schema::BoundaryRepeats>")]
    pub boundary_repeats: Opt<i64>,
    /// Rate search only: stop when the missing rate is within this fraction above the
    /// meeting one, in (0, 1). Default: 0.1.
    #[schemars(with = "Option<schema::Precision>")]
    pub precision: Opt<f64>,
}

/// The server container and `vllm serve`.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Server")]
pub struct RawServer {
    /// Container name (attached if it exists, else created). Default: vllm-server.
    #[schemars(with = "Option<schema::Scalar>")]
    pub container: Opt<String>,
    /// Image, used only when vbench creates the container (repo:tag or repo@sha256:…).
    #[schemars(with = "Option<schema::Scalar>")]
    pub image: Opt<String>,
    /// Model to serve: a Hugging Face id or a path inside the container.
    #[schemars(with = "Option<schema::Scalar>")]
    pub model: Opt<String>,
    /// --served-model-name; null: the model id.
    #[schemars(with = "Option<schema::Scalar>")]
    pub served_model_name: Opt<String>,
    /// --tensor-parallel-size: GPUs per model replica. Default: 4.
    #[schemars(with = "Option<schema::Positive32>")]
    pub tensor_parallel_size: Opt<i64>,
    /// --gpu-memory-utilization, 0 < F <= 1. Default: 0.9.
    #[schemars(with = "Option<schema::Fraction>")]
    pub gpu_memory_utilization: Opt<f64>,
    /// Pass --enforce-eager. Default: true.
    #[schemars(with = "Option<bool>")]
    pub enforce_eager: Opt<bool>,
    /// Port `vllm serve` listens on inside the container. Default: 8000.
    #[schemars(with = "Option<schema::Port>")]
    pub port: Opt<i64>,
    /// --max-model-len; null: vLLM derives it from the model.
    #[schemars(with = "Option<schema::Positive>")]
    pub max_model_len: Opt<i64>,
    /// Extra `vllm serve` arguments, appended verbatim.
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub extra_args: Opt<Vec<Spanned<String>>>,
    /// Environment for the container and `vllm serve` (entries empty after ${VAR} expansion
    /// are not passed).
    #[schemars(with = "Option<BTreeMap<String, schema::Scalar>>")]
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    /// Mounts for a container vbench creates: `source:target[:ro]`.
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub volumes: Opt<Vec<Spanned<String>>>,
    /// GPU preset for a container vbench creates: auto, nvidia, amd or none.
    #[schemars(with = "Option<schema::GpuMode>")]
    pub gpu: Opt<String>,
    /// Which GPUs a container vbench creates gets: all, a count (the first N) or host indices.
    #[schemars(with = "Option<schema::Gpus>")]
    pub gpus: Opt<super::gpus::RawGpus>,
    /// Shared memory for a container vbench creates (16g = 16GiB).
    #[schemars(with = "Option<schema::Size>")]
    pub shm_size: Opt<String>,
    /// Deadline for `vllm serve` to become ready. Default: 30m.
    #[schemars(with = "Option<schema::Duration>")]
    pub startup_timeout: Opt<String>,
    /// Publish the server port on 127.0.0.1:<port> of the host; null: not published.
    #[schemars(with = "Option<schema::Port>")]
    pub publish_port: Opt<i64>,
    /// The server's API key, usually ${VLLM_API_KEY} (never printed); empty or null: no key.
    #[schemars(with = "Option<schema::Scalar>")]
    pub api_key: Opt<String>,
    /// --pipeline-parallel-size: pipeline stages (one per node with `nodes`). Default: 1.
    #[schemars(with = "Option<schema::Positive32>")]
    pub pipeline_parallel_size: Opt<i64>,
    /// Multi-node server: host names from `hosts:`; a Ray head on the first, Ray workers on
    /// the others, `vllm serve --distributed-executor-backend ray` on the head. Default: [].
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub nodes: Opt<Vec<Spanned<String>>>,
    /// Multi-node: the Ray head's port on the first node (host networking). Default: 6379.
    #[schemars(with = "Option<schema::Port>")]
    pub ray_port: Opt<i64>,
    /// Multi-node: deadline for every node to join the Ray cluster. Default: 5m.
    #[schemars(with = "Option<schema::Duration>")]
    pub nodes_timeout: Opt<String>,
}

/// The client container and `vllm bench serve`.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Client")]
pub struct RawClient {
    /// Container name. Default: vllm-bench-client.
    #[schemars(with = "Option<schema::Scalar>")]
    pub container: Opt<String>,
    /// Image, used only when vbench creates the container.
    #[schemars(with = "Option<schema::Scalar>")]
    pub image: Opt<String>,
    /// --tokenizer for `vllm bench serve`; null: the served model's.
    #[schemars(with = "Option<schema::Scalar>")]
    pub tokenizer: Opt<String>,
    /// Directory inside the client container where result files are written.
    #[schemars(with = "Option<schema::Scalar>")]
    pub result_dir: Opt<String>,
    /// Environment for the client container and `vllm bench serve`.
    #[schemars(with = "Option<BTreeMap<String, schema::Scalar>>")]
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    /// Mounts for a client container vbench creates.
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub volumes: Opt<Vec<Spanned<String>>>,
    /// Extra `vllm bench serve` arguments, appended verbatim.
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub extra_args: Opt<Vec<Spanned<String>>>,
}

/// A sweep: input lengths x concurrency levels at one output length (K = 1024 tokens).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sweep")]
pub struct RawSweep {
    /// Input tokens per request (required).
    #[schemars(with = "Vec<schema::Tokens>")]
    pub input_lens: Opt<Vec<Spanned<String>>>,
    /// Output tokens per request (required).
    #[schemars(with = "schema::Tokens")]
    pub output_len: Opt<String>,
    /// --max-concurrency levels (required, unless the sweep has `slo`).
    #[schemars(with = "Option<Vec<schema::Positive>>")]
    pub concurrency: Opt<Vec<Spanned<i64>>>,
    /// num_prompts = this x concurrency. Default: 1.
    #[schemars(with = "Option<schema::Positive>")]
    pub prompts_per_concurrency: Opt<i64>,
    /// A fixed num_prompts for every point (overrides prompts_per_concurrency).
    #[schemars(with = "Option<schema::Positive>")]
    pub num_prompts: Opt<i64>,
    /// inf, or requests per second (Poisson arrivals). Default: inf.
    #[schemars(with = "Option<schema::RequestRate>")]
    pub request_rate: Opt<String>,
    /// Warm-up requests before each point. Default: 0.
    #[schemars(with = "Option<schema::NonNegative>")]
    pub warmups: Opt<i64>,
    /// Result file names: production, scaling or custom.
    #[schemars(with = "Option<schema::Layout>")]
    pub layout: Opt<String>,
    /// Per-point deadline. Default: run.point_timeout.
    #[schemars(with = "Option<schema::Duration>")]
    pub point_timeout: Opt<String>,
    /// Run each point N times (rounds), to know the noise. Default: 1.
    #[schemars(with = "Option<schema::Repeats>")]
    pub repeats: Opt<i64>,
    /// An SLO search instead of `concurrency` (which the sweep then must not have).
    #[schemars(with = "Option<RawSlo>")]
    pub slo: Opt<RawSlo>,
}

/// What `vbench run` does by default.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Run")]
pub struct RawRun {
    /// Sweeps run when none is named on the command line. Default: [production].
    #[schemars(with = "Option<Vec<schema::Scalar>>")]
    pub sweeps: Opt<Vec<Spanned<String>>>,
    /// --seed for `vllm bench serve`. Default: 0.
    #[schemars(with = "Option<schema::NonNegative>")]
    pub seed: Opt<i64>,
    /// Deadline for one sweep point. Default: 1h.
    #[schemars(with = "Option<schema::Duration>")]
    pub point_timeout: Opt<String>,
    /// How the client runs each point: auto, worker or process.
    #[schemars(with = "Option<schema::ClientMode>")]
    pub client_mode: Opt<String>,
}

/// The position of a spanned value.
pub fn origin<T>(s: &Spanned<T>) -> Origin {
    Origin::File {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

/// What a field accepts, by its key name: the help line for type errors.
pub fn expectation(key: &str) -> Option<&'static str> {
    Some(match key {
        "tensor_parallel_size" => "an integer >= 1 (GPUs per model replica)",
        "gpu_memory_utilization" => "a number in (0, 1], e.g. 0.9",
        "enforce_eager" => "true or false",
        "port" | "publish_port" => "an integer 1-65535",
        "max_model_len" => "an integer >= 1, or null to let vLLM derive it from the model",
        "extra_args" => "a list of strings, e.g. [\"--max-num-seqs\", \"256\"]",
        "env" => "a mapping NAME: value",
        "volumes" => "a list of `host_path:container_path[:ro]` strings",
        "gpu" => "one of auto, nvidia, amd, none",
        "client_mode" => "one of auto, worker, process",
        "api_key" => "a string, usually \"${VLLM_API_KEY}\" (empty or null: no key)",
        "pull" => "one of missing, always, never",
        "gpus" => super::gpus::GPUS_EXPECTED,
        "shm_size" => "a size like 16g or 16GiB (k/m/g = powers of 1024, as Docker reads them)",
        "startup_timeout" | "point_timeout" | "nodes_timeout" => "a duration like 90s, 30m, 1h30m",
        "input_lens" => "a list of token counts: integers or <n>K with K = 1024 (1K, 4K, 96K)",
        "output_len" => "a token count: an integer or <n>K (K = 1024)",
        "concurrency" => "a list of integers >= 1",
        "prompts_per_concurrency" | "num_prompts" => "an integer >= 1",
        "warmups" | "seed" => "an integer >= 0",
        "request_rate" => "inf or a number of requests per second > 0",
        "layout" => "one of production, scaling, custom",
        "sweeps" => {
            "for `run.sweeps`: a list of sweep names; at the top level: a mapping name: sweep"
        }
        "image" => "an image reference like vllm/vllm-openai:v0.11.0 or repo@sha256:<64 hex>",
        "server" | "client" | "run" | "slo" => "a mapping of keys",
        "matrix" => "a list of combinations, each a mapping with a `name` and server settings",
        "hosts" => "a list of hosts, each a mapping with a `name` and a `docker_host`",
        "docker_host" => {
            "an address: unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://user@host"
        }
        "tls_cert_path" => "a directory holding ca.pem, cert.pem and key.pem",
        "server_container" | "client_container" => "a container name",
        "name" => "a name: a letter or digit, then letters, digits, `_`, `.` or `-`",
        "ttft_p99" | "tpot_p99" | "e2el_p99" => "a duration like 2s or 50ms",
        "by" => "one of concurrency, rate",
        "start" | "max" => "a number > 0 (an integer when searching by concurrency)",
        "max_points" => "an integer 2-1000",
        "boundary_repeats" => "an integer 1-50",
        "precision" => "a fraction in (0, 1), e.g. 0.1",
        _ => return None,
    })
}

/// Parse the file text into raw values; errors carry file:line:column, the field path and
/// the valid keys.
pub fn parse(ctx: &Ctx) -> Result<RawConfig, ConfigError> {
    serde_saphyr::from_str_with_options::<Option<RawConfig>>(&ctx.text, options())
        .map(Option::unwrap_or_default)
        .map_err(|e| convert(ctx, &e))
}

/// serde-saphyr's defaults, with a tighter cap on merge keys (`<<: *a`): each merge replays
/// its anchor, and the cost grows faster than the count — a 1 KB file of merges of merges
/// took seconds to reach the default cap of 10 000. A `vbench.yaml` needs a handful.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_merge_keys = MAX_MERGE_KEYS;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

const MAX_MERGE_KEYS: usize = 256;

fn convert(ctx: &Ctx, e: &serde_saphyr::Error) -> ConfigError {
    let inner = e.without_snippet();
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let origin = if line > 0 {
        Origin::File { line, column }
    } else {
        Origin::Default
    };
    let path = if line > 0 {
        path_at(&ctx.text, line, column)
    } else {
        String::new()
    };
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let section = path.rsplit_once('.').map(|(s, _)| s.to_string());
            let field_path = match &section {
                Some(s) => format!("{s}.{field}"),
                None => field.clone(),
            };
            let where_ = section
                .map(|s| format!("`{s}`"))
                .unwrap_or_else(|| "the top level".into());
            let mut err = ctx
                .error_at(origin, &field_path, format!("unknown key `{field}`"))
                .help(format!("valid keys in {where_}: {}", expected.join(", ")));
            if let Some(s) = suggest(field, expected) {
                err = err.help(format!("did you mean `{s}`?"));
            }
            err
        }
        other => {
            let msg = strip_position(&other.to_string());
            let mut err = ctx.error_at(origin, &path, msg);
            let key = path.rsplit('.').next().unwrap_or_default();
            if let Some(x) = expectation(key) {
                err = err.help(format!("expected: {x}"));
            }
            err
        }
    }
}

/// serde-saphyr's message without its `error: line N column M: ` prefix and snippet (we
/// print our own).
fn strip_position(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((_, msg)) => msg,
        None => first,
    };
    // Some messages repeat the position at the end (`invalid boolean at line 2, column 5`).
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => &msg[..i],
        _ => msg,
    };
    // Raw integers are read as i64 and floats as f64; name the kind, not the Rust type.
    match msg {
        "invalid i64" | "invalid u64" => "not an integer".to_string(),
        "invalid f64" => "not a number".to_string(),
        "invalid boolean" | "invalid bool" => "not true or false".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sweeps merged from the previous one twice, `levels` deep: 2^levels merge keys.
    fn merge_bomb(levels: usize) -> String {
        let mut s =
            String::from("sweeps:\n  s0: &s0 {input_lens: [1], output_len: 1, concurrency: [1]}\n");
        for l in 1..=levels {
            s.push_str(&format!(
                "  s{l}: &s{l} {{<<: [*s{}, *s{}]}}\n",
                l - 1,
                l - 1
            ));
        }
        s
    }

    #[test]
    fn merge_key_bombs_stop_early_at_their_line() {
        // Found by tests/fuzz_config.rs: 12 levels took ~4 s (debug) to hit the default cap of
        // 10 000 merge keys; 10 levels (1024 merges, ~1 s) were accepted.
        let ok = Ctx {
            text: merge_bomb(2),
            ..Default::default()
        };
        let raw = parse(&ok).expect("a few merges are fine");
        assert_eq!(raw.sweeps.map(|s| s.len()), Some(3));
        let ctx = Ctx {
            text: merge_bomb(10),
            ..Default::default()
        };
        let e = parse(&ctx).expect_err("over the merge-key budget");
        assert!(e.to_string().contains("budget breached"), "{e}");
        let (line, _) = e.position().expect("located");
        assert!((2..=12).contains(&line), "{e}");
    }
}
