//! `--goodput KEY:ms …` against the stand-in server: `request_goodput` is the number of
//! requests meeting every SLO (TTFT, TPOT, E2EL, in ms) divided by the run's duration, as
//! vLLM 0.33's `calculate_metrics` computes it; it is null without `--goodput`.

mod serve_support;

use std::process::Command;

use serde_json::Value;
use serve_support::*;

/// Run 6 requests of 4 output tokens with `extra` flags; returns (stdout, result).
fn bench(base: &str, extra: &[&str]) -> (String, Value) {
    let dir = std::env::temp_dir().join(format!(
        "vbt-goodput-{}-{}",
        std::process::id(),
        extra.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(BIN)
        .args(["bench", "serve", "--base-url", base, "--model", "m"])
        .args(["--random-input-len", "4", "--random-output-len", "4"])
        .args(["--num-prompts", "6", "--save-result", "--save-detailed"])
        .args(["--percentile-metrics", "ttft,tpot,itl,e2el"])
        .arg("--result-dir")
        .arg(&dir)
        .args(["--result-filename", "g.json"])
        .args(extra)
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_STANDIN_BENCH_RESULT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_str(&std::fs::read_to_string(dir.join("g.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (stdout, v)
}

#[tokio::test]
async fn goodput_counts_requests_meeting_every_slo_per_second() {
    // One sequence at a time, ~62 ms each: the six TTFTs are about 0, 60, 120, … 310 ms.
    let s = Server::start(
        &["m", "--max-num-seqs", "1"],
        &[("VLLM_STANDIN_TPOT_MS", "20")],
    )
    .await;
    let (stdout, v) = bench(&s.base, &["--goodput", "ttft:150", "tpot:100", "e2el:2000"]);
    assert_eq!(v["completed"], 6);
    let f = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (ttfts, lat, outs) = (f("ttfts"), f("latencies"), f("output_lens"));
    // vLLM: TPOT per request = (latency − ttft) / (output_len − 1), 0 for one token.
    let good = (0..6)
        .filter(|&i| {
            let tpot = if outs[i] > 1.0 {
                (lat[i] - ttfts[i]) / (outs[i] - 1.0)
            } else {
                0.0
            };
            ttfts[i] <= 0.150 && tpot <= 0.100 && lat[i] <= 2.0
        })
        .count();
    assert!(
        (1..6).contains(&good),
        "the TTFT SLO should split the queue: ttfts {ttfts:?}"
    );
    let duration = v["duration"].as_f64().unwrap();
    let goodput = v["request_goodput"]
        .as_f64()
        .expect("a float with --goodput");
    let want = good as f64 / duration;
    assert!(
        (goodput - want).abs() < 1e-9 * want.max(1.0),
        "request_goodput {goodput}, recomputed {want} ({good} good / {duration} s)"
    );
    assert!(goodput < v["request_throughput"].as_f64().unwrap());
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Request goodput (req/s):"))
        .expect("console line");
    assert_eq!(
        line.split_whitespace().last().unwrap(),
        format!("{goodput:.2}")
    );

    // An SLO nobody meets gives 0.0, not null; no --goodput gives null and no console line.
    let (_, v) = bench(&s.base, &["--goodput", "e2el:0"]);
    assert_eq!(v["request_goodput"].as_f64(), Some(0.0));
    let (stdout, v) = bench(&s.base, &[]);
    assert_eq!(v["request_goodput"], Value::Null);
    assert!(!stdout.contains("Request goodput"));
}
