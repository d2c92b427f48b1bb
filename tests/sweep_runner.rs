//! The sweep runner against the real Docker Engine: a busybox client container whose `vllm`
//! is a small shell script behaving like `vllm bench serve` at the interface the runner uses
//! (argv in, result JSON in `--result-dir/--result-filename` out, modes set by a file in the
//! container). The server side is a test `ServerControl` that can be told to die. This checks
//! the runner's own logic — tracked execs, copying, never overwriting, validation, cancel,
//! crash recovery, server death — independently of the stand-in server.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vbench::config::Config;
use vbench::docker::{Docker, ExecSpec};
use vbench::events::{Collector, Event};
use vbench::sweep::argv::BenchContext;
use vbench::sweep::manifest::{Manifest, PointStatus, ServerSnapshot};
use vbench::sweep::plan::{self, ContextLimit};
use vbench::sweep::runner::{self, RunEnd, Runner, ServerControl};
use vbench::sweep::{presets, session};

use common::{Cleanup, start_busybox};

const FAKE_BENCH: &str = r#"#!/bin/sh
# Test double of `vllm bench serve` for the runner tests (see the test file's doc).
dir=; file=; n=; out=
while [ $# -gt 0 ]; do
  case "$1" in
    --result-dir) dir=$2; shift;;
    --result-filename) file=$2; shift;;
    --num-prompts) n=$2; shift;;
    --random-output-len) out=$2; shift;;
  esac
  shift
done
mode=$(cat /tmp/fake-mode 2>/dev/null || echo ok)
echo "fake bench: $n prompts, mode $mode"
case "$mode" in
  slow) sleep 60;;
  nofile) exit 0;;
  killagent)
    # The channel's agent dies under this point (as a crash would); the retry runs normally.
    echo ok > /tmp/fake-mode
    ps=; for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in *vbench-agent"".sh*) ps="$ps ${p#/proc/}";; esac; done
    kill -9 $ps;;
esac
completed=$n; failed=0
if [ "$mode" = fail ]; then completed=0; failed=$n; fi
mkdir -p "$dir"
printf '{"date":"x","num_prompts":%s,"completed":%s,"failed":%s,"total_input_tokens":0,"total_output_tokens":%s,"request_throughput":1.5,"mean_ttft_ms":2.5,"mean_tpot_ms":0.5}' "$n" "$completed" "$failed" "$((completed * out))" > "$dir/$file"
"#;

/// A server that answers healthy `healthy_checks` times, then is dead.
struct TestServer {
    healthy_checks: usize,
    calls: AtomicUsize,
    /// This check (0-based) alone reports the server down: a slow probe, not a death.
    blip: Option<usize>,
}

impl TestServer {
    fn healthy() -> Self {
        TestServer {
            healthy_checks: usize::MAX,
            calls: AtomicUsize::new(0),
            blip: None,
        }
    }
}

impl ServerControl for TestServer {
    async fn check(&self) -> anyhow::Result<Option<String>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let down = n >= self.healthy_checks || self.blip == Some(n);
        Ok(down.then(|| "vllm serve is not running".to_string()))
    }
    async fn restart(&self) -> anyhow::Result<ServerSnapshot> {
        anyhow::bail!("the test server cannot restart")
    }
}

async fn sh(d: &Docker, c: &str, script: &str) -> String {
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let (o, out, err) = d.exec_capture(c, &spec).await.expect("exec");
    assert_eq!(o.exit_code, Some(0), "{script}: {err}");
    out
}

/// A busybox client with the fake bench installed as /bin/vllm.
async fn client(d: &Docker, cleanup: &Cleanup) -> String {
    let c = start_busybox(d, cleanup, "sweep-cli").await;
    d.copy_in(
        &c,
        "/bin",
        &[("vllm".into(), FAKE_BENCH.as_bytes().to_vec(), 0o755)],
    )
    .await
    .expect("install the fake bench");
    c
}

/// A 3-point custom sweep manifest in `results`.
fn manifest(results: &Path) -> Manifest {
    let cfg = Config {
        results_dir: results.to_path_buf(),
        ..Default::default()
    };
    let mut s = presets::preset("demo").expect("demo");
    s.input_lens = vec![128];
    s.point_timeout = Some("30s".into());
    let sweeps = vec![("t".to_string(), s)];
    let p = plan::build(&cfg, &sweeps, ContextLimit::Live(4096)).expect("plan");
    let id = vbench::sweep::new_run_id(&jiff::ZonedDateTime::now(), "test");
    session::new_manifest(&id, &cfg, &sweeps, &p, None, true)
}

