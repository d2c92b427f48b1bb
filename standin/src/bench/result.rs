//! The `--save-result` file: the exact key set, order and value types vLLM 0.33 writes for
//! the same flags (contract §2a–2c, checked against fixtures/vllm-0.33/real_client_random.json),
//! the automatic file name, `--result-dir` creation and `--append-result`, and the stand-in's
//! fault knob `VLLM_STANDIN_BENCH_RESULT` (a truncated or corrupt file, for the reader's tests).

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

/// A damaged result file (`VLLM_STANDIN_BENCH_RESULT`), to test whoever reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Only the first half of the bytes, as if the writer died mid-way.
    Truncate,
    /// The opening quote of the first key after the middle replaced by `'`: one invalid byte.
    Corrupt,
}

impl Fault {
    /// Read the knob strictly: unset/empty → none, `truncate`, `corrupt`; anything else is an
    /// error naming it (a silently ignored fault knob would let a test pass for nothing).
    pub fn from_env() -> Result<Option<Fault>, String> {
        match std::env::var("VLLM_STANDIN_BENCH_RESULT")
            .unwrap_or_default()
            .trim()
        {
            "" => Ok(None),
            "truncate" => Ok(Some(Fault::Truncate)),
            "corrupt" => Ok(Some(Fault::Corrupt)),
            other => Err(format!(
                "VLLM_STANDIN_BENCH_RESULT={other:?}: expected truncate or corrupt"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Truncate => "truncate",
            Fault::Corrupt => "corrupt",
        }
    }

    /// Damage the serialized record (ASCII: `json.dump` escapes everything else).
    fn apply(self, text: &mut String) {
        match self {
            Fault::Truncate => text.truncate(text.len() / 2),
            Fault::Corrupt => {
                if let Some(at) =
                    key_quote_after(text, text.len() / 2).or_else(|| key_quote_after(text, 0))
                {
                    text.replace_range(at..at + 1, "'");
                }
            }
        }
    }
}

/// Byte offset of the opening quote of the first object key at or after `from` (a `, "` or
/// `{"` followed by a plain name and `": `).
fn key_quote_after(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    (from.max(1)..b.len()).find(|&i| {
        b[i] == b'"' && (b[i - 1] == b'{' || (i >= 2 && &b[i - 2..i] == b", ")) && {
            let rest = &b[i + 1..];
            let name_len = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
                .count();
            name_len > 0 && rest[name_len..].starts_with(b"\": ")
        }
    })
}

/// Write (or append) the result as `json.dump` would; returns the path written. `fault`
/// damages what is written (the exit status stays 0, as the real client's does).
pub fn write(
    result: Map<String, Value>,
    file_name: String,
    result_dir: Option<&str>,
    append: bool,
    fault: Option<Fault>,
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
    text.push_str(&pyfmt::json_dump(&Value::Object(result)));
    if let Some(f) = fault {
        f.apply(&mut text);
        eprintln!(
            "(CPU stand-in fault injection: VLLM_STANDIN_BENCH_RESULT={}: {} written damaged)",
            f.name(),
            path.display()
        );
    }
    file.write_all(text.as_bytes())
        .map_err(|e| format!("OSError: writing {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_damage_the_record_as_documented() {
        let good = r#"{"date": "x", "texts": ["a", "b"], "completed": 8, "failed": 0}"#;
        let mut t = good.to_string();
        Fault::Truncate.apply(&mut t);
        assert_eq!(t, &good[..good.len() / 2]);
        let mut c = good.to_string();
        Fault::Corrupt.apply(&mut c);
        // The first key after the middle is "completed" (not the array's strings).
        assert_eq!(c, good.replace(r#", "completed""#, r#", 'completed""#));
        assert!(serde_json::from_str::<Value>(&c).is_err());
    }
}
