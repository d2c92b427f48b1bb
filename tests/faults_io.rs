//! Storage and output faults, end to end: `vbench run --standin` as a child process against
//! the real Docker Engine, its results directory a tmpfs this test mounts (tests run as root).
//!
//! - the results file system full: hit at a result copy, at a manifest write and at a report
//!   write (exit 7, never 1); what was written before is kept; once space is freed,
//!   `--resume` finishes the run;
//! - the results directory read-only, at start and mid-run (exit 7);
//! - a truncated or corrupt result file written by the client: the point is invalid with a
//!   `file:line:column` reason, and the run goes on (exit 5);
//! - huge output: a `--save-detailed` result of 100 000 requests and a server log of 300 MB,
//!   in bounded memory (vbench's peak RSS asserted);
//! - exposure: the server port is published on 127.0.0.1 only; a results directory in the
//!   client that is a symlink is refused, by the run and by the copy;
//! - resume after SIGKILL of a preset sweep, a configured sweep and a custom sweep from
//!   flags, with `--resume` alone (the run holds its plan), and the same flags again.
//!
//! Each case asserts the exit code, the one message naming the cause and the next step, no
//! result lost, no orphan, and (where resumable) that `--resume` finishes the run.

mod common;
mod faults_support;

use std::time::Duration;

use vbench::sweep::manifest::{Manifest, PointStatus};

use faults_support::*;

/// Four points of one request each, 40 output tokens: with a 100 ms decode step a point
/// runs for seconds, long enough to be hit mid-point.
const FOUR_POINTS: &str = "    input_lens: [128, 256]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 60s\n";
const TWO_POINTS: &str =
    "    input_lens: [128]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 60s\n";
const SLOW: &[(&str, &str)] = &[("VLLM_STANDIN_TPOT_MS", "100")];
const RUN: &[&str] = &["run", "--standin"];
const RESUME: &[&str] = &["run", "--standin", "--resume"];
const LONG: Duration = Duration::from_secs(240);

fn running_point(m: &Manifest) -> usize {
    m.points
        .iter()
        .position(|p| p.status == PointStatus::Running)
        .expect("a running point")
}

/// `dir/file` of point `i` as the manifest names its result.
fn rel_of(m: &Manifest, i: usize) -> String {
    format!(
        "{}/{}",
        m.points[i].point.dir,
        m.points[i].file_name.as_deref().expect("a file name")
    )
}

/// `--resume` finishes the run: exit 0, every point ok, the same run, nothing lost or left.
async fn resume_finishes(d: &vbench::docker::Docker, s: &Setup, id: &str, args: &[&str]) {
    let (st, _, err) = vbench(&s.cfg_path, args, LONG).await;
    assert_eq!(st.code(), Some(0), "the resume: {err}");
    let after = the_run(s.dir());
    assert_eq!(after.run_id, id, "the resume continued the run");
    assert_eq!(after.status, "finished");
    assert_eq!(
        after.count(PointStatus::Ok),
        after.points.len(),
        "{:#?}",
        after.points
    );
    assert_eq!(
        assert_no_result_lost(d, s, &[]).await,
        after.points.len(),
        "one result per point in the client"
    );
    assert!(temp_files(s.dir()).is_empty(), "{:?}", temp_files(s.dir()));
    assert_no_orphan(d, s).await;
}

