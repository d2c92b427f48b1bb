//! Shared helpers for the `serve_*` tests: run the stand-in `vllm serve` (the debug binary
//! cargo built for this package) on a free loopback port and capture its output. Every wait
//! has a deadline; the child is killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vllm");

/// Variables that choose the stand-in's GPUs (count, vendor, container and process visibility).
pub const GPU_VARS: &[&str] = &[
    "VLLM_STANDIN_GPUS",
    "VLLM_STANDIN_GPU",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "AMD_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
];

/// Run a monitor (`nvidia-smi` / `rocm-smi` via the `vllm` binary) against the state file
/// `state` with exactly the GPU variables in `env`; returns (exit code, stdout, stderr).
pub fn smi_env(
    tool: &str,
    args: &[&str],
    state: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg(tool).args(args).env("VLLM_STANDIN_STATE", state);
    for var in GPU_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the monitor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fast default knobs so tests run in well under a second of simulated time.
pub const FAST: &[(&str, &str)] = &[
    ("VLLM_STANDIN_LOAD_SECONDS", "0.1"),
    ("VLLM_STANDIN_TTFT_MS", "2"),
    ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "1"),
    ("VLLM_STANDIN_TPOT_MS", "1"),
    ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "0"),
];

/// A running stand-in server.
pub struct Server {
    pub child: Child,
    pub out: Arc<Mutex<Vec<String>>>,
    pub base: String,
    pub port: u16,
    /// The state file this server writes for the GPU monitors.
    pub state_path: String,
}

fn unique_state_path() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir()
        .join(format!(
            "vbt-standin-state-{}-{nanos}.json",
            std::process::id()
        ))
        .to_string_lossy()
        .into_owned()
}

/// Spawn `vllm serve ARGS` with `FAST` knobs overridden by `env`; does not wait for readiness.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let state_path = unique_state_path();
    cmd.env_remove("VLLM_API_KEY");
    // GPU inventory and selection come from the test, never from the machine running it.
    for var in GPU_VARS {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1")
        .env("VLLM_STANDIN_STATE", &state_path);
    for (k, v) in FAST.iter().chain(env) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the stand-in vllm binary");
    let out = Arc::new(Mutex::new(Vec::new()));
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let out = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                out.lock().unwrap().push(line);
            }
        });
    }
    Server {
        child,
        out,
        base: String::new(),
        port: 0,
        state_path,
    }
}

impl Server {
    /// Start on `127.0.0.1:0` and wait until `/health` answers 200 (deadline 20 s).
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut all = vec!["--host", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(args);
        let mut s = spawn(&all, env);
        let port = s.wait_for_port(Duration::from_secs(20));
        s.port = port;
        s.base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client
                .get(format!("{}/health", s.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                && r.status() == 200
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server not healthy within 20 s; output:\n{}",
                s.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The port from `Starting vLLM server on http://HOST:PORT`.
    pub fn wait_for_port(&self, within: Duration) -> u16 {
        let line = self.wait_for_line("Starting vLLM server on http://", within);
        line.rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    }

    /// Wait for an output line containing `needle`.
    pub fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.out.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line containing {needle:?} within {within:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    /// Wait for the process to exit (deadline), returning its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return st.code();
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send SIGTERM to our own child (by its pid).
    pub fn sigterm(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM failed");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.state_path);
    }
}

/// Split an SSE body into its `data:` payloads, asserting the framing is exactly vLLM's.
pub fn sse_payloads(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "SSE body must end with a blank line: {body:?}"
    );
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|m| {
            m.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("message without 'data: ' prefix: {m:?}"))
                .to_string()
        })
        .collect()
}

/// A prompt of exactly `n` stand-in tokens (whitespace-separated words).
pub fn prompt_of(n: usize) -> String {
    (0..n)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn post(url: &str, body: &serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("POST")
}
