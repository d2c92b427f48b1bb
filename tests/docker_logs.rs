//! Real-engine tests of logs: following a container that prints over time (lines arrive as
//! they are written, the stream ends when the container stops), stderr kept apart, tail,
//! ANSI stripping.

mod common;

use std::time::{Duration, Instant};

use common::{Cleanup, docker, start_busybox};
use futures_util::StreamExt;
use vbench::docker::logs::LogOptions;
use vbench::docker::{ExecSpec, OutputStream};

#[tokio::test]
async fn follow_sees_lines_as_they_come_and_ends_when_the_container_stops() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "logs").await;

    // Writing to PID 1's stdout/stderr is writing to the container's log. The two streams
    // are copied separately by the engine, hence the pause before the stderr line.
    let script = "for i in 1 2 3 4; do echo \"line$i\" > /proc/1/fd/1; sleep 0.4; done; \
                  printf '\\033[31mred\\033[0m\\n' > /proc/1/fd/1; sleep 0.3; echo oops > /proc/1/fd/2";
    let mut stream = d.logs(
        &c,
        &LogOptions {
            follow: true,
            strip_ansi: true,
            ..Default::default()
        },
    );
    d.exec_detached(&c, &ExecSpec::argv(["sh", "-c", script]))
        .await
        .expect("start the printer");

    let start = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a line within 10 s");
        let line = next.expect("stream still open").expect("log line");
        seen.push((line.stream, line.text, start.elapsed()));
    }
    let texts: Vec<&str> = seen.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        vec!["line1", "line2", "line3", "line4", "red", "oops"]
    );
    assert_eq!(seen[5].0, OutputStream::Stderr);
    assert!(seen[..5].iter().all(|(s, _, _)| *s == OutputStream::Stdout));
    // Seen as they came: line1 well before line4 (they are 1.2 s apart when written).
    assert!(
        seen[3].2 - seen[0].2 >= Duration::from_millis(800),
        "arrived in a burst: {seen:?}"
    );

    let stopper = d.clone();
    let name = c.clone();
    let stop =
        tokio::spawn(async move { stopper.stop_container(&name, Duration::from_secs(5)).await });
    let end = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the stream ends");
    assert!(
        end.is_none(),
        "no more lines after the container stopped: {end:?}"
    );
    stop.await.expect("join").expect("stop");

    // Not following, last 2 lines, colours kept.
    let tail: Vec<String> = d
        .logs(
            &c,
            &LogOptions {
                tail: Some(2),
                ..Default::default()
            },
        )
        .map(|l| l.expect("line").text)
        .collect()
        .await;
    assert_eq!(
        tail,
        vec!["\u{1b}[31mred\u{1b}[0m".to_string(), "oops".to_string()]
    );

    // Nothing was logged after an hour from now.
    let future = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    let later: Vec<_> = d
        .logs(
            &c,
            &LogOptions {
                since: Some(future as i64),
                ..Default::default()
            },
        )
        .collect()
        .await;
    assert!(later.is_empty(), "{later:?}");
}

#[tokio::test]
async fn logs_of_an_absent_container_is_an_error_item() {
    let d = docker().await;
    let mut s = d.logs(&common::unique("nobody"), &LogOptions::default());
    let first = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("answer");
    assert!(
        matches!(
            first,
            Some(Err(vbench::docker::DockerError::NotFound { .. }))
        ),
        "{first:?}"
    );
    assert!(s.next().await.is_none());
}
