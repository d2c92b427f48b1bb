//! The command line of `vllm bench serve` 0.33: every flag of the real `--help=all` (the real
//! vLLM 0.33 help text, tests/fixtures/vllm-0.33/vllm_bench_serve_help_all.txt, transcribed by
//! hand), parsed with argparse's wording and exit code 2, then typed into [`Options`]. Flags the
//! stand-in has no use for are accepted and ignored so that a real command line never fails here.

use crate::argparse::{self, ArgError, Flag, Kind};

const USAGE: &str = "vllm bench serve [options]";

const fn v(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        kind: Kind::Value,
    }
}
const fn s(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        kind: Kind::Switch,
    }
}

/// Every flag of the real `vllm bench serve --help=all` (v0.33.0).
const FLAGS: &[Flag] = &[
    // options
    s(&["--append-result"]),
    v(&["--backend"]),
    v(&["--base-url"]),
    v(&["--burstiness"]),
    v(&["--chat-template-kwargs"]),
    v(&["--dataset-name"]),
    v(&["--dataset-path"]),
    s(&["--disable-shuffle"]),
    s(&["--disable-tqdm"]),
    s(&["--enable-multimodal-chat"]),
    v(&["--endpoint"]),
    v(&["--extra-body"]),
    Flag {
        names: &["--goodput"],
        kind: Kind::Many,
    },
    Flag {
        names: &["--header"],
        kind: Kind::AnyNumber,
    },
    v(&["--host"]),
    s(&["--ignore-eos"]),
    v(&["--input-len"]),
    s(&["--insecure"]),
    v(&["--label"]),
    v(&["--logprobs"]),
    v(&["--lora-assignment"]),
    Flag {
        names: &["--lora-modules"],
        kind: Kind::Many,
    },
    v(&["--max-concurrency"]),
    Flag {
        names: &["--metadata"],
        kind: Kind::AnyNumber,
    },
    v(&["--metric-percentiles"]),
    v(&["--model"]),
    s(&["--no-oversample"]),
    s(&["--no-stream"]),
    v(&["--num-prompts"]),
    v(&["--num-warmups"]),
    v(&["--output-len"]),
    v(&["--percentile-metrics"]),
    s(&["--plot-dataset-stats"]),
    s(&["--plot-timeline"]),
    v(&["--port"]),
    v(&["--probe-request-rate"]),
    s(&["--profile"]),
    v(&["--ramp-up-end-rps"]),
    v(&["--ramp-up-start-rps"]),
    v(&["--ramp-up-strategy"]),
    v(&["--ready-check-timeout-sec"]),
    v(&["--request-id-prefix"]),
    v(&["--request-rate"]),
    v(&["--result-dir"]),
    v(&["--result-filename"]),
    s(&["--save-detailed"]),
    s(&["--save-result"]),
    v(&["--seed"]),
    s(&["--self-timed"]),
    s(&["--no-self-timed"]),
    v(&["--served-model-name"]),
    s(&["--skip-chat-template"]),
    s(&["--skip-tokenizer-init"]),
    v(&["--timeline-itl-thresholds"]),
    v(&["--tokenizer"]),
    v(&["--tokenizer-mode"]),
    s(&["--trust-remote-code"]),
    s(&["--use-beam-search"]),
    s(&["--help", "-h"]),
    // custom dataset options
    s(&["--custom-ensure-client-side-data"]),
    v(&["--custom-output-len"]),
    // spec bench dataset options
    v(&["--spec-bench-category"]),
    v(&["--spec-bench-output-len"]),
    // sharegpt dataset options
    v(&["--sharegpt-output-len"]),
    // timed-trace dataset options
    v(&["--timed-trace-chunk-hash-size"]),
    v(&["--timed-trace-label-hash-ids"]),
    v(&["--timed-trace-label-input-length"]),
    v(&["--timed-trace-label-output-length"]),
    v(&["--timed-trace-label-timestamp"]),
    v(&["--timed-trace-sec-multiplier"]),
    // blazedit / asr dataset options
    v(&["--blazedit-max-distance"]),
    v(&["--blazedit-min-distance"]),
    v(&["--asr-max-audio-len-sec"]),
    v(&["--asr-min-audio-len-sec"]),
    // random dataset options
    s(&["--no-reranker"]),
    v(&["--random-batch-size"]),
    v(&["--random-input-len"]),
    v(&["--random-output-len"]),
    v(&["--random-prefix-len"]),
    v(&["--random-range-ratio"]),
    // random multimodal dataset options
    v(&["--random-mm-base-items-per-request"]),
    v(&["--random-mm-bucket-config"]),
    v(&["--random-mm-limit-mm-per-prompt"]),
    v(&["--random-mm-num-mm-items-range-ratio"]),
    // hf dataset options
    v(&["--hf-name"]),
    v(&["--hf-output-len"]),
    v(&["--hf-split"]),
    v(&["--hf-subset"]),
    // BFCL dataset options
    v(&["--bfcl-categories"]),
    // prefix repetition dataset options
    v(&["--prefix-repetition-num-prefixes"]),
    v(&["--prefix-repetition-output-len"]),
    v(&["--prefix-repetition-prefix-len"]),
    v(&["--prefix-repetition-suffix-len"]),
    // speed bench dataset options
    v(&["--speed-bench-category"]),
    v(&["--speed-bench-dataset-subset"]),
    v(&["--speed-bench-output-len"]),
    // sampling parameters
    v(&["--frequency-penalty"]),
    v(&["--min-p"]),
    v(&["--presence-penalty"]),
    v(&["--repetition-penalty"]),
    v(&["--temperature"]),
    v(&["--top-k"]),
    v(&["--top-p"]),
];