/// What every runner test arranges: a busybox client with the fake bench, a results
/// directory, an event collector; `Rig::new` also returns a fresh 3-point manifest.
struct Rig {
    d: Docker,
    c: String,
    tmp: tempfile::TempDir,
    sink: Collector,
    _cleanup: Cleanup,
}

impl Rig {
    async fn new() -> (Rig, Manifest) {
        let d = common::docker().await;
        let cleanup = Cleanup::new();
        let c = client(&d, &cleanup).await;
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = manifest(tmp.path());
        let rig = Rig {
            d,
            c,
            tmp,
            sink: Collector::default(),
            _cleanup: cleanup,
        };
        (rig, m)
    }

    fn results(&self) -> &Path {
        self.tmp.path()
    }

    /// A runner for `m` against `server`, with the client's directories prepared.
    async fn runner<S: ServerControl>(&self, m: &mut Manifest, server: S) -> Runner<'_, S> {
        self.runner_with_env(m, server, vec![]).await
    }

    /// The same, with the client environment `env`.
    async fn runner_with_env<S: ServerControl>(
        &self,
        m: &mut Manifest,
        server: S,
        env: Vec<String>,
    ) -> Runner<'_, S> {
        let r = Runner {
            docker: &self.d,
            client: self.c.clone(),
            results_dir: self.results().to_path_buf(),
            run_dir: session::run_dir(self.results(), &m.run_id),
            bench: BenchContext {
                base_url: "http://nowhere:8000".into(),
                model_id: "m".into(),
                tokenizer: None,
                seed: 0,
                result_dir: "/results".into(),
                run_id: m.run_id.clone(),
                extra_args: vec![],
            },
            env,
            server,
            restart_server: false,
            cancel: CancellationToken::new(),
            sink: &self.sink,
            client_mode: vbench::config::ClientMode::Process,
            telemetry: None,
            link: Default::default(),
            journal: Default::default(),
            more: None,
        };
        r.prepare_client(m).await.expect("prepare");
        r
    }
}

