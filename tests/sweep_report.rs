//! `vbench report` from manifests alone (no Docker): the latest run by default, a comparison
//! against an explicit run or the previous comparable one, report files written, and unknown
//! runs refused with exit code 2.

use std::path::Path;
use std::process::Command;

use vbench::config::Config;
use vbench::sweep::manifest::{Metrics, PointStatus, runs_dir};
use vbench::sweep::plan::{self, ContextLimit};
use vbench::sweep::{presets, session};

/// A finished demo run with every point ok at `ttft` ms and `rps` req/s.
fn write_run(results: &Path, id: &str, ttft: f64, rps: f64) {
    let cfg = Config {
        results_dir: results.to_path_buf(),
        ..Default::default()
    };
    let sweeps = vec![("demo".to_string(), presets::preset("demo").expect("demo"))];
    let p = plan::build(&cfg, &sweeps, ContextLimit::Unknown).expect("plan");
    let mut m = session::new_manifest(id, &cfg, &sweeps, &p, None, true);
    for r in &mut m.points {
        r.status = PointStatus::Ok;
        r.metrics = Some(Metrics {
            completed: r.point.num_prompts,
            total_output_tokens: r.point.num_prompts * r.point.output_len,
            mean_ttft_ms: Some(ttft),
            mean_tpot_ms: Some(8.0),
            request_throughput: Some(rps),
            ..Default::default()
        });
    }
    m.status = "finished".into();
    let dir = runs_dir(results).join(id);
    std::fs::create_dir_all(&dir).expect("mkdir");
    m.save(&dir).expect("save");
}

fn report(results: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let cfg = results.join("vbench.yaml");
    std::fs::write(&cfg, format!("results_dir: {}\n", results.display())).expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(&cfg)
        .arg("report")
        .args(args)
        .output()
        .expect("run vbench report");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_renders_the_latest_run_and_compares() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_run(tmp.path(), "20260101_000000-aaaaaaaa", 100.0, 10.0);
    write_run(tmp.path(), "20260102_000000-bbbbbbbb", 100.0, 5.0);
    // Default: the latest run, compared with the previous run of the same configuration.
    let (code, out, err) = report(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("run 20260102_000000-bbbbbbbb: finished; 6 ok"),
        "{out}"
    );
    assert!(
        out.contains("compared with run 20260101_000000-aaaaaaaa"),
        "{out}"
    );
    assert!(out.contains("regression"), "{out}");
    let dir = runs_dir(tmp.path()).join("20260102_000000-bbbbbbbb");
    for f in [
        "summary.md",
        "summary.csv",
        "summary.json",
        "report.html",
        "comparison.md",
    ] {
        assert!(dir.join(f).is_file(), "{f} not written");
    }
    // The page knows the run from its manifest: a stand-in run, compared with the other.
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("CPU stand-in — a rehearsal, not a GPU measurement"));
    assert!(page.contains("<h1>vbench report: 20260102_000000-bbbbbbbb</h1>"));
    assert!(page.contains("Comparison with <span class=\"mono\">20260101_000000-aaaaaaaa</span>"));
    // An explicit run and baseline.
    let (code, out, _) = report(
        tmp.path(),
        &[
            "20260101_000000-aaaaaaaa",
            "--against",
            "20260102_000000-bbbbbbbb",
        ],
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains("run 20260101_000000-aaaaaaaa")
            && out.contains("compared with run 20260102_000000-bbbbbbbb"),
        "{out}"
    );
    // The oldest run has no earlier one to compare with.
    let (_, out, _) = report(tmp.path(), &["20260101_000000-aaaaaaaa"]);
    assert!(!out.contains("compared with"), "{out}");
    // Unknown runs are usage errors naming the known ones.
    let (code, _, err) = report(tmp.path(), &["nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("20260101_000000-aaaaaaaa"), "{err}");
}

#[test]
fn report_without_runs_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = report(tmp.path(), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no runs"), "{err}");
}

/// The same report in-process: the engine's typed events carry the summary rows and every
/// regression (the halved request rate), no text parsing needed.
#[test]
fn report_events_carry_rows_and_regressions() {
    use vbench::events::{Collector, Event};
    let tmp = tempfile::tempdir().expect("tempdir");
    write_run(tmp.path(), "20260101_000000-aaaaaaaa", 100.0, 10.0);
    write_run(tmp.path(), "20260102_000000-bbbbbbbb", 100.0, 5.0);
    let cfg = Config {
        results_dir: tmp.path().to_path_buf(),
        ..Default::default()
    };
    let sink = Collector::default();
    let req = vbench::archive::report::ReportRequest {
        threshold: 0.10,
        ..Default::default()
    };
    let verdict = vbench::archive::report::report(&cfg.results_dir, &req, &sink).expect("report");
    assert!(
        verdict.is_none(),
        "no --against: a comparison, not a verdict"
    );
    let events = sink.0.into_inner().expect("events");
    let summary = events
        .iter()
        .find_map(|e| match e {
            Event::Summary(s) => Some(s),
            _ => None,
        })
        .expect("a summary event");
    assert_eq!(
        (summary.ok, summary.failed, summary.rows.0.len()),
        (6, 0, 6)
    );
    assert!(summary.rows.0.iter().all(|r| r.status == "ok"));
    let json = serde_json::to_value(&summary.rows).expect("rows serialise");
    assert_eq!(json[0]["metrics"]["request_throughput"], 5.0, "{json}");
    let cmp = events
        .iter()
        .find_map(|e| match e {
            Event::Comparison(c) => Some(c),
            _ => None,
        })
        .expect("a comparison event");
    assert_eq!(cmp.baseline_run_id, "20260101_000000-aaaaaaaa");
    assert_eq!(cmp.matched, 6);
    let req: Vec<_> = cmp
        .regressions
        .iter()
        .filter(|r| r.metric.as_deref() == Some("request_throughput"))
        .collect();
    assert_eq!(req.len(), 6, "{:?}", cmp.regressions);
    assert!(req.iter().all(|r| r.ratio == Some(0.5)));
}
