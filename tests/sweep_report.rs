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
    for f in ["summary.md", "summary.csv", "summary.json", "comparison.md"] {
        assert!(dir.join(f).is_file(), "{f} not written");
    }
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
