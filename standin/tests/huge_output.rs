//! Big runs stay cheap: a `--save-detailed` benchmark of tens of thousands of one-token
//! requests against the stand-in server finishes quickly in bounded memory, and
//! `VLLM_STANDIN_LOG_SPAM_MB` fills the server log with that many MB of vLLM-shaped lines
//! before the port listens.

mod serve_support;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use serve_support::*;

/// The brief's fast knobs: no base step cost, no prefill cost (the per-sequence cost stays).
const FAST_ZERO: &[(&str, &str)] = &[
    ("VLLM_STANDIN_TTFT_MS", "0"),
    ("VLLM_STANDIN_TPOT_MS", "0"),
    ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "0"),
    ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "0.2"),
];

#[tokio::test]
async fn twenty_thousand_detailed_requests_in_bounded_time_and_memory() {
    const N: usize = 20_000;
    let s = Server::start(&["m", "--uvicorn-log-level", "warning"], FAST_ZERO).await;
    let dir = std::env::temp_dir().join(format!("vbt-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["bench", "serve", "--base-url", &s.base, "--model", "m"])
        .args(["--random-input-len", "8", "--random-output-len", "1"])
        .args(["--num-prompts", &N.to_string(), "--max-concurrency", "256"])
        .args(["--save-result", "--save-detailed", "--disable-tqdm"])
        .arg("--result-dir")
        .arg(&dir)
        .args(["--result-filename", "big.json"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_STANDIN_BENCH_RESULT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // 512 MiB of data segment / private mappings: the run needs a small fraction of it (about
    // 1.7 KB per request), so anything quadratic or a copy per request would hit the ceiling.
    // SAFETY: setrlimit is async-signal-safe and only touches the child's own limits.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 512 << 20,
                rlim_max: 512 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Simulated time is ~4 s (79 steps of 256 × 0.2 ms); the rest is the debug build's cost.
    assert!(took < Duration::from_secs(90), "{N} requests took {took:?}");
    let text = std::fs::read_to_string(dir.join("big.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["completed"], N);
    assert_eq!(v["failed"], 0);
    for key in ["ttfts", "itls", "latencies", "generated_texts", "errors"] {
        assert_eq!(v[key].as_array().unwrap().len(), N, "{key}");
    }
}

#[tokio::test]
async fn log_spam_fills_the_log_before_the_port_listens() {
    let s = Server::start(&["m"], &[("VLLM_STANDIN_LOG_SPAM_MB", "3")]).await;
    // Everything was written before /health could answer; give the reader thread time.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (bytes, lines) = loop {
        let out = s.out.lock().unwrap();
        let spam: Vec<&String> = out
            .iter()
            .filter(|l| l.contains("[loggers.py:259] Engine 000: Avg prompt throughput: "))
            .collect();
        let bytes: usize = spam.iter().map(|l| l.len() + 1).sum();
        if bytes >= 3 << 20 || Instant::now() > deadline {
            break (bytes, spam.len());
        }
        drop(out);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(bytes >= 3 << 20, "{bytes} bytes of filler");
    assert!(bytes < (3 << 20) + 1000, "stops right after 3 MiB: {bytes}");
    assert!(lines > 10_000);
    let out = s.output();
    let ready = out.find("Starting vLLM server on").unwrap();
    let first_spam = out.find("Engine 000: Avg prompt throughput").unwrap();
    assert!(first_spam > ready, "filler follows the start-up lines");
    assert!(out.contains("VLLM_STANDIN_LOG_SPAM_MB=3: filler log lines follow"));
    // The server then serves normally.
    let r = reqwest::get(s.url("/health")).await.unwrap();
    assert_eq!(r.status(), 200);

    let mut bad = spawn(
        &["m", "--port", "0"],
        &[("VLLM_STANDIN_LOG_SPAM_MB", "lots")],
    );
    assert_eq!(bad.wait_exit(Duration::from_secs(10)), Some(2));
    assert!(
        bad.output()
            .contains("invalid knob VLLM_STANDIN_LOG_SPAM_MB=\"lots\""),
        "{}",
        bad.output()
    );
}