fn result_files(results: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(results.join("t"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn points_run_copy_exact_bytes_and_validate() {
    let (rig, mut m) = Rig::new().await;
    let (d, c, tmp) = (&rig.d, &rig.c, &rig.tmp);
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    let end = r.run(&mut m).await.expect("run");
    assert_eq!(end, RunEnd::Finished);
    assert_eq!(m.count(PointStatus::Ok), 3, "{:#?}", m.points);
    for p in &m.points {
        let rel = p.result_file.as_deref().expect("result file");
        let host = std::fs::read(tmp.path().join(rel)).expect("host file");
        let name = p.file_name.as_deref().expect("file name");
        let in_client = d
            .read_file(c, &format!("/results/t/{name}"))
            .await
            .expect("read")
            .expect("present");
        assert_eq!(
            host, in_client,
            "{rel}: host bytes differ from what the client wrote"
        );
        assert!(name.starts_with(&format!("{}_", p.point.stem)) && name.ends_with(".json"));
        let log = std::fs::read_to_string(
            session::run_dir(tmp.path(), &m.run_id).join(p.log_file.as_deref().expect("log")),
        )
        .expect("log");
        assert!(
            log.contains("fake bench:") && log.contains("--max-concurrency"),
            "{log}"
        );
        assert!(
            session::run_dir(tmp.path(), &m.run_id)
                .join("results")
                .join(rel)
                .is_file()
        );
    }
    // The manifest on disk is the final state.
    let back = Manifest::load(&session::run_dir(tmp.path(), &m.run_id)).expect("load");
    assert_eq!(back.status, "finished");
    assert_eq!(back.points, m.points);
    let events = rig.sink.0.lock().expect("events");
    let finished: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::PointFinished { .. }))
        .collect();
    assert_eq!(finished.len(), 3);
    assert!(matches!(
        finished[0],
        Event::PointFinished {
            i: 1,
            n: 3,
            ttft_ms: Some(_),
            ..
        }
    ));
}

#[tokio::test]
async fn all_failed_requests_fail_the_point_and_missing_files_too() {
    let (rig, mut m) = Rig::new().await;
    let (d, c) = (&rig.d, &rig.c);
    m.points.truncate(2);
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    sh(d, c, "echo fail > /tmp/fake-mode").await;
    m.points[1].status = PointStatus::Skipped; // one point at a time
    let end = r.run(&mut m).await.expect("run");
    assert_eq!(end, RunEnd::PointsFailed);
    assert_eq!(m.points[0].status, PointStatus::Failed);
    let reason = m.points[0].reason.as_deref().expect("reason");
    assert!(reason.contains("every request failed (1)"), "{reason}");
    // A bench that exits 0 without writing its file.
    sh(d, c, "echo nofile > /tmp/fake-mode").await;
    m.points[1].status = PointStatus::Pending;
    let end = r.run(&mut m).await.expect("run");
    assert_eq!(end, RunEnd::PointsFailed);
    let reason = m.points[1].reason.as_deref().expect("reason");
    assert!(
        reason.contains("exited with code 0 and wrote no result file"),
        "{reason}"
    );
}

#[tokio::test]
async fn cancel_stops_the_benchmark_in_the_client() {
    let (rig, mut m) = Rig::new().await;
    let (d, c) = (&rig.d, &rig.c);
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    sh(d, c, "echo slow > /tmp/fake-mode").await;
    let cancel = r.cancel.clone();
    let d2 = d.clone();
    let c2 = c.clone();
    tokio::spawn(async move {
        // Cancel once the benchmark is really running in the client.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while runner::bench_processes(&d2, &c2)
            .await
            .map(|p| p.is_empty())
            .unwrap_or(true)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cancel.cancel();
    });
    let end = tokio::time::timeout(Duration::from_secs(40), r.run(&mut m))
        .await
        .expect("stops in time")
        .expect("run");
    assert_eq!(end, RunEnd::Interrupted);
    assert_eq!(m.points[0].status, PointStatus::Pending);
    assert_eq!(m.status, "interrupted");
    let left = runner::bench_processes(d, c).await.expect("ps");
    assert!(
        left.is_empty(),
        "benchmark processes left in the client: {left:?}"
    );
    let all = sh(d, c, "ps -o pid,args").await;
    assert!(!all.contains("sleep 60"), "{all}");
}

#[tokio::test]
async fn a_crash_is_recovered_without_duplicates() {
    let (rig, mut m) = Rig::new().await;
    let (d, c, tmp) = (&rig.d, &rig.c, &rig.tmp);
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    // Point 1 ran fully before the "crash"; point 2 finished in the client but its file
    // never reached the host; point 3 was still running when vbench died.
    m.points[2].status = PointStatus::Skipped;
    m.points[1].status = PointStatus::Skipped;
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    let name2 = m.points[1].point.file_name("20200101_000000");
    sh(d, c, &format!("printf '{{\"num_prompts\":2,\"completed\":2,\"failed\":0,\"total_output_tokens\":64}}' > /results/t/{name2}")).await;
    m.points[1].status = PointStatus::Running;
    m.points[1].file_name = Some(name2.clone());
    sh(d, c, "echo slow > /tmp/fake-mode").await;
    // Start the slow benchmark of point 3 as the dead vbench did (same PID file), then drop
    // the exec: the process keeps running in the client.
    let pid = runner::pidfile(&m.run_id);
    let orphan = ExecSpec {
        argv: vec!["vllm".into(), "bench".into(), "serve".into()],
        pidfile: Some(pid.clone()),
        ..Default::default()
    };
    d.exec_detached(c, &orphan).await.expect("orphan");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !d.tracked_alive(c, &pid).await.expect("alive") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the orphan never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    m.points[2].status = PointStatus::Running;
    m.points[2].file_name = Some(m.points[2].point.file_name("20200101_000001"));
    sh(d, c, "echo ok > /tmp/fake-mode").await;

    r.recover(&mut m).await.expect("recover");
    assert!(
        !d.tracked_alive(c, &pid).await.expect("alive"),
        "the orphan was not stopped"
    );
    assert_eq!(
        m.points[1].status,
        PointStatus::Ok,
        "{:?}",
        m.points[1].reason
    );
    assert_eq!(
        m.points[1].result_file.as_deref(),
        Some(format!("t/{name2}").as_str())
    );
    assert_eq!(m.points[2].status, PointStatus::Pending);
    assert_eq!(r.run(&mut m).await.expect("resume"), RunEnd::Finished);
    assert_eq!(m.count(PointStatus::Ok), 3);
    // Exactly one file per point on the host: nothing ran twice.
    let files = result_files(tmp.path());
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        m.points.iter().map(|p| p.attempts).collect::<Vec<_>>(),
        vec![1, 0, 1]
    );
}