/// Case 1: the results file system fills up while a point runs: its result cannot be copied
/// (exit 7); resuming while it is still full fails at once (exit 7, nothing changed); once
/// space is freed the resume collects the point's result from the client (no re-run) and
/// finishes.
#[tokio::test(flavor = "multi_thread")]
async fn full_disk_at_a_result_copy_exits_7_keeps_results_and_resume_collects_it_once_freed() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "full",
        &Spec {
            server_env: SLOW,
            sweep: FOUR_POINTS,
            ..Default::default()
        },
    );
    let child = spawn(&s.cfg_path, RUN).await;
    let mid = wait_mid_point(&d, &s, 1, Duration::from_secs(120)).await;
    let hit = running_point(&mid);
    s.results.fill();
    let (st, _, err) = finish(child, LONG).await;
    assert_eq!(st.code(), Some(7), "{err}");
    let m = the_run(s.dir());
    let rel = rel_of(&m, hit);
    let dir = s.dir().display().to_string();
    let line = assert_one_message(
        &err,
        &format!("the results directory {dir} is full"),
        &format!("free space there, then `vbench run --resume {}`", m.run_id),
    );
    assert!(
        line.contains(&rel),
        "names the refused write ({rel}): {line}"
    );
    assert!(line.contains("No space left on device"), "{line}");
    assert!(
        line.contains("every result written before is kept"),
        "{line}"
    );
    // Results written before are kept; the point hit waits, under its known name, in the
    // client.
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert!(m.points[..hit].iter().all(|p| p.status == PointStatus::Ok));
    assert_eq!(m.points[hit].status, PointStatus::Running);
    assert_eq!(assert_no_result_lost(&d, &s, &[&rel]).await, hit + 1);
    assert!(temp_files(s.dir()).is_empty(), "{:?}", temp_files(s.dir()));
    assert_no_orphan(&d, &s).await;

    // Still full: the resume stops at its first write (the lock's record), changing
    // nothing, and says the same.
    s.results.fill();
    let (st, _, err) = vbench(&s.cfg_path, RESUME, LONG).await;
    assert_eq!(st.code(), Some(7), "{err}");
    let line = assert_one_message(
        &err,
        &format!("the results directory {dir} is full"),
        &format!("free space there, then `vbench run --resume {}`", m.run_id),
    );
    assert!(line.contains(".vbench.lock"), "at the lock: {line}");
    let still = the_run(s.dir());
    assert_eq!(
        still.points.iter().map(|p| p.status).collect::<Vec<_>>(),
        m.points.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    assert!(temp_files(s.dir()).is_empty(), "{:?}", temp_files(s.dir()));
    assert_no_orphan(&d, &s).await;

    s.results.empty();
    resume_finishes(&d, &s, &m.run_id, RESUME).await;
    // The point hit was collected from the client, not run again.
    assert_eq!(the_run(s.dir()).points[hit].attempts, 1);
    assert_cleaned_up(&d, s).await;
}

/// Where space runs out after the last point's result.
#[derive(PartialEq)]
enum After {
    /// At the run's final manifest write.
    Manifest,
    /// At the report, once the manifest is written.
    Report,
}

