//! Measurements of the stand-in's `vllm bench serve` against a fake server with known timings:
//! the first token 50 ms after the request arrives, then one token every 10 ms. The client must
//! report TTFT ≈ 50 ms and TPOT/ITL ≈ 10 ms (tolerances below allow for a loaded 2-core CI box),
//! and queue times that show the `--max-concurrency` semaphore at work.

mod bench_support;

use std::time::Duration;

use bench_support::*;

#[test]
fn ttft_tpot_itl_e2el_and_queue_times_match_the_servers_known_timings() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 50,
        itl_ms: 10,
    });
    let dir = TempDir::new("bench-timing");
    let base = server.base_url();
    let args = [
        "--backend",
        "vllm",
        "--base-url",
        &base,
        "--model",
        "m",
        "--random-input-len",
        "16",
        "--random-output-len",
        "20",
        "--num-prompts",
        "4",
        "--max-concurrency",
        "2",
        "--save-result",
        "--save-detailed",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "t.json",
    ];
    let out = run_bench(&args, &[], Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let r = read_result(&dir.join("t.json"));
    let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} not a number"));

    // TTFT: server waits 50 ms; loopback adds well under a millisecond on an idle box.
    let ttft = f("mean_ttft_ms");
    assert!(
        (49.0..90.0).contains(&ttft),
        "mean TTFT {ttft} ms, expected 50 ms (+40 ms tolerance)"
    );
    // TPOT = (E2EL - TTFT)/(20 - 1): 19 gaps of 10 ms on an absolute schedule.
    let tpot = f("mean_tpot_ms");
    assert!(
        (9.0..14.0).contains(&tpot),
        "mean TPOT {tpot} ms, expected 10 ms (-1/+4 ms tolerance)"
    );
    let itl = f("mean_itl_ms");
    assert!(
        (9.0..14.0).contains(&itl),
        "mean ITL {itl} ms, expected 10 ms"
    );
    let e2el = f("mean_e2el_ms");
    assert!(
        (239.0..330.0).contains(&e2el),
        "mean E2EL {e2el} ms, expected 240 ms"
    );
    eprintln!(
        "measured (ms): TTFT {ttft:.3}, TPOT {tpot:.3}, ITL {itl:.3}, E2EL {e2el:.3}\n{}",
        out.stdout
    );
    assert!(f("std_ttft_ms") >= 0.0 && f("p99_ttft_ms") >= f("median_ttft_ms"));

    assert_eq!(r["output_lens"], serde_json::json!([20, 20, 20, 20]));
    for itls in r["itls"].as_array().unwrap() {
        assert_eq!(itls.as_array().unwrap().len(), 19);
    }
    // Concurrency 2 with 4 requests: two run at once, two wait about one request's latency.
    let mut queues: Vec<f64> = r["queue_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    queues.sort_by(f64::total_cmp);
    assert!(queues[1] < 0.05, "first two start at once: {queues:?}");
    assert!(queues[2] > 0.2, "the others wait for a slot: {queues:?}");
    let duration = f("duration");
    assert!(
        (0.47..1.5).contains(&duration),
        "two waves of ~240 ms: {duration}"
    );
    let thr = f("request_throughput");
    assert!(
        (thr - 4.0 / duration).abs() < 1e-9,
        "request_throughput = completed / duration"
    );
    assert_eq!(r["total_output_tokens"], 80);
    assert_eq!(
        r["max_output_tokens_per_s"].as_f64(),
        Some(80.0),
        "all tokens inside the first second"
    );
    assert_eq!(
        r["max_concurrent_requests"], 4,
        "bucketed per second, as real vLLM counts"
    );
}

#[test]
fn a_finite_request_rate_spreads_arrivals_over_n_over_rate_seconds() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 1,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-rate");
    let base = server.base_url();
    let args = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--random-input-len",
        "4",
        "--random-output-len",
        "2",
        "--num-prompts",
        "10",
        "--request-rate",
        "20",
        "--seed",
        "3",
        "--save-result",
        "--save-detailed",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "p.json",
    ];
    let out = run_bench(&args, &[], Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains("Traffic request rate: 20.0\nBurstiness factor: 1.0 (Poisson process)\nMaximum request concurrency: None\n"));
    let r = read_result(&dir.join("p.json"));
    let starts: Vec<f64> = r["start_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let span = starts.iter().cloned().fold(f64::MIN, f64::max)
        - starts.iter().cloned().fold(f64::MAX, f64::min);
    // Poisson gaps rescaled so the last request is released at n/rate = 0.5 s after the start.
    assert!(
        (0.3..0.8).contains(&span),
        "release span {span} s, expected about 0.5 s minus the first gap"
    );
    assert_eq!(r["request_rate"].as_f64(), Some(20.0));
}
