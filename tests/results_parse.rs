//! Parsing real result files of every vLLM era (tests/fixtures) and malformed variants.

mod common;

use serde_json::Value;
use vbench::results::{parse, parse_all};

fn fixture(rel: &str) -> (Vec<u8>, String) {
    let path = common::fixture(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    (bytes, path.display().to_string())
}

/// The fixture as plain serde_json sees it, to compute expectations independently of our parser.
fn reference(bytes: &[u8]) -> serde_json::Map<String, Value> {
    serde_json::from_slice(bytes).expect("fixture is strict JSON")
}

#[test]
fn real_vllm_033_file() {
    let (bytes, origin) = fixture("vllm-0.33/real_client_random.json");
    let r = parse(&bytes, &origin).expect("parses");
    assert_eq!(r.origin(), origin);
    assert_eq!(r.completed(), Some(8));
    assert_eq!(r.failed(), Some(0));
    assert_eq!(r.num_prompts(), Some(8));
    assert_eq!(r.total_input_tokens(), Some(1024));
    assert_eq!(r.total_output_tokens(), Some(256));
    assert_eq!(r.max_concurrency(), Some(4));
    assert_eq!(r.request_rate(), Some(f64::INFINITY));
    assert!((r.mean_ttft_ms().unwrap() - 48.367).abs() < 0.001);
    let raw = reference(&bytes);
    assert_eq!(r.p99_ttft_ms(), raw["p99_ttft_ms"].as_f64());
    assert_eq!(r.mean_tpot_ms(), raw["mean_tpot_ms"].as_f64());
    assert_eq!(r.output_throughput(), raw["output_throughput"].as_f64());
    assert_eq!(
        r.total_token_throughput(),
        raw["total_token_throughput"].as_f64()
    );
    assert_eq!(r.duration_s(), raw["duration"].as_f64());
    assert_eq!(r.get_str("model_id"), Some("facebook/opt-125m"));
    // No mean_e2el_ms in this file: the fallback is the mean of `latencies` (s → ms).
    assert!(!raw.contains_key("mean_e2el_ms"));
    let lat: Vec<f64> = raw["latencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mean_ms = lat.iter().sum::<f64>() / lat.len() as f64 * 1000.0;
    assert!((r.mean_e2el_ms().unwrap() - mean_ms).abs() < 1e-9);
    let p99 = r.p99_e2el_ms().unwrap();
    let max_ms = lat.iter().cloned().fold(0.0, f64::max) * 1000.0;
    assert!(
        p99 <= max_ms && p99 > mean_ms,
        "p99 {p99} mean {mean_ms} max {max_ms}"
    );
    assert!(r.errors().is_empty());
    assert_eq!(r.raw().len(), raw.len());
}

#[test]
fn vllm_0251_files() {
    let (bytes, origin) = fixture("results/er0080-vllm-benchmarking__bench_serve_v0.25.1.json");
    let r = parse(&bytes, &origin).unwrap();
    let raw = reference(&bytes);
    assert_eq!(r.completed(), Some(8));
    assert_eq!(r.max_concurrency(), Some(2));
    assert_eq!(r.mean_ttft_ms(), raw["mean_ttft_ms"].as_f64());
    assert_eq!(r.median_tpot_ms(), raw["median_tpot_ms"].as_f64());
    assert_eq!(r.mean_itl_ms(), raw["mean_itl_ms"].as_f64());
    assert_eq!(r.request_throughput(), raw["request_throughput"].as_f64());
    // Neither e2el stats nor latencies in 0.25.1 output.
    assert_eq!(r.mean_e2el_ms(), None);
    assert_eq!(r.p99_e2el_ms(), None);
    assert_eq!(r.request_goodput(), None);

    let (bytes, origin) =
        fixture("results/er0080-vllm-benchmarking__bench_serve_all_requests_failed_v0.25.1.json");
    let r = parse(&bytes, &origin).unwrap();
    assert_eq!(r.completed(), Some(0));
    assert_eq!(r.failed(), Some(8));
    assert_eq!(
        r.max_concurrency(),
        None,
        "null max_concurrency reads as None"
    );
    assert_eq!(r.mean_ttft_ms(), Some(0.0));
}

#[test]
fn early_2025_partial_file_with_inf_rate() {
    let (bytes, origin) =
        fixture("results/zhangxinyuehfad-vllm-benchmarks__serving_llama8B_tp1_qps_inf.json");
    let r = parse(&bytes, &origin).unwrap();
    let raw = reference(&bytes);
    assert_eq!(raw["request_rate"], Value::String("inf".into()));
    assert_eq!(r.request_rate(), Some(f64::INFINITY));
    assert_eq!(r.num_prompts(), Some(200));
    assert_eq!(r.completed(), None);
    assert_eq!(r.duration_s(), None);
    assert_eq!(r.output_throughput(), None);
    assert_eq!(r.mean_ttft_ms(), raw["mean_ttft_ms"].as_f64());
    assert_eq!(r.p99_tpot_ms(), raw["p99_tpot_ms"].as_f64());
}

#[test]
fn lambdalabs_2024_file_with_lists_and_old_keys() {
    let (bytes, origin) =
        fixture("results/LambdaLabsML-vllm-benchmark__Mistral-7B-Instruct-v0.3_tp1_len2048.json");
    let r = parse(&bytes, &origin).unwrap();
    let raw = reference(&bytes);
    assert_eq!(r.completed(), Some(10));
    assert_eq!(r.total_output_tokens(), Some(2483));
    assert_eq!(r.failed(), None);
    // Old key names: mean_latency_ms is the e2el fallback, input+output throughput the total.
    assert_eq!(r.mean_e2el_ms(), raw["mean_latency_ms"].as_f64());
    assert_eq!(r.p99_e2el_ms(), raw["p99_latency_ms"].as_f64());
    let total =
        raw["input_throughput"].as_f64().unwrap() + raw["output_throughput"].as_f64().unwrap();
    assert_eq!(r.total_token_throughput(), Some(total));
    let n_err = raw["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e.as_str().unwrap_or("").is_empty())
        .count();
    assert_eq!(r.errors().len(), n_err);
}

#[test]
fn bare_nan_and_infinity_are_accepted() {
    let text = b"{\"completed\": 3, \"mean_ttft_ms\": NaN, \"p99_ttft_ms\": Infinity,\n \"std_ttft_ms\": -Infinity, \"request_rate\": \"inf\", \"label\": \"NaN here stays\"}";
    let r = parse(text, "nan.json").unwrap();
    assert!(r.mean_ttft_ms().unwrap().is_nan());
    assert_eq!(r.p99_ttft_ms(), Some(f64::INFINITY));
    assert_eq!(r.get_f64("std_ttft_ms"), Some(f64::NEG_INFINITY));
    assert_eq!(r.get_str("label"), Some("NaN here stays"));
    assert_eq!(r.completed(), Some(3));
}

#[test]
fn json_lines_last_object_wins() {
    let text = b"{\"completed\": 1, \"num_prompts\": 1}\n{\"completed\": 2, \"num_prompts\": 2}\n{\"completed\": 4, \"num_prompts\": 4}\n";
    let all = parse_all(text, "append.json").unwrap();
    assert_eq!(
        all.iter()
            .map(|r| r.completed().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert_eq!(
        all.iter().map(|r| r.line()).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(parse(text, "append.json").unwrap().completed(), Some(4));
}

#[test]
fn typo_goodput_key_of_v08() {
    let r = parse(br#"{"request_goodput:": 3.5}"#, "v08.json").unwrap();
    assert_eq!(r.request_goodput(), Some(3.5));
}

#[test]
fn wrong_type_names_file_line_column_and_field() {
    let text = b"{\n  \"num_prompts\": 8,\n  \"nested\": {\"completed\": 1},\n    \"completed\": \"eight\"\n}\n";
    let err = parse(text, "bad.json").unwrap_err();
    assert_eq!((err.line, err.column), (4, 5));
    assert_eq!(err.field.as_deref(), Some("completed"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("bad.json:4:5: field `completed`: expected a non-negative integer"),
        "{msg}"
    );
    assert!(msg.contains("\"eight\""), "{msg}");

    let err = parse(b"{\"mean_ttft_ms\": [1]}", "f.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        "f.json:1:2: field `mean_ttft_ms`: expected a number, found a list"
    );

    // Position after a quoted NaN on the same line is still the original column.
    let err = parse(b"{\"std_ttft_ms\": NaN, \"failed\": -1}", "g.json").unwrap_err();
    assert_eq!(
        (err.line, err.column, err.field.as_deref()),
        (1, 22, Some("failed"))
    );

    let err = parse(b"{\"latencies\": [0.1, \"x\"]}", "l.json").unwrap_err();
    assert!(err.to_string().contains("element 1"), "{err}");
}

#[test]
fn malformed_json_reports_position() {
    let err = parse(b"{\"completed\": 8,\n \"failed\": }", "m.json").unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(err.field, None);
    assert!(err.to_string().starts_with("m.json:2:"), "{err}");
    assert!(err.message.starts_with("invalid JSON"), "{err}");

    let err = parse(b"  \n", "empty.json").unwrap_err();
    assert!(err.message.contains("no JSON object"), "{err}");

    let err = parse(b"[1, 2]", "arr.json").unwrap_err();
    assert!(err.message.contains("expected a JSON object"), "{err}");

    // A truncated JSON-lines file (crash during an append) is an error, not a silent earlier result.
    let err = parse(b"{\"completed\": 1}\n{\"completed\": 2, \"fa", "t.json").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
}