/// Case 1 after the last point: space runs out once the last point's result is on the host,
/// at the manifest write or at the report. Every point is done and kept; once space is freed
/// the resume records the run as finished and writes the report.
async fn full_disk_after_the_last_point(prefix: &str, at: After) {
    images().await;
    let d = common::docker().await;
    let s = setup(
        prefix,
        &Spec {
            server_env: SLOW,
            sweep: TWO_POINTS,
            ..Default::default()
        },
    );
    let child = spawn(&s.cfg_path, RUN).await;
    let mid = wait_mid_point(&d, &s, 1, Duration::from_secs(120)).await;
    assert_eq!(running_point(&mid), 1, "the last point runs");
    // Room for the last result (as large as the first: same shape) with a page to spare, and
    // a page for its journal line; then the manifest (over a page, written as a temp file)
    // does not fit. With room for the manifest twice more (and two pages to spare), the
    // report (tables, charts, HTML: far more) does not.
    let run_dir = vbench::sweep::session::run_dir(s.dir(), &mid.run_id);
    let first = std::fs::metadata(s.dir().join(rel_of(&mid, 0)))
        .expect("first result")
        .len();
    let manifest = std::fs::metadata(Manifest::path(&run_dir))
        .expect("manifest")
        .len();
    assert!(
        manifest > 4096,
        "the manifest needs more than a page: {manifest}"
    );
    let page = 4096;
    let pages = |b: u64| b.div_ceil(page) + 1;
    let room = match at {
        After::Manifest => pages(first) + 1,
        After::Report => pages(first) + 1 + 2 * pages(manifest + 4096) + 2,
    };
    s.results.fill();
    s.results.free(room * page);
    let (st, _, err) = finish(child, LONG).await;
    assert_eq!(st.code(), Some(7), "{err}");
    let m = the_run(s.dir());
    let line = assert_one_message(
        &err,
        &format!("the results directory {} is full", s.dir().display()),
        &format!("free space there, then `vbench run --resume {}`", m.run_id),
    );
    match at {
        After::Manifest => assert!(
            line.contains("write the run manifest") && line.contains("manifest.json"),
            "at the manifest: {line}"
        ),
        After::Report => assert!(line.contains("write the report"), "at the report: {line}"),
    }
    assert_eq!(m.count(PointStatus::Ok), 2, "{:#?}", m.points);
    assert_eq!(assert_no_result_lost(&d, &s, &[]).await, 2);
    assert!(
        !run_dir.join("report.html").exists(),
        "the report was not written"
    );
    assert!(temp_files(s.dir()).is_empty(), "{:?}", temp_files(s.dir()));
    assert_no_orphan(&d, &s).await;
    s.results.empty();
    resume_finishes(&d, &s, &m.run_id, RESUME).await;
    for f in ["summary.md", "summary.csv", "summary.json", "report.html"] {
        assert!(run_dir.join(f).is_file(), "{f} written by the resume");
    }
    // Nothing ran again.
    assert!(the_run(s.dir()).points.iter().all(|p| p.attempts == 1));
    assert_cleaned_up(&d, s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_disk_at_the_final_manifest_write_exits_7_and_resume_records_the_run_finished() {
    full_disk_after_the_last_point("manifest", After::Manifest).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_disk_at_a_report_write_exits_7_keeps_every_point_and_resume_writes_it() {
    full_disk_after_the_last_point("report", After::Report).await;
}

/// Case 2 at start: a read-only results directory stops the run before anything starts
/// (exit 7, no run created); writable again, the run goes.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_results_directory_at_start_exits_7_before_anything_runs() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "rostart",
        &Spec {
            sweep: "    input_lens: [128]\n    output_len: 8\n    concurrency: [1]\n",
            ..Default::default()
        },
    );
    s.results.remount(true);
    let (st, _, err) = vbench(&s.cfg_path, RUN, LONG).await;
    assert_eq!(st.code(), Some(7), "{err}");
    let line = assert_one_message(
        &err,
        &format!("the results directory {} is read-only", s.dir().display()),
        "make it writable (remount it read-write, or set results_dir elsewhere), then run again",
    );
    assert!(line.contains("Read-only file system"), "{line}");
    assert!(!line.contains("--resume"), "nothing to resume: {line}");
    assert!(!s.dir().join("runs").exists(), "no run was created");
    // Nothing was started: no container of the test exists.
    for c in [&s.server, &s.client] {
        assert!(d.inspect_container(c).await.expect("inspect").is_none());
    }
    s.results.remount(false);
    let (st, _, err) = vbench(&s.cfg_path, RUN, LONG).await;
    assert_eq!(st.code(), Some(0), "{err}");
    assert_eq!(assert_no_result_lost(&d, &s, &[]).await, 1);
    assert_no_orphan(&d, &s).await;
    assert_cleaned_up(&d, s).await;
}

/// Case 2 mid-run: the results directory turns read-only while a point runs (exit 7); the
/// results before are kept, and writable again the resume finishes.
#[tokio::test(flavor = "multi_thread")]
async fn a_results_directory_turning_read_only_mid_run_exits_7_and_resume_finishes() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "romid",
        &Spec {
            server_env: SLOW,
            sweep: FOUR_POINTS,
            ..Default::default()
        },
    );
    let child = spawn(&s.cfg_path, RUN).await;
    let mid = wait_mid_point(&d, &s, 1, Duration::from_secs(120)).await;
    let hit = running_point(&mid);
    s.results.bind_read_only();
    let (st, _, err) = finish(child, LONG).await;
    assert_eq!(st.code(), Some(7), "{err}");
    let m = the_run(s.dir());
    let rel = rel_of(&m, hit);
    let line = assert_one_message(
        &err,
        &format!("the results directory {} is read-only", s.dir().display()),
        &format!(
            "make it writable (remount it read-write, or set results_dir elsewhere), then `vbench run --resume {}`",
            m.run_id
        ),
    );
    assert!(
        line.contains(&rel),
        "names the refused write ({rel}): {line}"
    );
    assert!(m.points[..hit].iter().all(|p| p.status == PointStatus::Ok));
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert_eq!(assert_no_result_lost(&d, &s, &[&rel]).await, hit + 1);
    assert_no_orphan(&d, &s).await;
    s.results.unbind();
    resume_finishes(&d, &s, &m.run_id, RESUME).await;
    assert_cleaned_up(&d, s).await;
}