pub const BACKENDS: &[&str] = &[
    "vllm",
    "openai",
    "openai-chat",
    "openai-responses",
    "openai-audio",
    "openai-embeddings",
    "openai-embeddings-chat",
    "openai-embeddings-clip",
    "openai-embeddings-vlm2vec",
    "infinity-embeddings",
    "infinity-embeddings-clip",
    "vllm-pooling",
    "vllm-rerank",
];

pub const DATASETS: &[&str] = &[
    "sharegpt",
    "burstgpt",
    "random",
    "random-mm",
    "random-rerank",
    "hf",
    "custom",
    "custom_audio",
    "custom_image",
    "prefix_repetition",
    "spec_bench",
    "speed_bench",
    "timed_trace",
];

/// What the stand-in uses of the command line, typed as the real parser types it.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: String,
    pub base_url: Option<String>,
    pub host: String,
    pub port: u16,
    pub endpoint: String,
    pub header: Option<Vec<String>>,
    pub model: Option<String>,
    pub served_model_name: Option<String>,
    pub tokenizer: Option<String>,
    pub tokenizer_mode: String,
    pub trust_remote_code: bool,
    pub skip_tokenizer_init: bool,
    pub insecure: bool,
    pub dataset_name: String,
    pub dataset_path: Option<String>,
    pub num_prompts: usize,
    pub random_input_len: usize,
    pub random_output_len: usize,
    /// The raw string, as in 0.33 (a float or a JSON object).
    pub random_range_ratio: String,
    pub random_prefix_len: usize,
    pub input_len: Option<usize>,
    pub output_len: Option<usize>,
    pub seed: u64,
    pub request_rate: f64,
    pub burstiness: f64,
    pub max_concurrency: Option<usize>,
    pub ramp_up_strategy: Option<String>,
    pub ramp_up_start_rps: Option<i64>,
    pub ramp_up_end_rps: Option<i64>,
    pub ignore_eos: bool,
    pub num_warmups: usize,
    pub ready_check_timeout_sec: i64,
    pub percentile_metrics: Option<String>,
    pub metric_percentiles: String,
    pub goodput: Option<Vec<String>>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    pub min_p: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub repetition_penalty: Option<f64>,
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    pub request_id_prefix: String,
    pub logprobs: Option<i64>,
    pub disable_tqdm: bool,
    pub save_result: bool,
    pub save_detailed: bool,
    pub append_result: bool,
    pub result_dir: Option<String>,
    pub result_filename: Option<String>,
    pub label: Option<String>,
    pub metadata: Option<Vec<String>>,
    pub lora_modules: Option<Vec<String>>,
}

/// Why parsing stopped: an argparse error (exit 2) or `--help` (exit 0).
pub enum Stop {
    Error(ArgError),
    Help,
}

