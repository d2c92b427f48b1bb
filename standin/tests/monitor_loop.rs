//! `nvidia-smi -lms MS` / `-l SEC` as vbench uses them: one process per run, one flushed block
//! of CSV rows per sample (readable line by line while the process lives), header once, and a
//! quiet end on SIGTERM, SIGINT or a closed pipe. Also: `rocm-smi --json` is cheap enough to
//! run in a shell loop.

mod serve_support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serve_support::*;

/// A looping monitor whose stdout lines arrive, time-stamped, on a channel.
struct Looping {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Drop for Looping {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Looping {
    let state = std::env::temp_dir().join(format!("vbt-loop-nostate-{}.json", std::process::id()));
    let mut cmd = Command::new(BIN);
    cmd.arg("nvidia-smi")
        .args(args)
        .env("VLLM_STANDIN_STATE", state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in GPU_VARS {
        cmd.env_remove(var);
    }
    cmd.env("VLLM_STANDIN_GPUS", "2");
    let mut child = cmd.spawn().expect("spawn nvidia-smi");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    Looping { child, lines: rx }
}

impl Looping {
    fn next_line(&self) -> (Instant, String) {
        self.lines
            .recv_timeout(Duration::from_secs(5))
            .expect("a sample line within 5 s")
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Wait (≤ 3 s) for the exit; returns (status, stderr).
    fn wait_exit(&mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (st, err);
            }
            assert!(Instant::now() < deadline, "monitor still running 3 s later");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

const Q: &str = "--query-gpu=index,utilization.gpu,memory.used";

#[test]
fn lms_prints_one_flushed_sample_per_interval_until_sigterm() {
    let mut m = start(&[Q, "--format=csv,nounits", "-lms", "100"]);
    let (t0, header) = m.next_line();
    assert_eq!(header, "index, utilization.gpu, memory.used");
    let mut samples = Vec::new();
    for _ in 0..6 {
        let (t, a) = m.next_line();
        let (_, b) = m.next_line();
        assert!(a.starts_with("0, ") && b.starts_with("1, "), "{a} / {b}");
        samples.push(t);
    }
    // Each sample arrived on its own, about 100 ms after the previous: flushed as it was made,
    // not buffered until exit. Generous bounds for a busy machine.
    for w in samples.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(50) && gap <= Duration::from_millis(600),
            "gap {gap:?}"
        );
    }
    assert!(samples[5] - t0 >= Duration::from_millis(400));
    // No second header in the loop.
    m.signal("-TERM");
    let (st, err) = m.wait_exit();
    assert!(
        st.signal() == Some(15) || st.code() == Some(0),
        "SIGTERM: {st:?}"
    );
    assert_eq!(err, "", "quiet on SIGTERM");
    while let Ok((_, l)) = m.lines.try_recv() {
        assert!(l.starts_with("0, ") || l.starts_with("1, "), "{l}");
    }
}

#[test]
fn sigint_and_a_closed_pipe_end_the_loop_quietly() {
    let mut m = start(&[Q, "--format=csv,noheader", "-lms", "50"]);
    m.next_line();
    m.signal("-INT");
    let (st, err) = m.wait_exit();
    assert!(st.signal() == Some(2) || st.code() == Some(0), "{st:?}");
    assert_eq!(err, "");

    // The reader goes away: the next write fails and the monitor exits without a word.
    let mut m = start(&[Q, "--format=csv,noheader", "--loop-ms=50"]);
    m.next_line();
    // Dropping the receiver stops the reader thread at its next line; the pipe closes with it.
    m.lines = mpsc::channel().1;
    let (st, err) = m.wait_exit();
    assert!(
        st.code() == Some(141) || st.signal() == Some(13),
        "closed pipe: {st:?}"
    );
    assert_eq!(err, "", "no 'Broken pipe' panic");
}

#[test]
fn l_takes_seconds_and_bad_intervals_are_refused() {
    let m = start(&[Q, "--format=csv,noheader", "-l", "1"]);
    let (a, _) = m.next_line();
    m.next_line();
    let (b, _) = m.next_line();
    let gap = b - a;
    assert!(
        gap >= Duration::from_millis(800) && gap <= Duration::from_millis(2500),
        "-l 1 gap {gap:?}"
    );
    for bad in [["-lms", "0"], ["-lms", "fast"], ["-l", "-3"]] {
        let out = Command::new(BIN)
            .arg("nvidia-smi")
            .args([Q, "--format=csv"])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn rocm_smi_json_is_cheap_enough_for_a_shell_loop() {
    let state = std::env::temp_dir().join(format!("vbt-rocm-nostate-{}.json", std::process::id()));
    let start = Instant::now();
    for _ in 0..20 {
        let out = Command::new(BIN)
            .arg("rocm-smi")
            .args(["--showuse", "--showmemuse", "--showpower", "--json"])
            .env("VLLM_STANDIN_GPU", "amd")
            .env("VLLM_STANDIN_STATE", &state)
            .env_remove("VLLM_STANDIN_GPUS")
            .env_remove("AMD_VISIBLE_DEVICES")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
    }
    let per_call = start.elapsed() / 20;
    // A 1 Hz shell loop needs far less than this; the debug build on a busy 2-core machine
    // takes a few ms.
    assert!(
        per_call < Duration::from_millis(150),
        "{per_call:?} per call"
    );
}
