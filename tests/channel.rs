//! The persistent channel against the real Docker Engine, in a FROM-scratch busybox client:
//! one exec carries several requests; console lines, exit codes and result files (binary,
//! byte for byte, written on the host as they land, never replacing a file) come back; a
//! missing result, an argv with spaces and quotes (never through a shell), a cancelled and a
//! timed-out command (stopped, nothing left running), and a channel whose agent dies mid-
//! request (detected, `Died`).

mod common;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vbench::channel::{AgentKind, Channel, ChannelError, Landed, Request};
use vbench::docker::{Docker, ExecSpec};

use common::{Cleanup, start_busybox};

/// A stand-in command: prints its argv, writes `$2` bytes of binary-ish data to `$1`, exits
/// with `$3`; with `$4` = `slow` it sleeps first.
const CMD: &str = r#"#!/bin/sh
out=$1; n=$2; rc=$3
echo "argv: $*"
echo "to stderr" >&2
[ "$4" = slow ] && sleep 60
if [ "$n" -ge 0 ]; then
  mkdir -p "$(dirname "$out")"
  : > "$out"
  i=0; while [ "$i" -lt "$n" ]; do printf 'x\000\377\n' >> "$out"; i=$((i+1)); done
fi
exit "$rc"
"#;

async fn client(d: &Docker, cleanup: &Cleanup) -> String {
    let c = start_busybox(d, cleanup, "chan").await;
    d.copy_in(
        &c,
        "/bin",
        &[("cmd".into(), CMD.as_bytes().to_vec(), 0o755)],
    )
    .await
    .expect("install the command");
    c
}