impl Stop {
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::Error(e) => e.report(USAGE),
            Stop::Help => {
                println!("usage: {USAGE}\n\nBenchmark the online serving throughput.");
                println!(
                    "(CPU stand-in for vLLM 0.33: accepts every flag of the real --help=all; see vLLM's documentation.)"
                );
                0
            }
        }
    }
}

fn choice(
    p: &argparse::Parsed,
    name: &str,
    choices: &[&str],
    default: &str,
) -> Result<String, ArgError> {
    match p.get(name) {
        None => Ok(default.to_string()),
        Some(v) if choices.contains(&v) => Ok(v.to_string()),
        Some(v) => {
            let list = choices
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(ArgError {
                message: format!("argument {name}: invalid choice: '{v}' (choose from {list})"),
            })
        }
    }
}

fn int<T: std::str::FromStr>(p: &argparse::Parsed, name: &str) -> Result<Option<T>, ArgError> {
    p.parse::<T>(name, "int")
}

fn float(p: &argparse::Parsed, name: &str) -> Result<Option<f64>, ArgError> {
    p.parse::<f64>(name, "float")
}

/// A fresh default for `--request-id-prefix`: `bench-<8 hex>-` like `uuid4().hex[:8]`.
fn default_request_id_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ ((std::process::id() as u64) << 32);
    x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    format!("bench-{:08x}-", (x ^ (x >> 33)) as u32)
}

/// Parse a `vllm bench serve` command line (the words after `bench serve`).
pub fn parse(args: &[String]) -> Result<Options, Stop> {
    let p = argparse::parse(args, FLAGS, 0).map_err(Stop::Error)?;
    if p.has("--help") {
        return Err(Stop::Help);
    }
    let e = Stop::Error;
    let extra_body = match p.get("--extra-body") {
        None => None,
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            // json.loads accepts any JSON; the real client then fails merging a non-dict.
            Ok(_) | Err(_) => {
                return Err(e(ArgError {
                    message: format!("argument --extra-body: invalid loads value: '{raw}'"),
                }));
            }
        },
    };
    let opt_vec = |name: &str| {
        if p.has(name) {
            Some(p.all(name).to_vec())
        } else {
            None
        }
    };
    Ok(Options {
        backend: choice(&p, "--backend", BACKENDS, "openai").map_err(e)?,
        base_url: p.get("--base-url").map(str::to_string),
        host: p.get("--host").unwrap_or("127.0.0.1").to_string(),
        port: int(&p, "--port").map_err(e)?.unwrap_or(8000),
        endpoint: p.get("--endpoint").unwrap_or("/v1/completions").to_string(),
        header: opt_vec("--header"),
        model: p.get("--model").map(str::to_string),
        served_model_name: p.get("--served-model-name").map(str::to_string),
        tokenizer: p.get("--tokenizer").map(str::to_string),
        tokenizer_mode: p.get("--tokenizer-mode").unwrap_or("auto").to_string(),
        trust_remote_code: p.has("--trust-remote-code"),
        skip_tokenizer_init: p.has("--skip-tokenizer-init"),
        insecure: p.has("--insecure"),
        dataset_name: choice(&p, "--dataset-name", DATASETS, "random").map_err(e)?,
        dataset_path: p.get("--dataset-path").map(str::to_string),
        num_prompts: int(&p, "--num-prompts").map_err(e)?.unwrap_or(1000),
        random_input_len: int(&p, "--random-input-len").map_err(e)?.unwrap_or(1024),
        random_output_len: int(&p, "--random-output-len").map_err(e)?.unwrap_or(128),
        random_range_ratio: p.get("--random-range-ratio").unwrap_or("0.0").to_string(),
        random_prefix_len: int(&p, "--random-prefix-len").map_err(e)?.unwrap_or(0),
        input_len: int(&p, "--input-len").map_err(e)?,
        output_len: int(&p, "--output-len").map_err(e)?,
        seed: int(&p, "--seed").map_err(e)?.unwrap_or(0),
        request_rate: float(&p, "--request-rate")
            .map_err(e)?
            .unwrap_or(f64::INFINITY),
        burstiness: float(&p, "--burstiness").map_err(e)?.unwrap_or(1.0),
        max_concurrency: int(&p, "--max-concurrency").map_err(e)?,
        ramp_up_strategy: match p.get("--ramp-up-strategy") {
            None => None,
            Some(_) => {
                Some(choice(&p, "--ramp-up-strategy", &["linear", "exponential"], "").map_err(e)?)
            }
        },
        ramp_up_start_rps: int(&p, "--ramp-up-start-rps").map_err(e)?,
        ramp_up_end_rps: int(&p, "--ramp-up-end-rps").map_err(e)?,
        ignore_eos: p.has("--ignore-eos"),
        num_warmups: int(&p, "--num-warmups").map_err(e)?.unwrap_or(0),
        ready_check_timeout_sec: int(&p, "--ready-check-timeout-sec")
            .map_err(e)?
            .unwrap_or(0),
        percentile_metrics: p.get("--percentile-metrics").map(str::to_string),
        metric_percentiles: p.get("--metric-percentiles").unwrap_or("99").to_string(),
        goodput: opt_vec("--goodput"),
        temperature: float(&p, "--temperature").map_err(e)?,
        top_p: float(&p, "--top-p").map_err(e)?,
        top_k: int(&p, "--top-k").map_err(e)?,
        min_p: float(&p, "--min-p").map_err(e)?,
        frequency_penalty: float(&p, "--frequency-penalty").map_err(e)?,
        presence_penalty: float(&p, "--presence-penalty").map_err(e)?,
        repetition_penalty: float(&p, "--repetition-penalty").map_err(e)?,
        extra_body,
        request_id_prefix: p
            .get("--request-id-prefix")
            .map(str::to_string)
            .unwrap_or_else(default_request_id_prefix),
        logprobs: int(&p, "--logprobs").map_err(e)?,
        disable_tqdm: p.has("--disable-tqdm"),
        save_result: p.has("--save-result"),
        save_detailed: p.has("--save-detailed"),
        append_result: p.has("--append-result"),
        result_dir: p.get("--result-dir").map(str::to_string),
        result_filename: p.get("--result-filename").map(str::to_string),
        label: p.get("--label").map(str::to_string),
        metadata: opt_vec("--metadata"),
        lora_modules: opt_vec("--lora-modules"),
    })
}

