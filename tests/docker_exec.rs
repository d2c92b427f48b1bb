//! Real-engine tests of exec: lines in order on the right stream, exit codes, deadlines,
//! a line longer than 64 KiB, and stopping a tracked process group so nothing of it remains.

mod common;

use std::time::{Duration, Instant};

use common::{Cleanup, docker, start_busybox};
use vbench::docker::{Docker, ExecSpec, OutputLine, OutputStream};

fn sh(script: &str) -> ExecSpec {
    ExecSpec::argv(["sh", "-c", script])
}

#[tokio::test]
async fn lines_arrive_in_order_on_their_streams_with_exit_codes() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-lines").await;

    let mut lines: Vec<OutputLine> = Vec::new();
    let script =
        "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; printf 'no newline'; exit 0";
    let outcome = d
        .exec(&c, &sh(script), &mut |l| lines.push(l))
        .await
        .expect("exec");
    assert_eq!(outcome.exit_code, Some(0));
    assert!(!outcome.timed_out);
    let out: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == OutputStream::Stdout)
        .map(|l| l.text.as_str())
        .collect();
    let err: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == OutputStream::Stderr)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        out,
        vec!["out1", "out2", "out3", "out4", "out5", "no newline"]
    );
    assert_eq!(err, vec!["err1", "err2", "err3", "err4", "err5"]);

    let (outcome, stdout, stderr) = d
        .exec_capture(&c, &sh("echo bye; echo oops >&2; exit 7"))
        .await
        .expect("exec");
    assert_eq!(outcome.exit_code, Some(7));
    assert_eq!(stdout, "bye\n");
    assert_eq!(stderr, "oops\n");

    // argv items are passed as they are: no shell re-parses them.
    let (o, stdout, _) = d
        .exec_capture(&c, &ExecSpec::argv(["echo", "a b", "$HOME", "'q'", ";ls"]))
        .await
        .expect("exec");
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(stdout, "a b $HOME 'q' ;ls\n");

    // env and workdir reach the process.
    let mut spec = sh("echo \"$GREETING from $(pwd)\"");
    spec.env = vec!["GREETING=hello".into()];
    spec.workdir = Some("/tmp".into());
    let (_, stdout, _) = d.exec_capture(&c, &spec).await.expect("exec");
    assert_eq!(stdout, "hello from /tmp\n");
}

#[tokio::test]
async fn lines_arrive_while_the_process_runs() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-live").await;
    let start = Instant::now();
    let mut seen: Vec<(String, Duration)> = Vec::new();
    let spec = sh("echo first; sleep 1; echo second");
    let outcome = d
        .exec(&c, &spec, &mut |l| seen.push((l.text, start.elapsed())))
        .await
        .expect("exec");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1].1 - seen[0].1 >= Duration::from_millis(800),
        "first line came before the sleep: {seen:?}"
    );
}

#[tokio::test]
async fn a_line_longer_than_64_kib_arrives_whole() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-long").await;
    // 200 000 'x' then a newline, then a short line: the long one spans many frames.
    let spec = sh("yes x | head -n 200000 | tr -d '\\n'; echo; echo tail");
    let (outcome, stdout, _) = d.exec_capture(&c, &spec).await.expect("exec");
    assert_eq!(outcome.exit_code, Some(0));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "line lengths: {:?}",
        lines.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert_eq!(lines[0].len(), 200_000);
    assert!(lines[0].bytes().all(|b| b == b'x'));
    assert_eq!(lines[1], "tail");
}

#[tokio::test]
async fn deadline_returns_timed_out() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-deadline").await;
    let mut spec = sh("echo started; sleep 30");
    spec.deadline = Some(Duration::from_millis(700));
    let start = Instant::now();
    let mut lines = Vec::new();
    let outcome = d
        .exec(&c, &spec, &mut |l| lines.push(l.text))
        .await
        .expect("exec");
    assert!(outcome.timed_out);
    assert_eq!(outcome.exit_code, None);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(lines, vec!["started"]);
}

/// Live (non-zombie) processes in the container whose process group is `pgid`, read from /proc.
async fn group_members(d: &Docker, c: &str, pgid: &str) -> Vec<String> {
    let (_, stdout, _) = d
        .exec_capture(c, &sh("cat /proc/[0-9]*/stat 2>/dev/null"))
        .await
        .expect("read /proc");
    stdout
        .lines()
        .filter_map(|l| {
            let (head, rest) = l.rsplit_once(") ")?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After the command: state, ppid, pgrp.
            (f.get(2) == Some(&pgid) && f.first() != Some(&"Z")).then(|| head.to_string())
        })
        .collect()
}