/// Case 7: the client writes a truncated, then a corrupt, result file (exit status 0 all the
/// same): each point is invalid with a `file:line:column` reason, every point still runs,
/// and the run ends with 5.
#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_or_corrupt_result_file_fails_its_point_with_file_line_column_and_the_run_goes_on()
 {
    images().await;
    let d = common::docker().await;
    for fault in ["truncate", "corrupt"] {
        let s = setup(
            &format!("bad{}", &fault[..3]),
            &Spec {
                client_env: &[("VLLM_STANDIN_BENCH_RESULT", fault)],
                sweep: "    input_lens: [128]\n    output_len: 8\n    concurrency: [1, 2]\n",
                ..Default::default()
            },
        );
        let (st, _, err) = vbench(&s.cfg_path, RUN, LONG).await;
        assert_eq!(st.code(), Some(5), "{fault}: {err}");
        let m = the_run(s.dir());
        assert_eq!(m.status, "points_failed");
        assert_eq!(
            m.count(PointStatus::Failed),
            2,
            "every point ran: {:#?}",
            m.points
        );
        for p in &m.points {
            assert_eq!(p.attempts, 1, "{}", p.point.id);
            let rel = p.result_file.as_deref().expect("the bad file is kept");
            let text = std::fs::read_to_string(s.dir().join(rel)).expect("read");
            let reason = p.reason.as_deref().unwrap_or_default();
            let (line, col) = if fault == "truncate" {
                (1, text.len())
            } else {
                let e = serde_json::from_str::<serde_json::Value>(&text).expect_err("corrupt");
                (e.line(), e.column())
            };
            assert!(
                reason.starts_with(&format!("{rel}:{line}:{col}: invalid JSON")),
                "{fault}: {reason}"
            );
            assert!(
                err.contains(&format!("{rel}:{line}:{col}")),
                "{fault}: the reason is shown:\n{err}"
            );
        }
        assert_eq!(assert_no_result_lost(&d, &s, &[]).await, 2);
        assert_no_orphan(&d, &s).await;
        assert_cleaned_up(&d, s).await;
    }
}

/// What vbench may use at most while a 100 000-request detailed result (about 11 MB on
/// disk) is collected and judged, after a start-up that logged 300 MB. Measured: 168 MiB
/// (the result parsed into JSON values, twice: judged, then reported; the log read 4 MB at a
/// time); the bound leaves half as much again for allocator and build differences. Holding
/// the server log as it was before (the whole log as text, then as lines) went over 1 GB,
/// four times the bound.
const PEAK_RSS_BOUND: u64 = 256 << 20;

