//! The `--save-result` file: the exact key set, order and value types vLLM 0.33 writes for
//! the same flags (contract §2a–2c, checked against fixtures/vllm-0.33/real_client_random.json),
//! the automatic file name, `--result-dir` creation and `--append-result`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::client::RequestOutput;
use super::metrics::Metrics;
use super::pyfmt;
use super::report::{MetricSpec, p_word, stat};

/// The run facts the file records besides metrics.
pub struct Setup<'a> {
    pub date: &'a str,
    pub backend: &'a str,
    pub label: Option<&'a str>,
    pub model_id: &'a str,
    pub tokenizer_id: Option<&'a str>,
    pub num_prompts: usize,
    pub metadata: &'a [(String, String)],
    pub request_rate: f64,
    pub burstiness: f64,
    pub max_concurrency: Option<usize>,
    pub ramp_up: Option<(&'a str, i64, i64)>,
    pub duration: f64,
    pub goodput: bool,
    pub save_detailed: bool,
}

fn f(x: f64) -> Value {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Build the result object in file order.
pub fn build(
    s: &Setup,
    outputs: &[RequestOutput],
    m: &Metrics,
    metrics: &[&MetricSpec],
) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("date".into(), json!(s.date));
    r.insert("endpoint_type".into(), json!(s.backend));
    r.insert("backend".into(), json!(s.backend));
    r.insert("label".into(), json!(s.label));
    r.insert("model_id".into(), json!(s.model_id));
    r.insert("tokenizer_id".into(), json!(s.tokenizer_id));
    r.insert("num_prompts".into(), json!(s.num_prompts));
    for (k, v) in s.metadata {
        r.insert(k.clone(), json!(v));
    }
    r.insert(
        "request_rate".into(),
        if s.request_rate.is_finite() {
            f(s.request_rate)
        } else {
            json!("inf")
        },
    );
    r.insert("burstiness".into(), f(s.burstiness));
    r.insert("max_concurrency".into(), json!(s.max_concurrency));
    if let Some((strategy, start, end)) = s.ramp_up {
        r.insert("ramp_up_strategy".into(), json!(strategy));
        r.insert("ramp_up_start_rps".into(), json!(start));
        r.insert("ramp_up_end_rps".into(), json!(end));
    }
    r.insert("duration".into(), f(s.duration));
    r.insert("completed".into(), json!(m.completed));
    r.insert("failed".into(), json!(m.failed));
    r.insert("total_input_tokens".into(), json!(m.total_input));
    r.insert("total_output_tokens".into(), json!(m.total_output));
    r.insert("request_throughput".into(), f(m.request_throughput));
    r.insert(
        "request_goodput".into(),
        if s.goodput {
            f(m.request_goodput)
        } else {
            Value::Null
        },
    );
    r.insert("output_throughput".into(), f(m.output_throughput));
    r.insert("total_token_throughput".into(), f(m.total_token_throughput));
    let floats =
        |g: &dyn Fn(&RequestOutput) -> f64| Value::Array(outputs.iter().map(|o| f(g(o))).collect());
    if s.save_detailed {
        r.insert(
            "input_lens".into(),
            json!(outputs.iter().map(|o| o.prompt_len).collect::<Vec<_>>()),
        );
        r.insert("output_lens".into(), json!(m.actual_output_lens));
        r.insert("ttfts".into(), floats(&|o| o.ttft));
        r.insert(
            "itls".into(),
            Value::Array(
                outputs
                    .iter()
                    .map(|o| Value::Array(o.itl.iter().map(|&x| f(x)).collect()))
                    .collect(),
            ),
        );
    }
    r.insert("latencies".into(), floats(&|o| o.latency));
    if s.save_detailed {
        r.insert("start_times".into(), floats(&|o| o.start_time));
    }
    r.insert("queue_times".into(), floats(&|o| o.queue_time));
    if s.save_detailed {
        r.insert(
            "generated_texts".into(),
            json!(
                outputs
                    .iter()
                    .map(|o| o.generated_text.as_str())
                    .collect::<Vec<_>>()
            ),
        );
        r.insert(
            "errors".into(),
            json!(outputs.iter().map(|o| o.error.as_str()).collect::<Vec<_>>()),
        );
    }
    r.insert(
        "max_output_tokens_per_s".into(),
        f(m.max_output_tokens_per_s),
    );
    r.insert(
        "max_concurrent_requests".into(),
        json!(m.max_concurrent_requests),
    );
    r.insert("rtfx".into(), f(0.0));
    for spec in metrics {
        let st = stat(m, spec.key);
        r.insert(format!("mean_{}_ms", spec.key), f(st.mean));
        r.insert(format!("median_{}_ms", spec.key), f(st.median));
        r.insert(format!("std_{}_ms", spec.key), f(st.std));
        for (p, v) in &st.percentiles {
            r.insert(format!("p{}_{}_ms", p_word(*p), spec.key), f(*v));
        }
    }
    r
}

/// `{label or backend}-{request_rate}qps{-concurrency<N>}-{model basename}-{date}.json`
/// (ramp-up: `{label}-ramp-up-{strategy}-{start}qps-{end}qps…`).
pub fn auto_filename(label: &str, s: &Setup) -> String {
    let conc = s
        .max_concurrency
        .map(|c| format!("-concurrency{c}"))
        .unwrap_or_default();
    let base = s.model_id.rsplit('/').next().unwrap_or(s.model_id);
    match s.ramp_up {
        Some((strategy, start, end)) => {
            format!(
                "{label}-ramp-up-{strategy}-{start}qps-{end}qps{conc}-{base}-{}.json",
                s.date
            )
        }
        None => format!(
            "{label}-{}qps{conc}-{base}-{}.json",
            pyfmt::float(s.request_rate),
            s.date
        ),
    }
}

/// Write (or append) the result as `json.dump` would; returns the path written.
pub fn write(
    result: &Map<String, Value>,
    file_name: String,
    result_dir: Option<&str>,
    append: bool,
) -> Result<PathBuf, String> {
    let mut path = PathBuf::from(&file_name);
    if let Some(dir) = result_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("OSError: creating result dir {dir}: {e}"))?;
        path = PathBuf::from(dir).join(file_name);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&path)
        .map_err(|e| format!("OSError: opening {}: {e}", path.display()))?;
    let mut text = String::new();
    if append && file.metadata().map(|m| m.len() > 0).unwrap_or(false) {
        text.push('\n');
    }
    text.push_str(&pyfmt::json_dump(&Value::Object(result.clone())));
    file.write_all(text.as_bytes())
        .map_err(|e| format!("OSError: writing {}: {e}", path.display()))?;
    Ok(path)
}
