//! `vbench run` end to end, as a user runs it: the binary as a child process, the real Docker
//! Engine, the CPU stand-in images (server and client), a unique configuration per test
//! (container, network and port names; results in a temp dir), everything labelled
//! `vbench.test` and removed even when an assert fails.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vbench::events::Collector;
use vbench::sweep::manifest::{self, Manifest, PointStatus};
use vbench::sweep::runner;

use common::{Cleanup, unique};

/// A test's stand-in set-up: config file, results directory, names to clean up.
struct Setup {
    cfg_path: PathBuf,
    results: tempfile::TempDir,
    client: String,
    _cleanup: Cleanup,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `server_env`: extra stand-in knobs (`VLLM_STANDIN_*`). `sweep`: the YAML of sweep `tt`.
fn setup(prefix: &str, server_env: &[(&str, &str)], sweep: &str) -> Setup {
    let results = tempfile::tempdir().expect("tempdir");
    let (srv, cli, net) = (
        unique(&format!("{prefix}-srv")),
        unique(&format!("{prefix}-cli")),
        unique(&format!("{prefix}-net")),
    );
    let cleanup = Cleanup::new();
    cleanup.container(&srv);
    cleanup.container(&cli);
    cleanup.network(&net);
    let mut env = String::new();
    if !server_env
        .iter()
        .any(|(k, _)| *k == "VLLM_STANDIN_LOAD_SECONDS")
    {
        env.push_str("    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\n");
    }
    for (k, v) in server_env {
        env.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let yaml = format!(
        "server:\n  container: {srv}\n  publish_port: {port}\n  startup_timeout: 60s\n  env:\n{env}client:\n  container: {cli}\nnetwork: {net}\nresults_dir: {res}\nsweeps:\n  tt:\n{sweep}run:\n  sweeps: [tt]\n",
        port = free_port(),
        res = results.path().display(),
    );
    let cfg_path = results.path().join("vbench.yaml");
    std::fs::write(&cfg_path, yaml).expect("write config");
    Setup {
        cfg_path,
        results,
        client: cli,
        _cleanup: cleanup,
    }
}

/// Two input lengths × two levels, 16 output tokens: four quick points.
const SMALL: &str = "    input_lens: [128, 256]\n    output_len: 16\n    concurrency: [1, 2]\n    point_timeout: 60s\n";

/// A child vbench, killed (by its own pid) if the test ends while it still runs.
struct Vbench(Child);

impl Drop for Vbench {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Vbench {
    fn start(s: &Setup, args: &[&str]) -> Vbench {
        Vbench::with_config(&s.cfg_path, args)
    }

    fn with_config(cfg: &Path, args: &[&str]) -> Vbench {
        let child = Command::new(env!("CARGO_BIN_EXE_vbench"))
            .arg("-c")
            .arg(cfg)
            .args(["--output", "plain"])
            .args(args)
            .env("VBENCH_LABELS", "vbench.test=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vbench");
        Vbench(child)
    }

    /// Wait (with a deadline) and return (status, stdout, stderr).
    fn finish(mut self, within: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.0.try_wait().expect("wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "vbench did not finish within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, out, err)
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        let rc = unsafe { libc::kill(self.0.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }
}

fn run_via(s: &Setup, args: &[&str], within: Duration) -> (ExitStatus, String, String) {
    Vbench::start(s, args).finish(within)
}

fn the_run(results: &Path) -> Manifest {
    let id = manifest::find_run(results, None).expect("a run");
    Manifest::load(&manifest::runs_dir(results).join(id)).expect("manifest")
}

/// Poll the run's manifest until `pred` holds (deadline `within`).
fn wait_manifest(results: &Path, within: Duration, pred: impl Fn(&Manifest) -> bool) -> Manifest {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(id) = manifest::find_run(results, None)
            && let Ok(m) = Manifest::load(&manifest::runs_dir(results).join(id))
            && pred(&m)
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the run never reached the expected state within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn host_files(results: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(results.join("tt"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn images() {
    let d = common::docker().await;
    vbench::standin::ensure_images(&d, "latest", &Collector::default())
        .await
        .expect("stand-in images");
}

#[test]
fn production_dry_run_lists_the_40_points_with_the_manual_file_names() {
    let s = setup("dry", &[], SMALL);
    let (st, out, err) = run_via(
        &s,
        &["run", "--dry-run", "production"],
        Duration::from_secs(30),
    );
    assert!(st.success(), "{err}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("| production/input_"))
        .collect();
    assert_eq!(rows.len(), 40, "{out}");
    for (i, k) in ["1K", "2K", "4K", "8K", "10K", "32K", "64K", "96K"]
        .iter()
        .enumerate()
    {
        for (j, c) in [1, 2, 5, 10, 20].iter().enumerate() {
            let row = rows[i * 5 + j];
            let stem = format!("production/input_{k}_n{c}_");
            let at = row
                .find(&stem)
                .unwrap_or_else(|| panic!("{stem} missing in {row}"));
            // `<stem><YYYYmmdd_HHMMSS>.json`
            let ts = &row[at + stem.len()..at + stem.len() + 20];
            assert!(
                ts.ends_with(".json")
                    && ts.as_bytes()[8] == b'_'
                    && ts[..8].bytes().all(|b| b.is_ascii_digit()),
                "{row}"
            );
        }
    }
    assert!(out.contains("40 point(s), 40 to run, 0 skipped"), "{out}");
    assert!(out.contains("not checked"), "{out}");
    // With a configured context, the points that do not fit are skipped with the reason.
    let (st, out, _) = run_via(
        &s,
        &["run", "--dry-run", "--max-model-len", "32768", "production"],
        Duration::from_secs(30),
    );
    assert!(st.success());
    assert!(out.contains("40 point(s), 25 to run, 15 skipped"), "{out}");
    assert!(out.contains("skipped: input 65536 + output 500 = 66036 tokens exceed the configured max_model_len 32768"), "{out}");
    // `--json`: the plan as one JSON object.
    let (st, out, err) = run_via(
        &s,
        &["--json", "run", "--dry-run", "production"],
        Duration::from_secs(30),
    );
    assert!(st.success(), "{err}");
    let plan: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(plan["event"], "plan");
    let points = plan["points"].as_array().expect("points");
    assert_eq!(points.len(), 40);
    assert_eq!(points[0]["id"], "production/input_1K_n1");
    assert!(
        points[0]["file"]
            .as_str()
            .expect("file")
            .starts_with("production/input_1K_n1_")
    );
    assert_eq!(points[0]["estimate_source"], "heuristic");
    // A custom sweep with no level (no 1-2-5 step between 3 and 4) is a usage error.
    let (st, _, err) = run_via(
        &s,
        &[
            "run",
            "--dry-run",
            "--input-len",
            "1K",
            "--output-len",
            "1",
            "--min-concurrency",
            "3",
            "--max-concurrency",
            "4",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(st.code(), Some(2), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_exits_0_with_result_files_equal_to_the_clients_and_json_events() {
    images().await;
    let sweep = "    input_lens: [128, 256, 4K]\n    output_len: 16\n    concurrency: [1, 2]\n    point_timeout: 60s\n";
    let s = setup(
        "ok",
        &[("VLLM_STANDIN_DERIVED_MAX_MODEL_LEN", "2048")],
        sweep,
    );
    let (st, out, err) = tokio::task::spawn_blocking({
        let args = ["--json", "run", "--standin"];
        let s = (s.cfg_path.clone(),);
        move || Vbench::with_config(&s.0, &args).finish(Duration::from_secs(120))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    // Every stdout line is a JSON event.
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.len(), events.len());
    assert!(
        kinds.contains(&"run_started") && kinds.contains(&"run_finished"),
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "point_finished").count(), 4);
    // Versioned events; the summary table is an event too, with every row's metrics.
    assert!(events.iter().all(|e| e["schema_version"] == 1), "{out}");
    let summary = events
        .iter()
        .find(|e| e["event"] == "summary")
        .expect("a summary event");
    assert!(
        summary["rows"][0]["metrics"]["output_throughput"].is_number(),
        "{summary}"
    );
    // 4K + 16 does not fit max_model_len 2048: skipped with the reason.
    let skipped: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "point_skipped")
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("max_model_len 2048")
    );

    let m = the_run(s.results.path());
    assert_eq!(m.status, "finished");
    assert_eq!(m.count(PointStatus::Ok), 4);
    let d = common::docker().await;
    for p in m.points.iter().filter(|p| p.status == PointStatus::Ok) {
        let rel = p.result_file.as_deref().expect("result file");
        let host = std::fs::read(s.results.path().join(rel)).expect("host copy");
        let client = d
            .read_file(&s.client, &format!("/root/bench_results/{rel}"))
            .await
            .expect("read")
            .expect("in the client");
        assert_eq!(host, client, "{rel}");
        let v: serde_json::Value = serde_json::from_slice(&host).expect("json");
        assert_eq!(v["vbench_point"], p.point.id.as_str());
    }
    assert_eq!(host_files(s.results.path()).len(), 4);
    // The run's report files (crate::report) are in its directory.
    let run_dir = manifest::runs_dir(s.results.path()).join(&m.run_id);
    for f in [
        "summary.md",
        "summary.csv",
        "summary.json",
        "manifest.json",
        "report.html",
        "charts/tt_ttft.svg",
        "charts/tt_tradeoff.svg",
        "charts/tt_heatmap_ttft.svg",
    ] {
        assert!(
            run_dir.join(f).is_file(),
            "{f} missing in {}",
            run_dir.display()
        );
    }
    // The stand-in's nvidia-smi answers the run's one GPU sampler: a sample for every point,
    // and each point's telemetry (GPU and the server's /metrics) in its record.
    assert_eq!(m.gpu_samples.len(), 4);
    assert_eq!(
        m.gpu_samples[0]["during_point"],
        m.points[0].point.id.as_str()
    );
    for p in m.points.iter().filter(|p| p.status == PointStatus::Ok) {
        let t = p.telemetry.as_ref().expect("telemetry");
        assert!(t.contains_key("gpu0.util_pct"), "{t:?}");
        assert!(t.contains_key("vllm.running"), "{t:?}");
    }
    // ...and the reports show it: a table in summary.md and report.html, every series in
    // summary.json.
    let md = std::fs::read_to_string(run_dir.join("summary.md")).expect("summary.md");
    assert!(md.contains("## Telemetry per point"), "{md}");
    assert!(
        md.contains("GPU util % (mean)") && md.contains("running (max)"),
        "{md}"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    assert!(html.contains("<section id=\"telemetry\">"));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("summary.json")).expect("summary.json"),
    )
    .expect("json");
    let first_ok = summary["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["status"] == "ok")
        .expect("an ok row");
    assert!(
        first_ok["telemetry"]["gpu0.util_pct"]["max"].is_number(),
        "{first_ok}"
    );
    assert!(
        m.client_mode.as_deref() == Some("process"),
        "{:?}",
        m.client_mode
    );
    // A dry run next to the live server checks against its max_model_len and estimates from
    // this run's measured times.
    let (st, out, err) = run_via(
        &s,
        &["run", "--standin", "--dry-run"],
        Duration::from_secs(60),
    );
    assert!(st.success(), "{err}");
    assert!(
        out.contains("checked against the server's max_model_len 2048"),
        "{out}"
    );
    assert!(
        out.contains("4 from earlier runs, 0 by the heuristic"),
        "{out}"
    );
    // `vbench report` re-renders the run from its manifest.
    let (st, out, err) = run_via(&s, &["report"], Duration::from_secs(30));
    assert!(st.success(), "{err}");
    assert!(
        out.contains(&m.run_id) && out.contains("4 ok, 0 failed, 2 skipped"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_then_resumed_runs_exactly_the_missing_points() {
    images().await;
    let s = setup("kill", &[("VLLM_STANDIN_TPOT_MS", "100")], SMALL);
    let results = s.results.path().to_path_buf();
    let child = Vbench::start(&s, &["run", "--standin"]);
    let killed_at = tokio::task::spawn_blocking(move || {
        let m = wait_manifest(&results, Duration::from_secs(90), |m| {
            m.count(PointStatus::Ok) >= 1 && m.count(PointStatus::Running) == 1
        });
        child.signal(libc::SIGKILL);
        let _ = child.finish(Duration::from_secs(10));
        m.count(PointStatus::Ok)
    })
    .await
    .expect("join");
    let before = the_run(s.results.path());
    assert_eq!(
        before.count(PointStatus::Running),
        1,
        "SIGKILL leaves the point running in the manifest"
    );
    let cfg = s.cfg_path.clone();
    let (st, _, err) = tokio::task::spawn_blocking(move || {
        Vbench::with_config(&cfg, &["run", "--standin", "--resume"])
            .finish(Duration::from_secs(120))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(0), "{err}");
    let after = the_run(s.results.path());
    assert_eq!(after.run_id, before.run_id, "resume continued the same run");
    assert_eq!(after.count(PointStatus::Ok), 4);
    // The points done before the kill were not run again; each point has one file.
    for (b, a) in before.points.iter().zip(&after.points) {
        if b.status == PointStatus::Ok {
            assert_eq!(a.attempts, b.attempts, "{} ran again", a.point.id);
            assert_eq!(a.result_file, b.result_file);
        }
    }
    assert!(killed_at >= 1);
    assert_eq!(
        host_files(s.results.path()).len(),
        4,
        "{:?}",
        host_files(s.results.path())
    );
    // Resuming a finished run starts nothing and succeeds.
    let (st, _, err) = run_via(
        &s,
        &["run", "--standin", "--resume"],
        Duration::from_secs(30),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        err.contains("nothing to resume") && !err.contains("up: starting"),
        "{err}"
    );
    assert_eq!(the_run(s.results.path()).points, after.points);
}

/// Start a run, send `sig` while its first point runs: exit 130, the point pending again,
/// no benchmark process left in the client.
async fn signal_mid_point(prefix: &str, sig: i32) {
    images().await;
    let s = setup(prefix, &[("VLLM_STANDIN_TPOT_MS", "200")], SMALL);
    let results = s.results.path().to_path_buf();
    let child = Vbench::start(&s, &["run", "--standin"]);
    let (st, _, err) = tokio::task::spawn_blocking(move || {
        wait_manifest(&results, Duration::from_secs(90), |m| {
            m.count(PointStatus::Running) == 1
        });
        std::thread::sleep(Duration::from_millis(500));
        child.signal(sig);
        child.finish(Duration::from_secs(60))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(130), "{err}");
    let m = the_run(s.results.path());
    assert_eq!(m.status, "interrupted");
    assert_eq!(m.count(PointStatus::Running), 0);
    assert_eq!(m.points[0].status, PointStatus::Pending);
    let d = common::docker().await;
    let left = runner::bench_processes(&d, &s.client).await.expect("ps");
    assert!(
        left.is_empty(),
        "benchmark processes left in the client: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_the_benchmark_in_the_client_and_exits_130() {
    signal_mid_point("int", libc::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_benchmark_in_the_client_and_exits_130() {
    signal_mid_point("term", libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_concurrent_run_is_refused_naming_the_first() {
    images().await;
    // One point of 100 tokens at 200 ms each: the first run is inside it for ~20 s, so both
    // refusals below happen while its benchmark runs.
    let long = "    input_lens: [128]\n    output_len: 100\n    concurrency: [1]\n    point_timeout: 120s\n";
    let s = setup("lock", &[("VLLM_STANDIN_TPOT_MS", "200")], long);
    let results = s.results.path().to_path_buf();
    let first = Vbench::start(&s, &["run", "--standin"]);
    let m = {
        let r = results.clone();
        tokio::task::spawn_blocking(move || {
            wait_manifest(&r, Duration::from_secs(90), |m| {
                m.count(PointStatus::Running) == 1
            })
        })
        .await
        .expect("join")
    };
    let cfg = s.cfg_path.clone();
    let (st, _, err) = tokio::task::spawn_blocking(move || {
        Vbench::with_config(&cfg, &["run", "--standin"]).finish(Duration::from_secs(60))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(6), "{err}");
    assert!(
        err.contains(&m.run_id) && err.contains(&first.0.id().to_string()),
        "{err}"
    );
    // Another results directory (another lock file) but the same containers: the benchmark
    // running in the client refuses it.
    let other = tempfile::tempdir().expect("tempdir");
    let yaml = std::fs::read_to_string(&s.cfg_path)
        .expect("config")
        .replace(
            &format!("results_dir: {}", s.results.path().display()),
            &format!("results_dir: {}", other.path().display()),
        );
    let cfg2 = other.path().join("vbench.yaml");
    std::fs::write(&cfg2, yaml).expect("config");
    let (st, _, err) = tokio::task::spawn_blocking(move || {
        Vbench::with_config(&cfg2, &["run", "--standin"]).finish(Duration::from_secs(60))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!("a benchmark is already running in {}", s.client)),
        "{err}"
    );
    assert!(
        manifest::list_runs(other.path()).is_empty(),
        "a refused run leaves no run behind"
    );
    // The long point is sampled while it runs (the stand-in's nvidia-smi answers the run's
    // sampler once a second): a few seconds of it are kept when it is interrupted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.signal(libc::SIGINT);
    let (st, _, _) = tokio::task::spawn_blocking(move || first.finish(Duration::from_secs(60)))
        .await
        .expect("join");
    assert_eq!(st.code(), Some(130));
    let m = the_run(s.results.path());
    assert_eq!(m.gpu_samples.len(), 1, "{:?}", m.gpu_samples);
    assert_eq!(
        m.gpu_samples[0]["during_point"],
        m.points[0].point.id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_crash_mid_sweep_leaves_a_resumable_run_and_exit_4() {
    images().await;
    // Requests the server completes: 1 = `up`'s readiness test request, 2 = point 1, 3–4 =
    // point 2; then it exits. Point 3 must not be run against a dead server.
    let s = setup("crash", &[("VLLM_STANDIN_EXIT_AFTER_REQUESTS", "4")], SMALL);
    let (st, _, err) = tokio::task::spawn_blocking({
        let cfg = s.cfg_path.clone();
        move || Vbench::with_config(&cfg, &["run", "--standin"]).finish(Duration::from_secs(120))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(4), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let m = the_run(s.results.path());
    assert_eq!(m.status, "server_failed");
    assert_eq!(m.points[0].status, PointStatus::Ok);
    // Point 2 is ok, or (if the exit cut its last response) pending with the reason; the
    // points after it are pending: nothing is marked failed or ok after the death.
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert_eq!(m.points[2].status, PointStatus::Pending);
    assert_eq!(m.points[3].status, PointStatus::Pending);
    assert_eq!(m.points[3].attempts, 0);
    if m.points[1].status == PointStatus::Pending {
        assert!(
            m.points[1]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("server died")
        );
    }
    // Resuming under a changed server configuration is refused before anything starts (the
    // sweep's own definition is the run's, kept in its manifest).
    let yaml = std::fs::read_to_string(&s.cfg_path).expect("config");
    std::fs::write(
        &s.cfg_path,
        yaml.replace(
            "VLLM_STANDIN_LOAD_SECONDS: \"0.5\"",
            "VLLM_STANDIN_LOAD_SECONDS: \"0.6\"",
        ),
    )
    .expect("config");
    let (st, _, err) = run_via(
        &s,
        &["run", "--standin", "--resume"],
        Duration::from_secs(30),
    );
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(
        err.contains("configuration changed since run") && err.contains(&m.run_id),
        "{err}"
    );
    assert!(!err.contains("up: starting"), "{err}");
    assert_eq!(
        the_run(s.results.path()),
        m,
        "a refused resume changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_point_whose_requests_all_fail_is_reported_failed() {
    images().await;
    let sweep =
        "    input_lens: [128]\n    output_len: 8\n    concurrency: [2]\n    point_timeout: 60s\n";
    // The stand-in fails request k when floor(0.75 k) > floor(0.75 (k - 1)): request 1 (`up`'s
    // readiness test) succeeds, requests 2 and 3 (the point's two) both fail. With a rate of
    // 1 the server would never pass readiness.
    let s = setup("err", &[("VLLM_STANDIN_ERROR_RATE", "0.75")], sweep);
    let (st, out, err) = tokio::task::spawn_blocking({
        let cfg = s.cfg_path.clone();
        move || Vbench::with_config(&cfg, &["run", "--standin"]).finish(Duration::from_secs(120))
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(5), "stdout:\n{out}\nstderr:\n{err}");
    let m = the_run(s.results.path());
    assert_eq!(m.points[0].status, PointStatus::Failed);
    assert!(
        m.points[0]
            .reason
            .as_deref()
            .expect("reason")
            .contains("every request failed (2)"),
        "{:?}",
        m.points[0].reason
    );
    assert!(
        out.contains("failed") && err.contains("failed"),
        "{out}\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_server_brings_a_dead_server_back_and_finishes() {
    images().await;
    // The server exits after 4 completed requests (see the crash test); every restarted one
    // does the same, so this sweep needs at least one restart.
    let s = setup(
        "restart",
        &[("VLLM_STANDIN_EXIT_AFTER_REQUESTS", "4")],
        SMALL,
    );
    let (st, _, err) = tokio::task::spawn_blocking({
        let cfg = s.cfg_path.clone();
        move || {
            Vbench::with_config(&cfg, &["run", "--standin", "--restart-server"])
                .finish(Duration::from_secs(180))
        }
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(err.contains("restarting it (--restart-server)"), "{err}");
    let m = the_run(s.results.path());
    assert_eq!(m.status, "finished");
    assert_eq!(m.count(PointStatus::Ok), 4, "{:#?}", m.points);
    assert_eq!(host_files(s.results.path()).len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_the_server_loads_exits_130_at_once() {
    images().await;
    let s = setup("intup", &[("VLLM_STANDIN_LOAD_SECONDS", "60")], SMALL);
    let child = Vbench::start(&s, &["run", "--standin"]);
    let (st, _, err, took) = tokio::task::spawn_blocking(move || {
        // Long enough for `up` to have launched `vllm serve` and be waiting for it.
        std::thread::sleep(Duration::from_secs(3));
        let t = Instant::now();
        child.signal(libc::SIGINT);
        let (st, out, err) = child.finish(Duration::from_secs(30));
        (st, out, err, t.elapsed())
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted while bringing the server up"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