/// Case 10: huge output is streamed to disk and memory stays bounded.
#[tokio::test(flavor = "multi_thread")]
async fn huge_output_a_100k_request_detailed_result_and_a_300_mb_server_log_in_bounded_memory() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "huge",
        &Spec {
            server_env: &[
                ("VLLM_STANDIN_TTFT_MS", "0"),
                ("VLLM_STANDIN_TPOT_MS", "0"),
                ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "0"),
                ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "0"),
                ("VLLM_STANDIN_LOG_SPAM_MB", "300"),
            ],
            client_args: &["--save-detailed"],
            sweep: "    input_lens: [8]\n    output_len: 1\n    concurrency: [256]\n    num_prompts: 100000\n    point_timeout: 900s\n",
            size: Some("1g"),
            ..Default::default()
        },
    );
    let child = spawn(&s.cfg_path, RUN).await;
    let (st, _, err, peak) = tokio::task::spawn_blocking(move || {
        child.finish_with_peak(Duration::from_secs(900), PEAK_RSS_BOUND)
    })
    .await
    .expect("join");
    assert_eq!(st.code(), Some(0), "{err}");
    let m = the_run(s.dir());
    assert_eq!(m.count(PointStatus::Ok), 1, "{:#?}", m.points);
    let rel = m.points[0].result_file.clone().expect("result");
    let size = std::fs::metadata(s.dir().join(&rel)).expect("result").len();
    assert!(
        size > 5 << 20,
        "a detailed result of 100 000 requests: {size} bytes"
    );
    assert_eq!(
        m.points[0].metrics.as_ref().map(|x| x.completed),
        Some(100_000)
    );
    eprintln!(
        "vbench peak RSS: {} MiB (result {} MiB)",
        peak >> 20,
        size >> 20
    );
    assert!(peak > 0, "the peak was sampled");
    assert!(
        peak < PEAK_RSS_BOUND,
        "vbench's peak RSS {} MiB is over {} MiB",
        peak >> 20,
        PEAK_RSS_BOUND >> 20
    );
    assert_eq!(assert_no_result_lost(&d, &s, &[]).await, 1);
    assert_no_orphan(&d, &s).await;
    // `down` keeps the stopped server's whole log (over 300 MB) on the host, streamed.
    let child = spawn(&s.cfg_path, &["down"]).await;
    let (st, _, err, peak) =
        tokio::task::spawn_blocking(move || child.finish_with_peak(LONG, PEAK_RSS_BOUND))
            .await
            .expect("join");
    assert_eq!(st.code(), Some(0), "{err}");
    eprintln!("vbench down peak RSS: {} MiB", peak >> 20);
    let kept: Vec<_> = std::fs::read_dir(s.dir().join("logs"))
        .expect("logs")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-final.log"))
        .collect();
    assert_eq!(kept.len(), 1, "the final log is kept");
    let len = kept[0].metadata().expect("stat").len();
    assert!(len > 300 << 20, "the whole log: {len} bytes");
    assert!(peak < PEAK_RSS_BOUND, "{} MiB", peak >> 20);
    assert_cleaned_up(&d, s).await;
}

