//! Each fault knob of the stand-in `vllm serve` produces its documented symptom, and the
//! process behaves like vLLM at start and stop: refused connections while loading, argparse
//! errors (exit 2), real fatal signatures (exit 1), prompt exit 0 on SIGTERM.

mod serve_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serve_support::*;

#[tokio::test]
async fn unknown_flag_exits_2_with_argparse_wording() {
    let mut s = spawn(&["m", "--bogus-flag", "x", "--port", "1"], &[]);
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(2));
    let out = s.output();
    assert!(
        out.contains("vllm: error: unrecognized arguments: --bogus-flag x"),
        "{out}"
    );
    assert!(out.contains("usage: vllm serve"), "{out}");
}

#[tokio::test]
async fn port_refuses_while_loading_then_logs_like_vllm_and_sigterm_exits_promptly() {
    let mut s = spawn(
        &["facebook/opt-125m", "--host", "127.0.0.1", "--port", "0"],
        &[("VLLM_STANDIN_LOAD_SECONDS", "1.5")],
    );
    // The port is only announced once listening; find it from the bound socket instead:
    // vLLM binds before loading, so a connect during the load is refused.
    let port_line = s.wait_for_line("non-default args", Duration::from_secs(10));
    assert!(
        port_line.contains("'model_tag': 'facebook/opt-125m'"),
        "{port_line}"
    );
    let banner = s.wait_for_line("CPU stand-in for vLLM", Duration::from_secs(5));
    assert!(
        banner.contains("(APIServer pid=") && banner.contains(" INFO "),
        "{banner}"
    );
    let loading = s.wait_for_line("Starting to load model", Duration::from_secs(5));
    assert!(loading.starts_with("(EngineCore_DP0 pid="), "{loading}");
    assert!(
        !s.output().contains("Starting vLLM server"),
        "must not announce before the load ends"
    );
    let port = s.wait_for_port(Duration::from_secs(10));
    s.wait_for_line("Application startup complete.", Duration::from_secs(5));
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "");
    let version = s.wait_for_line("vLLM API server version", Duration::from_secs(1));
    assert!(
        version.ends_with("vLLM API server version 0.33.0+standin"),
        "{version}"
    );
    let started = s.wait_for_line("Started server process [", Duration::from_secs(1));
    assert!(
        started.contains("INFO:     Started server process ["),
        "{started}"
    );

    let t = Instant::now();
    s.sigterm();
    assert_eq!(
        s.wait_exit(Duration::from_secs(3)),
        Some(0),
        "{}",
        s.output()
    );
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "SIGTERM took {:?}",
        t.elapsed()
    );
    assert!(s.output().contains("INFO:     Shutting down"));
}

