//! Failed requests in the stand-in's `vllm bench serve`, recorded as the real 0.33 client
//! records them: the HTTP reason phrase only, the "Never received a valid chunk" message, or a
//! connection traceback; exit status 0 even when every request failed.

mod bench_support;

use std::time::Duration;

use bench_support::*;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn run_failing(
    base: &str,
    dir: &TempDir,
    n: &str,
) -> (RunOutput, serde_json::Map<String, serde_json::Value>) {
    let args = [
        "--backend",
        "vllm",
        "--base-url",
        base,
        "--model",
        "m",
        "--random-input-len",
        "8",
        "--random-output-len",
        "4",
        "--num-prompts",
        n,
        "--save-result",
        "--save-detailed",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "f.json",
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(
        out.code,
        Some(0),
        "exit 0 even when every request failed; stderr:\n{}",
        out.stderr
    );
    let r = read_result(&dir.join("f.json"));
    (out, r)
}

#[test]
fn http_400_records_only_the_reason_phrase_and_zero_metrics() {
    let server = FakeServer::start(Mode::Status(400));
    let dir = TempDir::new("bench-400");
    let (out, r) = run_failing(&server.base_url(), &dir, "12");
    assert_eq!(r["completed"], 0);
    assert_eq!(r["failed"], 12);
    assert_eq!(r["errors"], json!(vec!["Bad Request"; 12]));
    assert_eq!(r["output_lens"], json!(vec![0; 12]));
    assert_eq!(r["total_input_tokens"], 0, "only successful requests count");
    for k in [
        "mean_ttft_ms",
        "median_tpot_ms",
        "p99_itl_ms",
        "std_ttft_ms",
        "max_output_tokens_per_s",
        "request_throughput",
    ] {
        assert_eq!(type_name(&r[k]), "float", "{k}");
        assert_eq!(r[k].as_f64(), Some(0.0), "{k}");
    }
    assert_eq!(r["max_concurrent_requests"], 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "Failed requests during benchmark run detected (capping to 10):")
        .expect("failure header");
    for i in 0..10 {
        assert_eq!(lines[at + 1 + i], format!("Error {i}: Bad Request"));
    }
    assert!(
        lines[at + 11].starts_with("====="),
        "capped to 10: {}",
        lines[at + 11]
    );
    assert!(out.stdout.contains("Successful requests:                     0         \nFailed requests:                         12        \n"));
    assert!(
        !out.stdout.contains("tip: install termplotlib"),
        "the tip is printed only when something succeeded"
    );
}

#[test]
fn a_stream_without_token_chunks_fails_with_the_real_message() {
    let server = FakeServer::start(Mode::NoTokens);
    let dir = TempDir::new("bench-notokens");
    let (_, r) = run_failing(&server.base_url(), &dir, "2");
    assert_eq!(r["failed"], 2);
    assert_eq!(
        r["errors"][0],
        "Never received a valid chunk to calculate TTFT.This response will be marked as failed!"
    );
}

#[test]
fn connection_refused_is_a_failed_request_not_a_crash() {
    // A port that was free a moment ago and has nothing listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("bench-refused");
    let (_, r) = run_failing(&format!("http://127.0.0.1:{port}"), &dir, "3");
    assert_eq!(r["failed"], 3);
    let err = r["errors"][0].as_str().unwrap();
    assert!(
        err.starts_with("Traceback (most recent call last):")
            && err.contains("Cannot connect to host"),
        "{err}"
    );
}