impl Options {
    /// The `Namespace(...)` line the real client prints first (a shortened but faithful form:
    /// the fields that shape the run, in the real order, with Python reprs).
    pub fn namespace_line(&self) -> String {
        use super::pyfmt::{float, opt_str, str_repr};
        let opt_int = |v: Option<usize>| v.map(|x| x.to_string()).unwrap_or_else(|| "None".into());
        let opt_f = |v: Option<f64>| v.map(float).unwrap_or_else(|| "None".into());
        let opt_list = |v: &Option<Vec<String>>| match v {
            None => "None".to_string(),
            Some(l) => format!(
                "[{}]",
                l.iter().map(|x| str_repr(x)).collect::<Vec<_>>().join(", ")
            ),
        };
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!(
            "Namespace(subparser='bench', bench_type='serve', trust_remote_code={}, seed={}, num_prompts={}, dataset_name={}, \
dataset_path={}, random_input_len={}, random_output_len={}, random_range_ratio={}, random_prefix_len={}, label={}, \
backend={}, base_url={}, host={}, port={}, endpoint={}, header={}, max_concurrency={}, model={}, input_len={}, \
output_len={}, tokenizer={}, tokenizer_mode={}, logprobs={}, request_rate={}, burstiness={}, disable_tqdm={}, \
num_warmups={}, save_result={}, save_detailed={}, append_result={}, metadata={}, result_dir={}, result_filename={}, \
ignore_eos={}, percentile_metrics={}, metric_percentiles={}, goodput={}, request_id_prefix={}, top_p={}, top_k={}, \
min_p={}, temperature={}, served_model_name={}, ready_check_timeout_sec={}, skip_tokenizer_init={}, insecure={})",
            py_bool(self.trust_remote_code),
            self.seed,
            self.num_prompts,
            str_repr(&self.dataset_name),
            opt_str(self.dataset_path.as_deref()),
            self.random_input_len,
            self.random_output_len,
            str_repr(&self.random_range_ratio),
            self.random_prefix_len,
            opt_str(self.label.as_deref()),
            str_repr(&self.backend),
            opt_str(self.base_url.as_deref()),
            str_repr(&self.host),
            self.port,
            str_repr(&self.endpoint),
            opt_list(&self.header),
            opt_int(self.max_concurrency),
            opt_str(self.model.as_deref()),
            opt_int(self.input_len),
            opt_int(self.output_len),
            opt_str(self.tokenizer.as_deref()),
            str_repr(&self.tokenizer_mode),
            self.logprobs
                .map(|x| x.to_string())
                .unwrap_or_else(|| "None".into()),
            float(self.request_rate),
            float(self.burstiness),
            py_bool(self.disable_tqdm),
            self.num_warmups,
            py_bool(self.save_result),
            py_bool(self.save_detailed),
            py_bool(self.append_result),
            opt_list(&self.metadata),
            opt_str(self.result_dir.as_deref()),
            opt_str(self.result_filename.as_deref()),
            py_bool(self.ignore_eos),
            opt_str(self.percentile_metrics.as_deref()),
            str_repr(&self.metric_percentiles),
            opt_list(&self.goodput),
            str_repr(&self.request_id_prefix),
            opt_f(self.top_p),
            self.top_k
                .map(|x| x.to_string())
                .unwrap_or_else(|| "None".into()),
            opt_f(self.min_p),
            opt_f(self.temperature),
            opt_str(self.served_model_name.as_deref()),
            self.ready_check_timeout_sec,
            py_bool(self.skip_tokenizer_init),
            py_bool(self.insecure),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real `vllm bench serve --help=all` of 0.33 (`<repo>/tests/fixtures/vllm-0.33/`).
    fn help_text() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/vllm-0.33/vllm_bench_serve_help_all.txt");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read test fixture {}: {e}", path.display()))
    }

    /// Every option line of the real help (`  --flag METAVAR`, `  --a, --b`) is in the table with
    /// the same arity, and the table has nothing the real client lacks.
    #[test]
    fn flag_table_equals_the_real_help() {
        let mut seen = Vec::new();
        for line in help_text().lines() {
            let Some(rest) = line.strip_prefix("  -") else {
                continue;
            };
            let spec = format!("-{}", rest.split("  ").next().unwrap_or(""));
            for part in spec.split(", ") {
                let mut words = part.split_whitespace();
                let name = words.next().unwrap();
                let metavar: Vec<&str> = words.collect();
                let flag = FLAGS
                    .iter()
                    .find(|f| f.names.contains(&name))
                    .unwrap_or_else(|| panic!("{name} of the real help is missing"));
                let want = match metavar.as_slice() {
                    [] => Kind::Switch,
                    [m, ..] if m.starts_with('[') => Kind::AnyNumber, // `[KEY=VALUE ...]`
                    [_] => Kind::Value,
                    [_, m, ..] if m.starts_with('[') => Kind::Many, // `X [X ...]`
                    other => panic!("{name}: unexpected metavar {other:?}"),
                };
                assert_eq!(flag.kind, want, "{name}");
                seen.push(name.to_string());
            }
        }
        for f in FLAGS {
            for n in f.names {
                assert!(seen.iter().any(|s| s == n), "{n} is not in the real help");
            }
        }
        assert!(seen.len() > 100, "parsed {} flags", seen.len());
    }

    #[test]
    fn defaults_are_the_real_0_33_defaults() {
        let o = match parse(&[]) {
            Ok(o) => o,
            Err(_) => panic!("empty command line must parse"),
        };
        assert_eq!(
            (o.backend.as_str(), o.dataset_name.as_str(), o.num_prompts),
            ("openai", "random", 1000)
        );
        assert_eq!(
            (
                o.random_input_len,
                o.random_output_len,
                o.random_range_ratio.as_str()
            ),
            (1024, 128, "0.0")
        );
        assert!(
            o.request_rate.is_infinite() && o.burstiness == 1.0 && o.ready_check_timeout_sec == 0
        );
        assert_eq!(
            (o.endpoint.as_str(), o.host.as_str(), o.port),
            ("/v1/completions", "127.0.0.1", 8000)
        );
        assert_eq!(o.metric_percentiles, "99");
        assert!(o.request_id_prefix.starts_with("bench-") && o.request_id_prefix.len() == 15);
    }
}
