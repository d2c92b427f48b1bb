//! The Python worker agent (`agent/vbench_worker.py`) against the REAL vLLM 0.33 benchmark
//! client, no Docker: a point run in the worker must give the same result as a fresh
//! `vllm bench serve` process (same keys, counts, prompt lengths, prompts), twice in a row in one
//! worker, and the worker must speak protocol v1 (HELLO, S/L/X/F/N/D, ERR) exactly.
//!
//! Needs the real client's venv: `VBENCH_VLLM_VENV`, else `/var/cache/vbench/vllm-0.33.0-venv`
//! (made by `scripts/setup-real-client.sh`). Without it the test fails and says so. The server
//! is the static CPU stand-in (`VBENCH_STANDIN_BIN`, else built by `scripts/build-standin.sh`)
//! on a loopback port.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const DEFAULT_VENV: &str = "/var/cache/vbench/vllm-0.33.0-venv";

/// The real client's venv, or a failure telling how to make it.
fn venv() -> PathBuf {
    let venv = std::env::var_os("VBENCH_VLLM_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV));
    let ok = venv.join("bin/vllm").is_file()
        && venv.join("bin/python").exists()
        && venv.join(".vbench-real-client-ok").is_file();
    assert!(
        ok,
        "the real vLLM 0.33 client is not installed at {} (VBENCH_VLLM_VENV, default {DEFAULT_VENV}): \
         run scripts/setup-real-client.sh (2-7 min, ~9.4 GB, once)",
        venv.display()
    );
    venv
}

fn tokenizer_dir() -> String {
    format!("{REPO}/tests/fixtures/real-client/tiny-tokenizer")
}

/// The environment both ways of running the client get.
fn client_env(cmd: &mut Command) {
    cmd.env("VLLM_TARGET_DEVICE", "cpu")
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .env("NO_COLOR", "1")
        .env_remove("SAVE_TO_PYTORCH_BENCHMARK_FORMAT")
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_USE_RUST_BENCH");
}

// ---------------------------------------------------------------------------------------------
// The stand-in server on the host.

struct Server {
    child: Child,
    base: String,
    out: Arc<Mutex<Vec<String>>>,
    state: PathBuf,
}

impl Server {
    fn start(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let bin = common::standin_bin();
        let state = std::env::temp_dir().join(format!(
            "vbt-worker-standin-state-{}-{}.json",
            std::process::id(),
            common::unique("s")
        ));
        let mut cmd = Command::new(&bin);
        cmd.args([
            "serve",
            "facebook/opt-125m",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .args(extra_args)
        .env("VLLM_STANDIN_LOAD_SECONDS", "0.2")
        .env("VLLM_STANDIN_STATE", &state)
        .env("NO_COLOR", "1")
        .env_remove("VLLM_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the stand-in {}: {e}", bin.display()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        let mut server = Server {
            child,
            base: String::new(),
            out,
            state,
        };
        // The port it bound (`--port 0`), from `Starting vLLM server on http://HOST:PORT`.
        let deadline = Instant::now() + Duration::from_secs(20);
        let port: u16 = loop {
            let found = server.out.lock().unwrap().iter().find_map(|l| {
                l.split("Starting vLLM server on http://")
                    .nth(1)
                    .map(str::to_owned)
            });
            if let Some(hostport) = found {
                break hostport
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("no port in {hostport:?}"));
            }
            assert!(
                Instant::now() < deadline,
                "the stand-in printed no 'Starting vLLM server' line within 20 s:\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        server.base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_status(port, "/health") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "the stand-in's /health did not answer 200 within 20 s:\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.state);
    }
}

/// `GET path` on 127.0.0.1:port; the status code, or None when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = String::new();
    BufReader::new(s).read_line(&mut head).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The argv of a point and the process way of running it.

fn point_argv(base_url: &str, result_dir: &Path, file: &str, extra: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "vllm",
        "bench",
        "serve",
        "--backend",
        "openai",
        "--base-url",
        base_url,
        "--model",
        "facebook/opt-125m",
        "--tokenizer",
        &tokenizer_dir(),
        "--dataset-name",
        "random",
        "--random-input-len",
        "64",
        "--random-output-len",
        "8",
        "--num-prompts",
        "6",
        "--max-concurrency",
        "2",
        "--seed",
        "7",
        "--save-result",
        "--save-detailed",
        "--result-dir",
        &result_dir.to_string_lossy(),
        "--result-filename",
        file,
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--disable-tqdm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv
}

/// `$VENV/bin/vllm bench serve ...` as a new process (what the process agent does).
fn run_process(venv: &Path, argv: &[String]) -> (i32, String) {
    let mut cmd = Command::new(venv.join("bin/vllm"));
    cmd.args(&argv[1..]).stdin(Stdio::null());
    client_env(&mut cmd);
    let out = cmd.output().expect("run the real vllm bench serve");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read result {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The worker, driven over protocol v1.

/// Escape one value as protocol v1 says: bytes outside [A-Za-z0-9_./:=,+@%-] as `\0ooo`.
fn escape(value: &str) -> String {
    let mut out = String::new();
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_./:=,+@%-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\0{b:03o}"));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Frame {
    /// Any line frame, as text (`HELLO …`, `S 1 42`, `L 1 text`, `X 1 0`, `N 1`, `D 1`, `ERR …`).
    Line(String),
    /// `F <id> <size>` and its bytes.
    File(u64, Vec<u8>),
    Eof,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<Frame>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(venv: &Path, cwd: &Path) -> Worker {
        let mut cmd = Command::new(venv.join("bin/python"));
        cmd.arg(format!("{REPO}/agent/vbench_worker.py"))
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        client_env(&mut cmd);
        let mut child = cmd.spawn().expect("start the worker");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, frames) = channel();
        std::thread::spawn(move || {
            loop {
                let mut line = Vec::new();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Frame::Eof);
                        return;
                    }
                    Ok(_) => {}
                }
                assert_eq!(line.pop(), Some(b'\n'), "a frame without its newline");
                if let Some(rest) = line.strip_prefix(b"F ") {
                    let rest = String::from_utf8(rest.to_vec()).expect("F header is text");
                    let mut parts = rest.split(' ');
                    let id: u64 = parts.next().unwrap().parse().expect("F id");
                    let size: usize = parts.next().unwrap().parse().expect("F size");
                    let mut data = vec![0u8; size + 1];
                    stdout.read_exact(&mut data).expect("F bytes");
                    assert_eq!(data.pop(), Some(b'\n'), "F bytes not followed by a newline");
                    let _ = tx.send(Frame::File(id, data));
                } else {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    let _ = tx.send(Frame::Line(text));
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err_pipe = child.stderr.take().unwrap();
        let err_lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                err_lines.lock().unwrap().push(line);
            }
        });
        Worker {
            child,
            stdin,
            frames,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn next(&self, within: Duration) -> Frame {
        match self.frames.recv_timeout(within) {
            Ok(f) => f,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no frame from the worker within {within:?}; its stderr:\n{}",
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => Frame::Eof,
        }
    }

    fn send(&mut self, lines: &[String]) {
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        self.stdin
            .write_all(buf.as_bytes())
            .and_then(|_| self.stdin.flush())
            .expect("write to the worker");
    }

    /// Send one request and collect its frames up to and including `D <id>`.
    fn request(
        &mut self,
        id: u64,
        argv: &[String],
        env: &[&str],
        result: Option<&Path>,
    ) -> Vec<Frame> {
        let mut lines = vec![format!("RUN {id}")];
        lines.extend(argv.iter().map(|a| format!("A {}", escape(a))));
        lines.extend(env.iter().map(|e| format!("E {}", escape(e))));
        if let Some(r) = result {
            lines.push(format!("R {}", escape(&r.to_string_lossy())));
        }
        lines.push("GO".into());
        self.send(&lines);
        self.collect(id)
    }

    fn collect(&self, id: u64) -> Vec<Frame> {
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let f = self.next(left.max(Duration::from_millis(1)));
            let done = f == Frame::Line(format!("D {id}"));
            assert_ne!(
                f,
                Frame::Eof,
                "the worker ended during request {id}; frames so far: {frames:?}\nstderr:\n{}",
                self.stderr()
            );
            frames.push(f);
            if done {
                return frames;
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The console lines (`L <id> text`) of a request.
fn console(frames: &[Frame], id: u64) -> Vec<String> {
    let prefix = format!("L {id} ");
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Line(l) => l.strip_prefix(&prefix).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// Check a completed request's frame sequence: `S id pid`, `L id …`*, `X id code`, then the
/// R answer (`F` or `N`) if one was asked for, then `D id`. Returns the exit code and F bytes.
fn check_run_frames(
    frames: &[Frame],
    id: u64,
    pid: u32,
    asked_file: bool,
) -> (i32, Option<Vec<u8>>) {
    let dump = || format!("{frames:#?}");
    assert_eq!(
        frames.first(),
        Some(&Frame::Line(format!("S {id} {pid}"))),
        "first frame must be S with the worker's pid: {}",
        dump()
    );
    assert_eq!(frames.last(), Some(&Frame::Line(format!("D {id}"))));
    let x_at = frames
        .iter()
        .position(|f| matches!(f, Frame::Line(l) if l.starts_with(&format!("X {id} "))))
        .unwrap_or_else(|| panic!("no X frame: {}", dump()));
    for f in &frames[1..x_at] {
        assert!(
            matches!(f, Frame::Line(l) if l.starts_with(&format!("L {id} "))),
            "only L frames between S and X, got {f:?}"
        );
    }
    let code: i32 = match &frames[x_at] {
        Frame::Line(l) => l.rsplit(' ').next().unwrap().parse().expect("X code"),
        _ => unreachable!(),
    };
    let after = &frames[x_at + 1..frames.len() - 1];
    let file = if asked_file {
        assert_eq!(after.len(), 1, "exactly one F or N after X: {}", dump());
        match &after[0] {
            Frame::File(fid, data) => {
                assert_eq!(*fid, id);
                Some(data.clone())
            }
            Frame::Line(l) => {
                assert_eq!(l, &format!("N {id}"), "F or N after X: {}", dump());
                None
            }
            Frame::Eof => unreachable!(),
        }
    } else {
        assert!(after.is_empty(), "nothing between X and D: {}", dump());
        None
    };
    (code, file)
}

fn err_frames(frames: &[Frame], id: u64) -> String {
    assert_eq!(frames.len(), 2, "ERR then D, nothing else: {frames:?}");
    assert_eq!(frames[1], Frame::Line(format!("D {id}")));
    match &frames[0] {
        Frame::Line(l) if l.starts_with(&format!("ERR {id} ")) => l.clone(),
        other => panic!("expected ERR {id}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Fidelity comparisons.

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .expect("result is an object")
        .keys()
        .cloned()
        .collect()
}

/// What must be equal between two runs of the same argv and seed.
fn assert_same_point(what: &str, a: &Value, b: &Value) {
    assert_eq!(keys(a), keys(b), "{what}: same JSON keys in the same order");
    for k in [
        "backend",
        "endpoint_type",
        "label",
        "model_id",
        "tokenizer_id",
        "num_prompts",
        "request_rate",
        "burstiness",
        "max_concurrency",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "input_lens",
        "output_lens",
        "errors",
        // The stand-in's text is a function of the prompt tokens and its seed only: equal
        // generated texts mean the worker sent the very same prompts in the same order.
        "generated_texts",
    ] {
        assert_eq!(a.get(k), b.get(k), "{what}: {k} differs");
    }
}

#[test]
fn worker_runs_points_like_the_cli_and_speaks_protocol_v1() {
    let venv = venv();
    let server = Server::start(&[], &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let results = dir.path().join("results");

    // (a) The real CLI as a process, twice: the fixed argv, and one whose prompt lengths vary
    // (--random-range-ratio 0.5), so that equal `input_lens` mean something.
    let argv = point_argv(&server.base, &results, "process.json", &[]);
    let (code, text) = run_process(&venv, &argv);
    assert_eq!(code, 0, "vllm bench serve as a process failed:\n{text}");
    let process = read_json(&results.join("process.json"));
    let varied = ["--random-range-ratio", "0.5"];
    let argv_v = point_argv(&server.base, &results, "process-varied.json", &varied);
    let (code, text) = run_process(&venv, &argv_v);
    assert_eq!(
        code, 0,
        "vllm bench serve (varied) as a process failed:\n{text}"
    );
    let process_v = read_json(&results.join("process-varied.json"));

    assert_eq!(
        process["completed"], 6,
        "the process run must succeed fully"
    );
    assert_eq!(process["failed"], 0);
    assert_eq!(process["total_output_tokens"], 48);
    let lens_v: BTreeSet<u64> = process_v["input_lens"]
        .as_array()
        .expect("input_lens with --save-detailed")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(
        lens_v.len() > 1,
        "--random-range-ratio 0.5 should give varied prompt lengths: {lens_v:?}"
    );

    // (b) The worker.
    let started = Instant::now();
    let mut worker = Worker::start(&venv, dir.path());
    let pid = worker.child.id();
    let hello = worker.next(Duration::from_secs(180));
    let Frame::Line(hello) = hello else {
        panic!(
            "expected HELLO, got {hello:?}; stderr:\n{}",
            worker.stderr()
        )
    };
    assert_eq!(
        hello,
        "HELLO vbench-agent 1 worker vllm=0.33.0",
        "HELLO line; stderr:\n{}",
        worker.stderr()
    );
    eprintln!("worker ready in {:?}", started.elapsed());

    // The same point twice in one worker, each against the process's result.
    let mut runs = Vec::new();
    for (id, file) in [(1u64, "worker-1.json"), (2, "worker-2.json")] {
        let argv_w = point_argv(&server.base, &results, file, &[]);
        let path = results.join(file);
        let t = Instant::now();
        let frames = worker.request(id, &argv_w, &[], Some(&path));
        eprintln!("worker point {id}: {:?}", t.elapsed());
        let (code, bytes) = check_run_frames(&frames, id, pid, true);
        let lines = console(&frames, id);
        assert_eq!(code, 0, "worker point {id} failed:\n{}", lines.join("\n"));
        assert!(
            lines.iter().any(|l| l.contains("Serving Benchmark Result")),
            "the benchmark's console output arrives as L lines: {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("Namespace(subparser='bench', bench_type='serve'")),
            "the args were parsed by the CLI's own parser tree: {lines:?}"
        );
        let on_disk = std::fs::read(&path).expect("the worker's result file");
        assert_eq!(
            bytes.as_deref(),
            Some(&on_disk[..]),
            "F carries the file's bytes"
        );
        let json: Value = serde_json::from_slice(&on_disk).expect("F bytes are the result JSON");
        assert_same_point(&format!("worker point {id} vs process"), &process, &json);
        runs.push(json);
    }
    assert_eq!(
        runs[0]["input_lens"], runs[1]["input_lens"],
        "same point twice in one worker"
    );

    // The varied-length point: prompts and lengths equal to the process's, twice.
    for id in [3u64, 4] {
        let file = format!("worker-varied-{id}.json");
        let argv_w = point_argv(&server.base, &results, &file, &varied);
        let frames = worker.request(id, &argv_w, &[], None);
        let (code, _) = check_run_frames(&frames, id, pid, false);
        assert_eq!(code, 0, "{:?}", console(&frames, id));
        let json = read_json(&results.join(&file));
        assert_same_point(
            &format!("varied worker point {id} vs process"),
            &process_v,
            &json,
        );
    }

    // E: environment additions for one request only (SAVE_TO_PYTORCH_BENCHMARK_FORMAT makes
    // vLLM also write <name>.pytorch.json); escaped argv values (space, non-ASCII) arrive intact.
    let argv_e = point_argv(
        &server.base,
        &results,
        "env.json",
        &["--metadata", "note=a b\\ü\"x"],
    );
    let frames = worker.request(5, &argv_e, &["SAVE_TO_PYTORCH_BENCHMARK_FORMAT=1"], None);
    assert_eq!(check_run_frames(&frames, 5, pid, false).0, 0);
    assert!(
        results.join("env.pytorch.json").is_file(),
        "E SAVE_TO_PYTORCH_BENCHMARK_FORMAT=1 applied to the request"
    );
    assert_eq!(read_json(&results.join("env.json"))["note"], "a b\\ü\"x");
    let argv_ne = point_argv(&server.base, &results, "noenv.json", &[]);
    let frames = worker.request(6, &argv_ne, &[], None);
    assert_eq!(check_run_frames(&frames, 6, pid, false).0, 0);
    assert!(results.join("noenv.json").is_file());
    assert!(
        !results.join("noenv.pytorch.json").exists(),
        "E additions must not outlive their request"
    );

    // A bad flag: argparse's exit 2 (as the CLI's), its message as L lines, and N for the R
    // file that was never written.
    let mut bad = point_argv(&server.base, &results, "never.json", &[]);
    bad.push("--no-such-flag".into());
    let frames = worker.request(7, &bad, &[], Some(&results.join("never.json")));
    let (code, file) = check_run_frames(&frames, 7, pid, true);
    assert_eq!(code, 2, "argparse error exits 2: {frames:?}");
    assert_eq!(file, None, "N for a missing R file");
    assert!(
        console(&frames, 7)
            .iter()
            .any(|l| l.contains("unrecognized arguments: --no-such-flag")),
        "{frames:?}"
    );

    // An exception inside vLLM's main: its traceback as L lines, then X 1 (as a process dies).
    let mut zero = point_argv(&server.base, &results, "zero.json", &[]);
    zero.extend(["--max-concurrency".to_string(), "0".to_string()]);
    let frames = worker.request(13, &zero, &[], None);
    assert_eq!(check_run_frames(&frames, 13, pid, false).0, 1, "{frames:?}");
    let lines = console(&frames, 13);
    assert!(
        lines.iter().any(|l| l.starts_with("Traceback")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "ValueError: --max-concurrency must be greater than 0"),
        "{lines:?}"
    );

    // SIGINT to the pid of S cancels the running point: X 130, and the worker carries on.
    let mut long = point_argv(&server.base, &results, "cancelled.json", &[]);
    for (flag, value) in [("--random-output-len", "4000"), ("--num-prompts", "1")] {
        let at = long.iter().position(|a| a == flag).unwrap();
        long[at + 1] = value.into();
    }
    let mut lines = vec!["RUN 14".to_string()];
    lines.extend(long.iter().map(|a| format!("A {}", escape(a))));
    lines.push("GO".into());
    worker.send(&lines);
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let f = worker.next(deadline.saturating_duration_since(Instant::now()));
        let running =
            matches!(&f, Frame::Line(l) if l.starts_with("L 14 Starting main benchmark run"));
        frames.push(f);
        if running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the long point never started: {frames:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
    frames.extend(worker.collect(14));
    assert_eq!(
        check_run_frames(&frames, 14, pid, false).0,
        130,
        "{frames:?}"
    );
    assert!(
        !results.join("cancelled.json").exists(),
        "a cancelled point writes no result"
    );

    // Malformed requests: ERR + D, and the worker carries on.
    let frames = worker.request(8, &["ls".into(), "-l".into()], &[], None);
    assert!(err_frames(&frames, 8).contains("vllm bench serve"));
    worker.send(&["RUN 9".into(), "A vllm".into(), "BOGUS".into(), "GO".into()]);
    assert!(err_frames(&worker.collect(9), 9).contains("unknown line"));
    worker.send(&["RUN 10".into(), "A \\0999".into(), "GO".into()]);
    assert!(err_frames(&worker.collect(10), 10).contains("escape"));
    worker.send(&["RUN 11".into(), "E NOEQUALS".into(), "GO".into()]);
    assert!(err_frames(&worker.collect(11), 11).contains("KEY=VALUE"));
    worker.send(&["GO".into()]);
    assert!(err_frames(&worker.collect(0), 0).contains("without RUN"));

    // Still healthy after all that: the point once more, same prompts as the process.
    let argv_again = point_argv(&server.base, &results, "again.json", &[]);
    let frames = worker.request(12, &argv_again, &[], None);
    assert_eq!(check_run_frames(&frames, 12, pid, false).0, 0);
    assert_same_point(
        "worker point after errors vs process",
        &process,
        &read_json(&results.join("again.json")),
    );

    // QUIT: exit 0, nothing more on stdout.
    worker.send(&["QUIT".into()]);
    assert_eq!(worker.next(Duration::from_secs(30)), Frame::Eof);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = worker.child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "the worker did not exit on QUIT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "QUIT exits 0");
    drop(server);
}

#[test]
fn worker_without_vllm_says_fail_and_exits_3() {
    // The worker under a Python whose `vllm` cannot be imported: a package that raises first
    // on PYTHONPATH (whatever else is installed).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("vllm")).unwrap();
    std::fs::write(
        dir.path().join("vllm/__init__.py"),
        "raise ImportError('no vLLM in this test')\n",
    )
    .unwrap();
    let out = Command::new("python3")
        .arg(format!("{REPO}/agent/vbench_worker.py"))
        .current_dir(dir.path())
        .env("PYTHONPATH", dir.path())
        .env("PYTHONNOUSERSITE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "exit 3; stdout {stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the FAIL line on stdout: {stdout:?}");
    assert!(
        lines[0].starts_with("FAIL ") && lines[0].contains("no vLLM in this test"),
        "{stdout:?}"
    );
}
