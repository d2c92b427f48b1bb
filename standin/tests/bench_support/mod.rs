//! Test support for the stand-in's `vllm bench serve`: a small OpenAI-compatible SSE server
//! on 127.0.0.1 with known timings that records every request it receives, a runner for the
//! `vllm` binary with a deadline, and scratch directories removed on drop.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(purpose: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("vbt-{purpose}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the fake server answers completions.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// 200 SSE: first token `ttft_ms` after the request, then one token every `itl_ms`
    /// (absolute schedule, so delays do not accumulate), then usage and `[DONE]`.
    Stream { ttft_ms: u64, itl_ms: u64 },
    /// An HTTP error with vLLM's JSON error body.
    Status(u16),
    /// 200 SSE with only a usage chunk and `[DONE]`: no token chunk at all.
    NoTokens,
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Parsed with key order preserved.
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct Shared {
    mode: Mode,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

/// The fake OpenAI-compatible server, stopped on drop.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub recorded: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(mode: Mode) -> FakeServer {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            mode,
            recorded: recorded.clone(),
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new()
                    .route("/v1/completions", post(completions))
                    .route("/v1/chat/completions", post(completions))
                    .route("/v1/models", get(models))
                    .with_state(shared);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake server did not start within 10 s");
        FakeServer {
            addr,
            recorded,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn models(State(st): State<Shared>, uri: Uri, headers: HeaderMap) -> axum::Json<Value> {
    record(&st, &uri, &headers, Value::Null);
    axum::Json(json!({"object": "list", "data": [
        {"id": "fake-served", "object": "model", "created": 0, "owned_by": "vllm", "root": "/models/fake-root", "parent": null, "max_model_len": 4096}
    ]}))
}

fn record(st: &Shared, uri: &Uri, headers: &HeaderMap, body: Value) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    st.recorded.lock().unwrap().push(Recorded {
        path: uri.path().to_string(),
        headers,
        body,
    });
}

async fn completions(
    State(st): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let received = tokio::time::Instant::now();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    record(&st, &uri, &headers, parsed.clone());
    let chat = uri.path().ends_with("chat/completions");
    let n = parsed
        .get(if chat {
            "max_completion_tokens"
        } else {
            "max_tokens"
        })
        .and_then(Value::as_u64)
        .unwrap_or(16) as usize;
    let prompt_tokens = parsed
        .get("prompt")
        .and_then(Value::as_str)
        .map(|p| p.split_whitespace().count())
        .unwrap_or(0);
    match st.mode {
        Mode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let msg = json!({"error": {"message": "fake server error", "type": "BadRequestError", "param": null, "code": code}});
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(msg.to_string()))
                .unwrap()
        }
        Mode::NoTokens => {
            let usage = format!(
                "data: {}\n\ndata: [DONE]\n\n",
                json!({"id": "cmpl-x", "object": "text_completion", "created": 0, "model": "m", "choices": [],
                       "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens, "completion_tokens": 0}})
            );
            sse(Body::from(usage))
        }
        Mode::Stream { ttft_ms, itl_ms } => {
            let stream = futures_util::stream::unfold(0usize, move |i| async move {
                let text = if i < n {
                    tokio::time::sleep_until(
                        received + Duration::from_millis(ttft_ms + itl_ms * i as u64),
                    )
                    .await;
                    let choice = if chat {
                        json!({"index": 0, "delta": {"content": format!(" tok{i}")}, "logprobs": null, "finish_reason": null})
                    } else {
                        json!({"index": 0, "text": format!(" tok{i}"), "logprobs": null, "finish_reason": null, "stop_reason": null})
                    };
                    json!({"id": "cmpl-x", "object": "text_completion", "created": 0, "model": "m", "choices": [choice]}).to_string()
                } else if i == n {
                    json!({"id": "cmpl-x", "object": "text_completion", "created": 0, "model": "m", "choices": [],
                           "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + n, "completion_tokens": n}})
                    .to_string()
                } else if i == n + 1 {
                    "[DONE]".to_string()
                } else {
                    return None;
                };
                Some((
                    Ok::<Bytes, Infallible>(Bytes::from(format!("data: {text}\n\n"))),
                    i + 1,
                ))
            });
            sse(Body::from_stream(stream))
        }
    }
}

fn sse(body: Body) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(body)
        .unwrap()
}

/// What one run of the binary produced.
pub struct RunOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `vllm bench serve ARGS…` with a deadline; `OPENAI_API_KEY` is removed unless given.
pub fn run_bench(args: &[&str], envs: &[(&str, &str)], deadline: Duration) -> RunOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vllm"));
    cmd.arg("bench")
        .arg("serve")
        .args(args)
        .env_remove("OPENAI_API_KEY");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawning the vllm stand-in binary");
    loop {
        if child
            .try_wait()
            .expect("waiting for vllm bench serve")
            .is_some()
        {
            break;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "vllm bench serve did not finish within {deadline:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    let out = child.wait_with_output().unwrap();
    RunOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    }
}

/// Parse a result file written by the client (one JSON object, key order preserved).
pub fn read_result(path: &Path) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        other => panic!(
            "{} is not one JSON object: {other:?}\n{text}",
            path.display()
        ),
    }
}

/// The JSON type name of a value, telling integers from floats as Python's json does.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