fn argv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn ps(d: &Docker, c: &str) -> String {
    let (_, out, _) = d
        .exec_capture(
            c,
            &ExecSpec {
                argv: argv(&["ps", "-o", "pid,args"]),
                deadline: Some(Duration::from_secs(20)),
                ..Default::default()
            },
        )
        .await
        .expect("ps");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_lines_exit_codes_and_files_over_one_exec() {
    let d = common::docker().await;
    let cleanup = Cleanup::new();
    let c = client(&d, &cleanup).await;
    let host = tempfile::tempdir().expect("tempdir");
    let mut ch = Channel::open_process(&d, &c, &[]).await.expect("open");
    assert_eq!(ch.kind(), &AgentKind::Process);
    let cancel = CancellationToken::new();

    // 1: a result of 3000 lines of binary bytes lands byte for byte.
    let dest = host.path().join("p/one.json");
    let args = argv(&["cmd", "/r/one.json", "3000", "0", "it's \"quoted\" $HOME;"]);
    let mut lines = Vec::new();
    let f = ch
        .run(
            &Request {
                argv: &args,
                env: &["X=1".into()],
                result: Some(("/r/one.json", &dest)),
                pidfile: Some("/tmp/chan.pid"),
                deadline: Some(Duration::from_secs(60)),
            },
            &mut |l| lines.push(l),
            &cancel,
        )
        .await
        .expect("run 1");
    assert_eq!(f.exit_code, Some(0));
    assert!(f.pid.is_some());
    assert!(
        lines.contains(&"argv: /r/one.json 3000 0 it's \"quoted\" $HOME;".to_string()),
        "the argv arrives verbatim, never through a shell: {lines:?}"
    );
    assert!(lines.contains(&"to stderr".to_string()), "{lines:?}");
    let Landed::Written { path, bytes } = f.landed else {
        panic!("not written: {:?}", f.landed);
    };
    assert_eq!(path, dest);
    assert_eq!(bytes, 12000);
    let in_client = d
        .read_file(&c, "/r/one.json")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(std::fs::read(&dest).expect("host file"), in_client);

    // 2: no result file; a non-zero exit.
    let args = argv(&["cmd", "/r/none.json", "-1", "7"]);
    let f = ch
        .run(
            &Request {
                argv: &args,
                env: &[],
                result: Some(("/r/none.json", &host.path().join("none.json"))),
                pidfile: None,
                deadline: None,
            },
            &mut |_| {},
            &cancel,
        )
        .await
        .expect("run 2");
    assert_eq!(f.exit_code, Some(7));
    assert!(matches!(f.landed, Landed::Missing), "{:?}", f.landed);

    // 3: the same host name again: nothing is replaced.
    let args = argv(&["cmd", "/r/one.json", "1", "0"]);
    let f = ch
        .run(
            &Request {
                argv: &args,
                env: &[],
                result: Some(("/r/one.json", &dest)),
                pidfile: None,
                deadline: None,
            },
            &mut |_| {},
            &cancel,
        )
        .await
        .expect("run 3");
    assert!(matches!(f.landed, Landed::Exists { .. }), "{:?}", f.landed);
    assert_eq!(std::fs::read(&dest).expect("host file").len(), 12000);
    ch.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_deadline_stop_the_command_and_the_channel_goes_on() {
    let d = common::docker().await;
    let cleanup = Cleanup::new();
    let c = client(&d, &cleanup).await;
    let host = tempfile::tempdir().expect("tempdir");
    let mut ch = Channel::open_process(&d, &c, &[]).await.expect("open");
    let slow = argv(&["cmd", "/r/slow.json", "1", "0", "slow"]);

    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        trigger.cancel();
    });
    let f = tokio::time::timeout(
        Duration::from_secs(40),
        ch.run(
            &Request {
                argv: &slow,
                env: &[],
                result: Some(("/r/slow.json", &host.path().join("slow.json"))),
                pidfile: Some("/tmp/slow.pid"),
                deadline: None,
            },
            &mut |_| {},
            &cancel,
        ),
    )
    .await
    .expect("stops in time")
    .expect("run");
    assert!(f.cancelled && !f.timed_out);
    assert_ne!(f.exit_code, Some(0), "{:?}", f.exit_code);
    assert!(
        !ps(&d, &c).await.contains("sleep 60"),
        "the command's group is gone"
    );

    let f = ch
        .run(
            &Request {
                argv: &slow,
                env: &[],
                result: None,
                pidfile: Some("/tmp/slow.pid"),
                deadline: Some(Duration::from_secs(2)),
            },
            &mut |_| {},
            &CancellationToken::new(),
        )
        .await
        .expect("run");
    assert!(f.timed_out && !f.cancelled);
    assert!(!ps(&d, &c).await.contains("sleep 60"));

    // The channel still works.
    let quick = argv(&["cmd", "/r/q.json", "1", "0"]);
    let f = ch
        .run(
            &Request {
                argv: &quick,
                env: &[],
                result: None,
                pidfile: None,
                deadline: None,
            },
            &mut |_| {},
            &CancellationToken::new(),
        )
        .await
        .expect("run after stops");
    assert_eq!(f.exit_code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_agent_dies_is_detected() {
    let d = common::docker().await;
    let cleanup = Cleanup::new();
    let c = client(&d, &cleanup).await;
    let mut ch = Channel::open_process(&d, &c, &[]).await.expect("open");
    let slow = argv(&["cmd", "/r/slow.json", "1", "0", "slow"]);
    let d2 = d.clone();
    let c2 = c.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        // The agent's shells (not the command): killed as a crash would. The pattern is
        // split so this script's own command line does not match it.
        // All at once, in one kill: one by one, the agent could still answer in between.
        let script = r#"ps=; for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in *vbench-agent"".sh*) ps="$ps ${p#/proc/}";; esac; done; kill -9 $ps"#;
        let _ = d2
            .exec_capture(&c2, &ExecSpec::argv(["sh", "-c", script]))
            .await;
    });
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        ch.run(
            &Request {
                argv: &slow,
                env: &[],
                result: None,
                pidfile: Some("/tmp/dies.pid"),
                deadline: None,
            },
            &mut |_| {},
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("detected in time");
    match r {
        Err(ChannelError::Died { .. }) => {}
        other => panic!("expected Died, got {other:?}"),
    }
}
