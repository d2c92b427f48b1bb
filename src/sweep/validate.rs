//! Judging one point's result file: the client exits 0 even when every request failed, so a
//! point is accepted only when its JSON says so (contract §8.4): it parses, `completed ==
//! num_prompts`, `failed == 0`, and `total_output_tokens ≈ completed × output_len` (v0.33
//! silently clamps `max_tokens` to the context left, which would otherwise pass unnoticed).
//!
//! Parsing is deliberately lenient about which keys exist (every key is optional across vLLM
//! eras); only the keys the checks need must be present.

use serde_json::Value;

use super::manifest::Metrics;

/// What the point asked for.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub num_prompts: u64,
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

/// Output-token tolerance: totals below 99 % of completed × output_len are a clamp.
const OUTPUT_TOLERANCE: f64 = 0.99;

pub fn check(bytes: &[u8], origin: &str, expect: Expect) -> Verdict {
    // `--append-result` would write one object per line: judge the last one.
    let text = String::from_utf8_lossy(bytes);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let value: Value = match serde_json::from_str(&text).or_else(|_| serde_json::from_str(last)) {
        Ok(v) => v,
        Err(e) => {
            return Verdict {
                metrics: None,
                problems: vec![format!("{origin} is not JSON: {e}")],
            };
        }
    };
    let Some(obj) = value.as_object() else {
        return Verdict {
            metrics: None,
            problems: vec![format!("{origin}: not a JSON object")],
        };
    };
    let f = |k: &str| obj.get(k).and_then(Value::as_f64);
    let u = |k: &str| obj.get(k).and_then(Value::as_u64);
    let mut problems = Vec::new();
    let completed = u("completed");
    let failed = u("failed").unwrap_or(0);
    let out_tokens = u("total_output_tokens");
    match completed {
        None => problems.push(format!("{origin}: no `completed` count")),
        Some(c) if c != expect.num_prompts => problems.push(format!(
            "{c} of {} requests completed ({failed} failed)",
            expect.num_prompts
        )),
        Some(_) => {}
    }
    if failed > 0 && completed == Some(expect.num_prompts) {
        problems.push(format!("{failed} request(s) failed"));
    }
    if let (Some(c), Some(t)) = (completed, out_tokens) {
        let want = c * expect.output_len;
        if c > 0 && (t as f64) < want as f64 * OUTPUT_TOLERANCE {
            problems.push(format!(
                "{t} output tokens for {c} requests × {} = {want}: generation was cut short (the server clamps max_tokens to the context left)",
                expect.output_len
            ));
        }
    } else if completed.is_some() {
        problems.push(format!("{origin}: no `total_output_tokens`"));
    }
    let metrics = Metrics {
        completed: completed.unwrap_or(0),
        failed,
        total_output_tokens: out_tokens.unwrap_or(0),
        duration_s: f("duration"),
        mean_ttft_ms: f("mean_ttft_ms"),
        mean_tpot_ms: f("mean_tpot_ms"),
        mean_e2el_ms: f("mean_e2el_ms"),
        request_throughput: f("request_throughput"),
        output_throughput: f("output_throughput"),
    };
    Verdict {
        metrics: Some(metrics),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let base = std::env::var("VBENCH_SHARED")
            .map(std::path::PathBuf::from)
            .ok()
            .or_else(|| {
                let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
                p.is_dir().then_some(p)
            })
            .unwrap_or_else(|| "/work/shared".into());
        std::fs::read(base.join("fixtures").join(rel)).expect("fixture")
    }

    #[test]
    fn real_client_file_passes() {
        let v = check(
            &fixture("vllm-0.33/real_client_random.json"),
            "real",
            Expect {
                num_prompts: 8,
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
                output_len: 1,
            },
        );
        assert!(!verdict.ok());
        assert!(
            verdict.problems[0].starts_with(&format!("0 of {n} requests completed")),
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
                output_len: 100,
            },
        );
        assert!(
            v.problems.iter().any(|p| p.contains("cut short")),
            "{:?}",
            v.problems
        );
        let v = check(
            b"{not json",
            "g.json",
            Expect {
                num_prompts: 1,
                output_len: 1,
            },
        );
        assert!(v.problems[0].contains("g.json is not JSON"));
    }
}
