//! Judging one point's result file: the client exits 0 even when every request failed, so a
//! point is accepted only when its JSON says so (contract §8.4). The checks themselves are
//! `crate::results::validate` (parses leniently; `completed == num_prompts`, `failed == 0`,
//! `total_output_tokens ≈ completed × output_len`, since v0.33 silently clamps `max_tokens`);
//! this module adapts them to a sweep point and keeps the headline metrics for the manifest.

use super::manifest::Metrics;
use crate::results::{self, BenchResult};

/// What the point asked for.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub num_prompts: u64,
    pub input_len: u64,
    pub output_len: u64,
}

/// Outcome of the checks: the headline metrics (when the file parsed) and every problem found
/// (empty = the point passed).
#[derive(Debug, Clone)]
pub struct Verdict {
    pub metrics: Option<Metrics>,
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn check(bytes: &[u8], origin: &str, expect: Expect) -> Verdict {
    let r = match results::parse(bytes, origin) {
        Ok(r) => r,
        Err(e) => {
            return Verdict {
                metrics: None,
                problems: vec![e.to_string()],
            };
        }
    };
    let e = results::Expect {
        num_prompts: expect.num_prompts,
        input_len: expect.input_len,
        output_len: expect.output_len,
    };
    Verdict {
        metrics: Some(metrics(&r)),
        problems: results::validate(&r, &e),
    }
}

/// The figures the manifest keeps (so reports work even if result files are moved away).
pub fn metrics(r: &BenchResult) -> Metrics {
    Metrics {
        completed: r.completed().unwrap_or(0),
        failed: r.failed().unwrap_or(0),
        total_output_tokens: r.total_output_tokens().unwrap_or(0),
        duration_s: r.duration_s(),
        mean_ttft_ms: r.mean_ttft_ms(),
        mean_tpot_ms: r.mean_tpot_ms(),
        mean_e2el_ms: r.mean_e2el_ms(),
        request_throughput: r.request_throughput(),
        output_throughput: r.output_throughput(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::read as fixture;
    use serde_json::Value;

    #[test]
    fn real_client_file_passes() {
        let v = check(
            &fixture("vllm-0.33/real_client_random.json"),
            "real",
            Expect {
                num_prompts: 8,
                input_len: 1,
                output_len: 32,
            },
        );
        assert!(v.ok(), "{:?}", v.problems);
        let m = v.metrics.expect("metrics");
        assert_eq!(m.completed, 8);
        assert!(m.mean_ttft_ms.is_some() && m.request_throughput.is_some());
    }

    #[test]
    fn all_failed_file_is_refused() {
        let bytes = fixture(
            "results/er0080-vllm-benchmarking__bench_serve_all_requests_failed_v0.25.1.json",
        );
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        let n = v["num_prompts"].as_u64().expect("num_prompts");
        let verdict = check(
            &bytes,
            "f",
            Expect {
                num_prompts: n,
                input_len: 1,
                output_len: 1,
            },
        );
        assert!(!verdict.ok());
        assert!(
            verdict.problems[0].starts_with(&format!("every request failed ({n})")),
            "{:?}",
            verdict.problems
        );
    }

    #[test]
    fn clamped_output_and_garbage() {
        let clamped = br#"{"num_prompts":2,"completed":2,"failed":0,"total_output_tokens":150}"#;
        let v = check(
            clamped,
            "c",
            Expect {
                num_prompts: 2,
                input_len: 1,
                output_len: 100,
            },
        );
        assert!(
            v.problems.iter().any(|p| p.contains("outputs shortened")),
            "{:?}",
            v.problems
        );
        let v = check(
            b"{not json",
            "g.json",
            Expect {
                num_prompts: 1,
                input_len: 1,
                output_len: 1,
            },
        );
        assert!(v.problems[0].contains("g.json"), "{:?}", v.problems);
    }
}
