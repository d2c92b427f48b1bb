//! The raw `vbench.yaml` as written: every key optional, unknown keys rejected, every leaf
//! value carrying its source position (`Spanned`) so that later checks can still point at
//! `file:line:column`. Integers are read as i64 and text as strings (`1K`, `16g`, `30m`) and
//! range- or unit-checked when merged, which gives better messages than a failed `u32`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{ConfigError, Ctx, Origin, path_at, suggest};

type Opt<T> = Option<Spanned<T>>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Option<RawServer>,
    pub client: Option<RawClient>,
    pub network: Opt<String>,
    pub results_dir: Opt<String>,
    pub sweeps: Option<BTreeMap<String, Spanned<RawSweep>>>,
    pub run: Option<RawRun>,
    pub pull: Opt<String>,
    pub matrix: Opt<Vec<Spanned<RawCombination>>>,
}

/// One named combination of server settings (`matrix:` entries).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCombination {
    pub name: Opt<String>,
    pub image: Opt<String>,
    pub tensor_parallel_size: Opt<i64>,
    pub gpu_memory_utilization: Opt<f64>,
    pub max_model_len: Opt<i64>,
    pub enforce_eager: Opt<bool>,
    pub extra_args: Opt<Vec<Spanned<String>>>,
    pub env: Option<BTreeMap<String, Spanned<String>>>,
}

/// An SLO search (`sweeps.<name>.slo`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub ttft_p99: Opt<String>,
    pub tpot_p99: Opt<String>,
    pub e2el_p99: Opt<String>,
    pub by: Opt<String>,
    pub start: Opt<f64>,
    pub max: Opt<f64>,
    pub max_points: Opt<i64>,
    pub boundary_repeats: Opt<i64>,
    pub precision: Opt<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub container: Opt<String>,
    pub image: Opt<String>,
    pub model: Opt<String>,
    pub served_model_name: Opt<String>,
    pub tensor_parallel_size: Opt<i64>,
    pub gpu_memory_utilization: Opt<f64>,
    pub enforce_eager: Opt<bool>,
    pub port: Opt<i64>,
    pub max_model_len: Opt<i64>,
    pub extra_args: Opt<Vec<Spanned<String>>>,
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    pub volumes: Opt<Vec<Spanned<String>>>,
    pub gpu: Opt<String>,
    pub gpus: Opt<super::gpus::RawGpus>,
    pub shm_size: Opt<String>,
    pub startup_timeout: Opt<String>,
    pub publish_port: Opt<i64>,
    pub api_key: Opt<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub container: Opt<String>,
    pub image: Opt<String>,
    pub tokenizer: Opt<String>,
    pub result_dir: Opt<String>,
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    pub volumes: Opt<Vec<Spanned<String>>>,
    pub extra_args: Opt<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    pub input_lens: Opt<Vec<Spanned<String>>>,
    pub output_len: Opt<String>,
    pub concurrency: Opt<Vec<Spanned<i64>>>,
    pub prompts_per_concurrency: Opt<i64>,
    pub num_prompts: Opt<i64>,
    pub request_rate: Opt<String>,
    pub warmups: Opt<i64>,
    pub layout: Opt<String>,
    pub point_timeout: Opt<String>,
    pub repeats: Opt<i64>,
    pub slo: Opt<RawSlo>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub sweeps: Opt<Vec<Spanned<String>>>,
    pub seed: Opt<i64>,
    pub point_timeout: Opt<String>,
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
        "startup_timeout" | "point_timeout" => "a duration like 90s, 30m, 1h30m",
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