#[tokio::test]
async fn stopping_a_tracked_process_leaves_nothing_of_its_group() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-tracked").await;
    let pidfile = "/tmp/bench.pid";

    // A process with children and a grandchild that ignores SIGTERM: only SIGKILL ends it.
    let mut spec =
        sh("sleep 300 & sh -c 'trap \"\" TERM; while :; do sleep 1; done' & echo ready; wait");
    spec.pidfile = Some(pidfile.into());
    let d2 = d.clone();
    let c2 = c.clone();
    let running = tokio::spawn(async move {
        let mut lines = Vec::new();
        let outcome = d2.exec(&c2, &spec, &mut |l| lines.push(l.text)).await;
        (outcome, lines)
    });

    // Wait (with a deadline) for the process to be up and tracked.
    let up_by = Instant::now() + Duration::from_secs(10);
    while !d.tracked_alive(&c, pidfile).await.expect("alive?") {
        assert!(Instant::now() < up_by, "tracked process never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, pid, _) = d
        .exec_capture(&c, &ExecSpec::argv(["cat", pidfile]))
        .await
        .expect("read pidfile");
    let pid = pid.trim().to_string();
    assert!(
        group_members(&d, &c, &pid).await.len() >= 3,
        "leader + children expected"
    );

    let stopped_at = Instant::now();
    assert!(
        d.stop_tracked(&c, pidfile, Duration::from_millis(500))
            .await
            .expect("stop"),
        "was running"
    );
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    assert_eq!(
        group_members(&d, &c, &pid).await,
        Vec::<String>::new(),
        "group members left"
    );
    assert!(!d.tracked_alive(&c, pidfile).await.expect("alive?"));

    // The first exec ends once its process is gone (killed: 128 + signal).
    let (outcome, lines) = tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the tracked exec ended")
        .expect("join");
    let outcome = outcome.expect("exec");
    assert!(!outcome.timed_out);
    assert!(
        matches!(outcome.exit_code, Some(143) | Some(137)),
        "{outcome:?}"
    );
    assert_eq!(lines, vec!["ready"]);

    // Stopping again: nothing is running.
    assert!(
        !d.stop_tracked(&c, pidfile, Duration::from_millis(500))
            .await
            .expect("stop again")
    );
}

#[tokio::test]
async fn a_tracked_exec_past_its_deadline_is_stopped() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-tracked-deadline").await;
    let pidfile = "/tmp/t.pid";
    let mut spec = sh("sleep 300 & echo ready; wait");
    spec.pidfile = Some(pidfile.into());
    spec.deadline = Some(Duration::from_millis(800));
    let outcome = d.exec(&c, &spec, &mut |_| {}).await.expect("exec");
    assert!(outcome.timed_out);
    let (_, pid, _) = d
        .exec_capture(&c, &ExecSpec::argv(["cat", pidfile]))
        .await
        .expect("read pidfile");
    assert_eq!(
        group_members(&d, &c, pid.trim()).await,
        Vec::<String>::new()
    );
    assert!(!d.tracked_alive(&c, pidfile).await.expect("alive?"));
}

#[tokio::test]
async fn detached_exec_outlives_the_call_and_can_be_stopped() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "exec-detached").await;
    let pidfile = "/tmp/d.pid";
    let mut spec = sh("echo on > /tmp/d.out; sleep 300");
    spec.pidfile = Some(pidfile.into());
    d.exec_detached(&c, &spec).await.expect("detached");
    let up_by = Instant::now() + Duration::from_secs(10);
    while !d.tracked_alive(&c, pidfile).await.expect("alive?") {
        assert!(Instant::now() < up_by, "detached process never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, out, _) = d
        .exec_capture(&c, &ExecSpec::argv(["cat", "/tmp/d.out"]))
        .await
        .expect("cat");
    assert_eq!(out, "on\n");
    // The engine lists it among the container's running execs.
    let running = d.running_execs(&c).await.expect("execs");
    assert!(
        running.iter().any(|e| e.contains("sleep 300")),
        "{running:?}"
    );
    assert!(
        d.stop_tracked(&c, pidfile, Duration::from_secs(2))
            .await
            .expect("stop")
    );
    assert!(!d.tracked_alive(&c, pidfile).await.expect("alive?"));
    let gone_by = Instant::now() + Duration::from_secs(10);
    loop {
        let running = d.running_execs(&c).await.expect("execs");
        if !running.iter().any(|e| e.contains("sleep 300")) {
            break;
        }
        assert!(Instant::now() < gone_by, "still listed: {running:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn exec_in_an_absent_container_is_not_found() {
    let d = docker().await;
    let err = d
        .exec_capture(&common::unique("nobody"), &ExecSpec::argv(["true"]))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, vbench::docker::DockerError::NotFound { .. }),
        "{err:?}"
    );
}