/// Case 12: the server's port is published on 127.0.0.1 only, as the engine reports it; a
/// results directory in the client that is a symlink pointing elsewhere is refused (exit 3,
/// before any point runs), and copying it out is refused too.
#[tokio::test(flavor = "multi_thread")]
async fn the_port_is_published_on_loopback_only_and_a_symlinked_results_dir_is_refused() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "expose",
        &Spec {
            sweep: "    input_lens: [128]\n    output_len: 8\n    concurrency: [1]\n",
            ..Default::default()
        },
    );
    let (st, _, err) = vbench(&s.cfg_path, RUN, LONG).await;
    assert_eq!(st.code(), Some(0), "{err}");
    let engine = bollard::Docker::connect_with_local_defaults().expect("engine");
    let info = engine
        .inspect_container(
            &s.server,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .expect("inspect the server");
    let bindings = info
        .host_config
        .and_then(|h| h.port_bindings)
        .expect("port bindings");
    let live = info
        .network_settings
        .and_then(|n| n.ports)
        .expect("published ports");
    assert!(!bindings.is_empty() && !live.is_empty());
    for (port, b) in bindings.iter().chain(live.iter()) {
        for b in b.iter().flatten() {
            assert_eq!(
                b.host_ip.as_deref(),
                Some("127.0.0.1"),
                "{port} published on {:?}",
                b.host_ip
            );
        }
    }
    // The client's results directory becomes a link to another directory.
    let link = vbench::docker::ExecSpec::argv([
        "sh",
        "-c",
        "mkdir -p /elsewhere && rm -rf /root/bench_results && ln -s /elsewhere /root/bench_results",
    ]);
    let (o, _, e) = d.exec_capture(&s.client, &link).await.expect("ln");
    assert_eq!(o.exit_code, Some(0), "{e}");
    let runs_before = std::fs::read_dir(s.dir().join("runs"))
        .expect("runs")
        .count();
    let (st, _, err) = vbench(&s.cfg_path, RUN, LONG).await;
    assert_eq!(st.code(), Some(3), "{err}");
    assert_one_message(
        &err,
        "/root/bench_results",
        "it is a symlink to /elsewhere, and vbench copies results only out of a real directory",
    );
    let m = the_run(s.dir());
    assert_eq!(
        std::fs::read_dir(s.dir().join("runs"))
            .expect("runs")
            .count(),
        runs_before + 1
    );
    assert!(
        m.points.iter().all(|p| p.attempts == 0),
        "no point ran: {:#?}",
        m.points
    );
    let (o, out, _) = d
        .exec_capture(
            &s.client,
            &vbench::docker::ExecSpec::argv(["ls", "-A", "/elsewhere"]),
        )
        .await
        .expect("ls");
    assert_eq!(o.exit_code, Some(0));
    assert!(
        out.trim().is_empty(),
        "nothing was written through the link: {out}"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = d
        .copy_out(&s.client, CLIENT_RESULTS, tmp.path())
        .await
        .expect_err("a symlinked results directory is not copied");
    assert!(e.to_string().contains("symlink"), "{e}");
    assert_eq!(std::fs::read_dir(tmp.path()).expect("ls").count(), 0);
    assert_no_orphan(&d, &s).await;
    assert_cleaned_up(&d, s).await;
}

/// SIGKILL vbench once a point after `ok` finished points runs; returns the run then.
async fn kill_mid_point(
    d: &vbench::docker::Docker,
    s: &Setup,
    args: &[&str],
    ok: usize,
) -> Manifest {
    let child = spawn(&s.cfg_path, args).await;
    let m = wait_mid_point(d, s, ok, Duration::from_secs(120)).await;
    tokio::task::spawn_blocking(move || child.kill())
        .await
        .expect("join");
    m
}

/// Resume after SIGKILL: `run` (with `sweep_args`) is killed mid-point, then `--resume`
/// alone finishes it.
async fn resume_after_sigkill(prefix: &str, sweep_args: &[&str], sweeps: &[&str]) {
    images().await;
    let d = common::docker().await;
    let s = setup(
        prefix,
        &Spec {
            server_env: SLOW,
            sweep: TWO_POINTS,
            ..Default::default()
        },
    );
    let mut args = RUN.to_vec();
    args.extend_from_slice(sweep_args);
    let m = kill_mid_point(&d, &s, &args, 1).await;
    assert_eq!(m.sweeps, sweeps);
    resume_finishes(&d, &s, &m.run_id, RESUME).await;
    assert_cleaned_up(&d, s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preset_sweep_killed_mid_point_is_finished_by_resume_alone() {
    resume_after_sigkill("prekill", &["demo"], &["demo"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_sweep_killed_mid_point_is_finished_by_resume_alone() {
    resume_after_sigkill("cfgkill", &[], &["tt"]).await;
}

/// The custom sweep resume: a sweep from flags, SIGKILLed, is resumed by `--resume RUN`
/// alone; killed again, by `--resume RUN` with the same flags; other flags are refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_custom_sweep_from_flags_killed_mid_point_resumes_with_the_run_alone_or_the_same_flags() {
    images().await;
    let d = common::docker().await;
    let s = setup(
        "cuskill",
        &Spec {
            server_env: SLOW,
            sweep: TWO_POINTS,
            ..Default::default()
        },
    );
    let flags = [
        "--input-len",
        "16,32",
        "--concurrency",
        "1,2,4",
        "--output-len",
        "20",
    ];
    let mut args = RUN.to_vec();
    args.extend_from_slice(&flags);
    let m = kill_mid_point(&d, &s, &args, 1).await;
    assert_eq!(m.sweeps, ["custom"]);
    assert_eq!(m.points.len(), 6);
    let id = m.run_id.clone();
    // Other flags would change what the run measures: refused before anything starts.
    let (st, _, err) = vbench(
        &s.cfg_path,
        &[
            "run",
            "--standin",
            "--resume",
            &id,
            "--input-len",
            "16",
            "--concurrency",
            "1",
            "--output-len",
            "20",
        ],
        LONG,
    )
    .await;
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("differ from them"), "{err}");
    // The run alone: killed again once it got further.
    let done = m.count(PointStatus::Ok);
    let m2 = kill_mid_point(&d, &s, &["run", "--standin", "--resume", &id], done + 1).await;
    assert_eq!(m2.run_id, id);
    // The same flags again: accepted, and the run finishes.
    let mut again = vec!["run", "--standin", "--resume", id.as_str()];
    again.extend_from_slice(&flags);
    resume_finishes(&d, &s, &id, &again).await;
    assert_cleaned_up(&d, s).await;
}
