//! Command-line behaviour of the stand-in's `vllm bench serve`: argparse's rejection of unknown
//! flags (exit 2), setup errors (exit 1, nothing written), acceptance of real command lines
//! with flags the stand-in ignores, and prompt stopping on SIGTERM / SIGINT.

mod bench_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_support::*;

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn unknown_flags_exit_2_with_argparse_wording() {
    let out = run_bench(
        &["--model", "m", "--bogus-flag", "x", "--num-prompts", "1"],
        &[],
        DEADLINE,
    );
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("usage: vllm bench serve [options]\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("vllm: error: unrecognized arguments: --bogus-flag x\n"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing runs: {}", out.stdout);

    let out = run_bench(&["--backend", "tgi"], &[], DEADLINE);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains(
            "vllm: error: argument --backend: invalid choice: 'tgi' (choose from 'vllm', 'openai',"
        ),
        "{}",
        out.stderr
    );

    let out = run_bench(&["--num-prompts", "many"], &[], DEADLINE);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("vllm: error: argument --num-prompts: invalid int value: 'many'"),
        "{}",
        out.stderr
    );
}

#[test]
fn setup_errors_exit_1_before_any_request() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 1,
        itl_ms: 1,
    });
    let base = server.base_url();
    let out = run_bench(
        &[
            "--base-url",
            &base,
            "--model",
            "m",
            "--random-range-ratio",
            "1.0",
        ],
        &[],
        DEADLINE,
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("ValueError: range_ratio must be in [0, 1)."),
        "{}",
        out.stderr
    );
    let out = run_bench(
        &[
            "--base-url",
            &base,
            "--model",
            "m",
            "--dataset-name",
            "sharegpt",
        ],
        &[],
        DEADLINE,
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("only --dataset-name random"),
        "{}",
        out.stderr
    );
    let out = run_bench(
        &[
            "--base-url",
            &base,
            "--model",
            "m",
            "--endpoint",
            "/v1/models",
        ],
        &[],
        DEADLINE,
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("URL must end with 'completions'"),
        "{}",
        out.stderr
    );
    assert!(
        server.requests().is_empty(),
        "no request sent on setup errors"
    );
}

#[test]
fn real_command_lines_with_ignored_flags_and_underscore_spellings_run() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 1,
        itl_ms: 1,
    });
    let base = server.base_url();
    let args = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--random_input_len",
        "6",
        "--random-output-len=2",
        "--num-prompts",
        "2",
        "--disable-tqdm",
        "--no-oversample",
        "--lora-assignment",
        "round-robin",
        "--plot-timeline",
        "--no-self-timed",
        "--random-mm-bucket-config",
        "{(256, 256, 1): 1.0}",
        "--trust-remote-code",
        "--tokenizer-mode",
        "hf",
        "--ready-check-timeout-sec",
        "5",
        "--num-warmups",
        "1",
        "--random-range-ratio",
        r#"{"input": 0.5, "output": 0.0}"#,
        "--header",
        "--metadata",
        "--insecure",
        "--skip-chat-template",
        "--percentile-metrics",
        "e2el",
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stdout
            .contains("Starting initial single prompt test run...\nInitial test run completed.\n")
    );
    assert!(
        out.stdout
            .contains("Warming up with 1 requests...\nWarmup run completed.\n")
    );
    assert!(
        out.stdout
            .contains("Sampling input_len from [3, 9] and output_len from [2, 2]"),
        "{}",
        out.stdout
    );
    // test request + warm-up + 2 measured; the test/warm-up requests carry no request id.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        reqs.iter()
            .filter(|r| r.header("x-request-id").is_some())
            .count(),
        2
    );
    assert!(
        !out.stdout.contains("Time to First Token"),
        "only e2el selected"
    );
    assert!(out.stdout.contains("End-to-end Latency"));
    assert!(
        !out.stderr.contains("%|"),
        "--disable-tqdm: no progress bar"
    );
}

#[test]
fn sigterm_and_sigint_stop_a_running_benchmark_promptly_without_writing_results() {
    for (sig, code) in [("-TERM", 143), ("-INT", 130)] {
        let server = FakeServer::start(Mode::Stream {
            ttft_ms: 100,
            itl_ms: 100,
        });
        let dir = TempDir::new("bench-signal");
        let base = server.base_url();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vllm"))
            .args([
                "bench",
                "serve",
                "--base-url",
                &base,
                "--model",
                "m",
                "--random-input-len",
                "4",
            ])
            .args([
                "--random-output-len",
                "200",
                "--num-prompts",
                "4",
                "--save-result",
                "--result-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the requests are in flight (the run itself would take 20 s).
        let start = Instant::now();
        while server.requests().len() < 4 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "requests never arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The shell's builtin `kill` (no procps needed), aimed at our own child's pid only.
        let status = Command::new("sh")
            .args(["-c", &format!("kill {sig} {}", child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let sent = Instant::now();
        let exit = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if sent.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{sig}: did not stop within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "{sig}: stopped in {:?}",
            sent.elapsed()
        );
        assert_eq!(exit.code(), Some(code), "{sig}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{sig}: no result written"
        );
    }
}

#[test]
fn ignore_sigterm_knob_keeps_running_until_sigint() {
    use std::io::BufRead as _;
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 100,
        itl_ms: 100,
    });
    let dir = TempDir::new("bench-ignore-term");
    let base = server.base_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vllm"))
        .args(["bench", "serve", "--base-url", &base, "--model", "m"])
        .args(["--random-input-len", "4", "--random-output-len", "200"])
        .args(["--num-prompts", "4", "--save-result", "--result-dir"])
        .arg(dir.path())
        .env("VLLM_STANDIN_BENCH_IGNORE_SIGTERM", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    while server.requests().len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "requests never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    let kill = |sig: &str| {
        let st = Command::new("sh")
            .args(["-c", &format!("kill {sig} {pid}")])
            .status()
            .unwrap();
        assert!(st.success());
    };
    kill("-TERM");
    // The note says the signal arrived and was ignored; the run (20 s) goes on.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the stand-in notes the ignored SIGTERM");
        if line.contains("VLLM_STANDIN_BENCH_IGNORE_SIGTERM=1: SIGTERM ignored") {
            break;
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "SIGTERM stopped it");
    kill("-INT");
    let sent = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("SIGINT did not stop it within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(exit.code(), Some(130));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