#[tokio::test]
async fn a_dead_server_stops_the_run_resumably() {
    let (rig, mut m) = Rig::new().await;
    let tmp = &rig.tmp;
    // Healthy before point 1 and after it, dead before point 2.
    let server = TestServer {
        healthy_checks: 1,
        calls: AtomicUsize::new(0),
        blip: None,
    };
    let r = rig.runner(&mut m, server).await;
    let end = r.run(&mut m).await.expect("run");
    assert_eq!(
        end,
        RunEnd::ServerFailed("vllm serve is not running".into())
    );
    assert_eq!(m.points[0].status, PointStatus::Ok);
    assert_eq!(m.count(PointStatus::Pending), 2);
    assert_eq!(
        Manifest::load(&session::run_dir(tmp.path(), &m.run_id))
            .expect("load")
            .status,
        "server_failed"
    );
}

#[tokio::test]
async fn a_failed_point_under_a_dying_server_is_not_a_measurement() {
    let (rig, mut m) = Rig::new().await;
    let (d, c) = (&rig.d, &rig.c);
    sh(d, c, "echo fail > /tmp/fake-mode").await;
    // Healthy before the point, dead when the failed point is checked.
    let server = TestServer {
        healthy_checks: 1,
        calls: AtomicUsize::new(0),
        blip: None,
    };
    let r = rig.runner(&mut m, server).await;
    let end = r.run(&mut m).await.expect("run");
    assert!(matches!(end, RunEnd::ServerFailed(_)), "{end:?}");
    assert_eq!(m.points[0].status, PointStatus::Pending);
    assert!(
        m.points[0]
            .reason
            .as_deref()
            .expect("reason")
            .contains("the server died during this point")
    );
    // Run again: the point's new result counts; the one that did not stays named.
    let earlier = m.points[0]
        .result_file
        .clone()
        .expect("its result reached the host");
    sh(d, c, "echo ok > /tmp/fake-mode").await;
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    assert_eq!(m.points[0].status, PointStatus::Ok);
    assert_ne!(m.points[0].result_file.as_ref(), Some(&earlier));
    assert_eq!(m.points[0].superseded, vec![earlier.clone()]);
    assert!(rig.results().join(&earlier).is_file());
}

#[tokio::test]
async fn one_failed_health_probe_is_rechecked_not_fatal() {
    let (rig, mut m) = Rig::new().await;
    // The check before point 2 fails once; the recheck finds the server serving.
    let server = TestServer {
        healthy_checks: usize::MAX,
        calls: AtomicUsize::new(0),
        blip: Some(1),
    };
    let r = rig.runner(&mut m, server).await;
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    assert_eq!(m.count(PointStatus::Ok), 3);
    assert_eq!(
        r.server.calls.load(Ordering::SeqCst),
        4,
        "3 checks + 1 recheck"
    );
}

#[tokio::test]
async fn points_go_through_one_channel_and_a_dead_channel_is_retried_through_an_exec() {
    let (rig, mut m) = Rig::new().await;
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    assert_eq!(m.client_mode.as_deref(), Some("process"));
    // The second point's command kills the channel's agent under it.
    m.points[0].status = PointStatus::Skipped;
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    sh(&rig.d, &rig.c, "echo killagent > /tmp/fake-mode").await;
    m.points[0].status = PointStatus::Pending;
    m.points[1].status = PointStatus::Skipped;
    m.points[2].status = PointStatus::Skipped;
    let r = rig.runner(&mut m, TestServer::healthy()).await;
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    assert_eq!(
        m.points[0].status,
        PointStatus::Ok,
        "{:?}",
        m.points[0].reason
    );
    // The retry's result is the one on the host, byte for byte the client's.
    let name = m.points[0].file_name.clone().expect("file name");
    let host = std::fs::read(rig.results().join("t").join(&name)).expect("host file");
    let client = rig
        .d
        .read_file(&rig.c, &format!("/results/t/{name}"))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(host, client);
    let events = rig.sink.0.lock().expect("events");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Message { text, .. }
            if text.contains("died") && text.contains("runs again through an exec"))),
        "the death was noticed"
    );
}

#[tokio::test]
async fn a_channel_that_cannot_start_falls_back_to_an_exec_per_point() {
    let (rig, mut m) = Rig::new().await;
    // The agent cannot make its scratch directory: it never says hello.
    let r = rig
        .runner_with_env(
            &mut m,
            TestServer::healthy(),
            vec!["TMPDIR=/proc/no-such-dir".into()],
        )
        .await;
    assert_eq!(
        m.client_mode.as_deref(),
        Some("process (an exec per point)")
    );
    assert_eq!(r.run(&mut m).await.expect("run"), RunEnd::Finished);
    assert_eq!(m.count(PointStatus::Ok), 3, "{:#?}", m.points);
    let events = rig.sink.0.lock().expect("events");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Message { text, .. }
            if text.contains("no channel into"))),
        "the fallback is said"
    );
}