#[tokio::test]
async fn connect_is_refused_during_model_load() {
    // Pick a free port ourselves so we can probe it during the load.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = port.to_string();
    let s = spawn(
        &["m", "--host", "127.0.0.1", "--port", &p],
        &[("VLLM_STANDIN_LOAD_SECONDS", "2")],
    );
    s.wait_for_line("Starting to load model", Duration::from_secs(10));
    let err = std::net::TcpStream::connect(("127.0.0.1", port))
        .expect_err("connect during load must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    s.wait_for_line("Application startup complete.", Duration::from_secs(10));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}

#[tokio::test]
async fn fail_at_start_prints_vllm_signatures_and_exits_1() {
    let cases = [
        (
            "kv-cache",
            "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
        ),
        ("oom", "torch.OutOfMemoryError: CUDA out of memory."),
        (
            "max-model-len",
            "User-specified max_model_len (262144) is greater than the derived max_model_len (max_position_embeddings=131072",
        ),
        (
            "model-not-found",
            "ValueError: Invalid repository ID or local directory specified: 'org/missing'.",
        ),
        ("no-gpu", "RuntimeError: Failed to infer device type"),
        ("port-in-use", "OSError: [Errno 98] Address already in use"),
    ];
    let mut servers: Vec<_> = cases
        .iter()
        .map(|(cause, _)| {
            spawn(
                &["org/missing", "--host", "127.0.0.1", "--port", "0"],
                &[
                    ("VLLM_STANDIN_FAIL_AT_START", cause),
                    ("VLLM_STANDIN_LOAD_SECONDS", "0.3"),
                ],
            )
        })
        .collect();
    for ((cause, sig), s) in cases.iter().zip(servers.iter_mut()) {
        assert_eq!(
            s.wait_exit(Duration::from_secs(10)),
            Some(1),
            "{cause}: {}",
            s.output()
        );
        let out = s.output();
        assert!(
            out.contains(sig),
            "{cause}: signature {sig:?} missing in:\n{out}"
        );
        assert!(!out.contains("Application startup complete."), "{cause}");
        if matches!(*cause, "kv-cache" | "oom") {
            assert!(out.contains("RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}"), "{cause}: {out}");
        }
    }
    let mut amd = spawn(
        &["m", "--port", "0"],
        &[
            ("VLLM_STANDIN_FAIL_AT_START", "oom"),
            ("VLLM_STANDIN_GPU", "amd"),
            ("VLLM_STANDIN_LOAD_SECONDS", "0"),
        ],
    );
    assert_eq!(amd.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(
        amd.output()
            .contains("torch.OutOfMemoryError: HIP out of memory."),
        "{}",
        amd.output()
    );
}

#[tokio::test]
async fn real_max_model_len_and_real_port_in_use_fail_like_vllm() {
    let mut s = spawn(
        &["m", "--port", "0", "--max-model-len", "5000"],
        &[("VLLM_STANDIN_DERIVED_MAX_MODEL_LEN", "4096")],
    );
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(s.output().contains("User-specified max_model_len (5000) is greater than the derived max_model_len (max_position_embeddings=4096"), "{}", s.output());
    // vLLM's override switch lets it start.
    let ok = Server::start(
        &["m", "--max-model-len", "5000"],
        &[
            ("VLLM_STANDIN_DERIVED_MAX_MODEL_LEN", "4096"),
            ("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1"),
        ],
    )
    .await;
    let v: Value = reqwest::get(ok.url("/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["max_model_len"], 5000);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut s = spawn(&["m", "--host", "127.0.0.1", "--port", &port], &[]);
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(
        s.output()
            .contains("OSError: [Errno 98] Address already in use"),
        "{}",
        s.output()
    );
}

fn req() -> Value {
    json!({"model": "m", "prompt": "a b c", "max_tokens": 3, "ignore_eos": true})
}

#[tokio::test]
async fn exit_after_requests_kills_the_server_with_engine_dead_lines() {
    let mut s = Server::start(&["m"], &[("VLLM_STANDIN_EXIT_AFTER_REQUESTS", "2")]).await;
    let url = s.url("/v1/completions");
    for i in 0..2 {
        assert_eq!(post(&url, &req()).await.status(), 200, "request {i}");
    }
    assert_eq!(
        s.wait_exit(Duration::from_secs(5)),
        Some(1),
        "{}",
        s.output()
    );
    let out = s.output();
    assert!(
        out.contains("EngineDeadError: EngineCore encountered an issue."),
        "{out}"
    );
    assert!(out.contains("VLLM_STANDIN_EXIT_AFTER_REQUESTS=2"), "{out}");
}

#[tokio::test]
async fn exit_after_seconds_kills_the_server() {
    let mut s = Server::start(&["m"], &[("VLLM_STANDIN_EXIT_AFTER_SECONDS", "0.5")]).await;
    let t = Instant::now();
    assert_eq!(
        s.wait_exit(Duration::from_secs(5)),
        Some(1),
        "{}",
        s.output()
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "exit took {:?}",
        t.elapsed()
    );
    assert!(s.output().contains("EngineCore encountered a fatal error."));
}

#[tokio::test]
async fn hang_after_requests_stops_answering_but_stays_alive() {
    let mut s = Server::start(&["m"], &[("VLLM_STANDIN_HANG_AFTER_REQUESTS", "1")]).await;
    assert_eq!(post(&s.url("/v1/completions"), &req()).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = reqwest::Client::new();
    let r = c
        .get(s.url("/health"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    let e = r.expect_err("a hung server must not answer /health");
    assert!(
        e.is_timeout(),
        "expected a timeout (connection accepted, no answer): {e}"
    );
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the process stays alive"
    );
    // A hung server still stops on SIGTERM.
    s.sigterm();
    assert_eq!(s.wait_exit(Duration::from_secs(2)), Some(0));

    let s = Server::start_unchecked_hang(&[("VLLM_STANDIN_HANG_AFTER_REQUESTS", "0")]).await;
    let r = c
        .get(s.url("/health"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(
        r.expect_err("HANG_AFTER_REQUESTS=0 hangs at once")
            .is_timeout()
    );
}

trait HangStart {
    async fn start_unchecked_hang(env: &[(&str, &str)]) -> Server;
}

impl HangStart for Server {
    /// A server that hangs right after ready never answers `/health`: wait for its log instead.
    async fn start_unchecked_hang(env: &[(&str, &str)]) -> Server {
        let mut s = spawn(&["m", "--host", "127.0.0.1", "--port", "0"], env);
        s.port = s.wait_for_port(Duration::from_secs(10));
        s.base = format!("http://127.0.0.1:{}", s.port);
        s.wait_for_line("Application startup complete.", Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
        s
    }
}

#[tokio::test]
async fn error_rate_fails_a_deterministic_fraction_with_500() {
    let s = Server::start(&["m"], &[("VLLM_STANDIN_ERROR_RATE", "0.25")]).await;
    let url = s.url("/v1/completions");
    let mut failed = Vec::new();
    for i in 1..=12 {
        let r = post(&url, &req()).await;
        if r.status() == 500 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["type"], "InternalServerError");
            assert_eq!(v["error"]["code"], 500);
            failed.push(i);
        } else {
            assert_eq!(r.status(), 200);
        }
    }
    assert_eq!(failed, vec![4, 8, 12], "exactly every 4th request fails");
}
