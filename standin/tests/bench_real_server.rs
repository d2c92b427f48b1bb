//! The stand-in's `vllm bench serve` against the stand-in's own `vllm serve` (the pair the
//! demo and vbench's end-to-end tests run): the fixture's command completes every request with
//! the requested token counts and writes the real key set; without `--model` the served model
//! is fetched; prompts longer than `--max-model-len` fail as "Bad Request", as with real vLLM.

mod bench_support;
mod fixture_support;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench_support::*;
use fixture_support::read_fixture;
use serde_json::Value;

/// A running `vllm serve`, killed (by its pid) and reaped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn health_ok(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

/// Start `vllm serve facebook/opt-125m EXTRA…` on a free port and wait (30 s at most) for
/// `/health` to answer 200.
fn start_server(extra: &[&str], scratch: &TempDir) -> (Server, u16) {
    let port = free_port();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_vllm"))
            .args([
                "serve",
                "facebook/opt-125m",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(extra)
            .env("VLLM_STANDIN_LOAD_SECONDS", "0.2")
            // Its GPU-monitor state file goes to this test's scratch dir, not the shared default.
            .env("VLLM_STANDIN_STATE", scratch.join("state.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning vllm serve"),
    );
    let start = Instant::now();
    while !health_ok(port) {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("vllm serve exited before becoming healthy: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "vllm serve not healthy within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

#[test]
fn fixture_command_against_the_stand_in_server_completes_every_request() {
    let dir = TempDir::new("bench-real-server");
    let (_server, port) = start_server(&[], &dir);
    let base = format!("http://127.0.0.1:{port}");
    let args = [
        "--backend",
        "vllm",
        "--base-url",
        &base,
        "--model",
        "facebook/opt-125m",
        "--dataset-name",
        "random",
        "--random-input-len",
        "128",
        "--random-output-len",
        "32",
        "--num-prompts",
        "8",
        "--max-concurrency",
        "4",
        "--save-result",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "r.json",
    ];
    let out = run_bench(&args, &[], Duration::from_secs(120));
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let r = read_result(&dir.join("r.json"));
    assert_eq!(
        (r["completed"].as_u64(), r["failed"].as_u64()),
        (Some(8), Some(0)),
        "{}",
        out.stdout
    );
    assert_eq!(
        r["total_input_tokens"], 1024,
        "the server counts the client's prompt words as tokens"
    );
    assert_eq!(
        r["total_output_tokens"], 256,
        "ignore_eos: exactly max_tokens each"
    );
    assert!(r["mean_ttft_ms"].as_f64().unwrap() > 0.0);
    assert!(r["mean_tpot_ms"].as_f64().unwrap() > 0.0);
    let real: Value =
        serde_json::from_str(&read_fixture("vllm-0.33/real_client_random.json")).unwrap();
    let real_keys: Vec<&String> = real.as_object().unwrap().keys().collect();
    assert_eq!(r.keys().collect::<Vec<_>>(), real_keys);
}

#[test]
fn without_model_and_with_prompts_over_max_model_len_the_run_records_bad_request() {
    let dir = TempDir::new("bench-real-server-400");
    let (_server, port) = start_server(&["--max-model-len", "64"], &dir);
    let base = format!("http://127.0.0.1:{port}");
    let args = [
        "--base-url",
        &base,
        "--random-input-len",
        "128",
        "--random-output-len",
        "8",
        "--num-prompts",
        "3",
        "--save-result",
        "--save-detailed",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "r.json",
    ];
    let out = run_bench(&args, &[], Duration::from_secs(120));
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("Using model: facebook/opt-125m\n"),
        "{}",
        out.stdout
    );
    let r = read_result(&dir.join("r.json"));
    assert_eq!(r["model_id"], "facebook/opt-125m", "the server's root");
    assert_eq!(
        (r["completed"].as_u64(), r["failed"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(
        r["errors"],
        serde_json::json!(["Bad Request", "Bad Request", "Bad Request"])
    );
}
