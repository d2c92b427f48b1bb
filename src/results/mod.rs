//! Result files written by `vllm bench serve --save-result`: lenient parsing (`parse`) into a
//! `BenchResult` that keeps the raw JSON object, typed accessors that know every vLLM era's key
//! names (here), and the pass/fail checks of one sweep point (`validate`).
//!
//! Every key is optional (the schema changed across vLLM versions, see vllm-contract §2); a key
//! that is present with the wrong type is an error at parse time, so the accessors below never
//! fail — they return `None` for "absent or null".

mod parse;
mod validate;

pub use parse::{ParseError, parse, parse_all};
pub use validate::{Expect, validate};

use serde_json::{Map, Value};

/// One benchmark result: the raw top-level JSON object plus where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    raw: Map<String, Value>,
    origin: String,
    line: usize,
}

impl BenchResult {
    /// Wrap an already-parsed object (e.g. a metrics snapshot kept in a report's `summary.json`).
    /// Types are not checked here: accessors treat a wrongly typed value as absent.
    pub fn from_map(raw: Map<String, Value>, origin: impl Into<String>) -> Self {
        Self {
            raw,
            origin: origin.into(),
            line: 1,
        }
    }

    /// The file (or other origin) this result was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Line on which this object starts (matters for JSON-lines files written with `--append-result`).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The whole top-level object as read. Bare `NaN`/`Infinity`/`-Infinity` in the file appear
    /// here as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no such numbers).
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// A number under `key`: a JSON number, or a string holding a float (`"inf"`, `"-inf"`,
    /// `"nan"`, `"Infinity"`, `"12.5"`). `None` when absent, null or not numeric.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.raw.get(key).and_then(parse::value_f64)
    }

    /// A string under `key`; `None` when absent, null or not a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }

    /// A non-negative integer under `key` (an integral float such as `8.0` counts).
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.raw.get(key).and_then(parse::value_u64)
    }

    pub fn completed(&self) -> Option<u64> {
        self.get_u64("completed")
    }
    /// Failed requests; absent before vLLM ≈0.9 (the 2024 and early-2025 files have no `failed`).
    pub fn failed(&self) -> Option<u64> {
        self.get_u64("failed")
    }
    pub fn num_prompts(&self) -> Option<u64> {
        self.get_u64("num_prompts")
    }
    /// Prompt tokens of the *successful* requests only.
    pub fn total_input_tokens(&self) -> Option<u64> {
        self.get_u64("total_input_tokens")
    }
    pub fn total_output_tokens(&self) -> Option<u64> {
        self.get_u64("total_output_tokens")
    }
    /// Wall time from first dispatch to last completion, seconds.
    pub fn duration_s(&self) -> Option<f64> {
        self.get_f64("duration")
    }
    /// Requests per second asked for; the string `"inf"` reads as `f64::INFINITY`.
    pub fn request_rate(&self) -> Option<f64> {
        self.get_f64("request_rate")
    }
    /// `--max-concurrency`; `null` (unlimited) reads as `None`.
    pub fn max_concurrency(&self) -> Option<u64> {
        self.get_u64("max_concurrency")
    }
    /// Completed requests per second.
    pub fn request_throughput(&self) -> Option<f64> {
        self.get_f64("request_throughput")
    }
    /// Goodput; the ≈v0.8 script wrote the key with a typo, `"request_goodput:"`.
    pub fn request_goodput(&self) -> Option<f64> {
        self.get_f64("request_goodput")
            .or_else(|| self.get_f64("request_goodput:"))
    }
    /// Output tokens per second.
    pub fn output_throughput(&self) -> Option<f64> {
        self.get_f64("output_throughput")
    }
    /// Input plus output tokens per second; computed from the totals and the duration for files
    /// that predate the key (the 2024 script wrote `input_throughput` + `output_throughput`).
    pub fn total_token_throughput(&self) -> Option<f64> {
        self.get_f64("total_token_throughput").or_else(|| {
            let (i, o) = (self.get_f64("input_throughput")?, self.output_throughput()?);
            Some(i + o)
        })
    }
    pub fn mean_ttft_ms(&self) -> Option<f64> {
        self.get_f64("mean_ttft_ms")
    }
    pub fn median_ttft_ms(&self) -> Option<f64> {
        self.get_f64("median_ttft_ms")
    }
    pub fn p99_ttft_ms(&self) -> Option<f64> {
        self.get_f64("p99_ttft_ms")
    }
    pub fn mean_tpot_ms(&self) -> Option<f64> {
        self.get_f64("mean_tpot_ms")
    }
    pub fn median_tpot_ms(&self) -> Option<f64> {
        self.get_f64("median_tpot_ms")
    }
    pub fn p99_tpot_ms(&self) -> Option<f64> {
        self.get_f64("p99_tpot_ms")
    }
    pub fn mean_itl_ms(&self) -> Option<f64> {
        self.get_f64("mean_itl_ms")
    }

    /// Mean end-to-end latency, ms. `mean_e2el_ms` is only written with
    /// `--percentile-metrics …,e2el`, so fall back to the per-request `latencies` (seconds, always
    /// written since v0.2x), then to the 2024 LambdaLabs script's `mean_latency_ms`.
    pub fn mean_e2el_ms(&self) -> Option<f64> {
        self.get_f64("mean_e2el_ms")
            .or_else(|| {
                let l = self.successful_latencies_s()?;
                Some(l.iter().sum::<f64>() / l.len() as f64 * 1000.0)
            })
            .or_else(|| self.get_f64("mean_latency_ms"))
    }

    /// 99th-percentile end-to-end latency, ms, with the same fallbacks as `mean_e2el_ms`
    /// (the percentile is computed like numpy's default: linear interpolation).
    pub fn p99_e2el_ms(&self) -> Option<f64> {
        self.get_f64("p99_e2el_ms")
            .or_else(|| {
                let mut l = self.successful_latencies_s()?;
                l.sort_by(f64::total_cmp);
                Some(percentile_sorted(&l, 99.0) * 1000.0)
            })
            .or_else(|| self.get_f64("p99_latency_ms"))
    }

    /// Non-empty error strings from `errors` (written with `--save-detailed`, one per request).
    pub fn errors(&self) -> Vec<String> {
        match self.raw.get("errors") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Per-request latencies (s) of successful requests. vLLM writes `latencies` for every
    /// request, failed ones included with their default 0.0, and latency statistics are defined
    /// over successful requests only: drop entries whose `errors` entry is non-empty, and
    /// (without `errors`) entries that are not positive. `None` if nothing is left.
    fn successful_latencies_s(&self) -> Option<Vec<f64>> {
        let Some(Value::Array(items)) = self.raw.get("latencies") else {
            return None;
        };
        let errors = match self.raw.get("errors") {
            Some(Value::Array(e)) if e.len() == items.len() => Some(e),
            _ => None,
        };
        let kept: Vec<f64> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                errors.is_none_or(|e| e[*i].as_str().is_none_or(|s| s.trim().is_empty()))
            })
            .filter_map(|(_, v)| parse::value_f64(v))
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        (!kept.is_empty()).then_some(kept)
    }
}

/// Percentile `p` (0–100) of an ascending slice, numpy's default linear interpolation.
fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.len() == 1 {
        return sorted[0];
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::percentile_sorted;

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], 99) == 3.97
        assert!((percentile_sorted(&[1.0, 2.0, 3.0, 4.0], 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile_sorted(&[5.0], 99.0), 5.0);
        assert_eq!(percentile_sorted(&[1.0, 3.0], 50.0), 2.0);
    }
}
