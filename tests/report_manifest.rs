//! Rows built from a sweep manifest: result files re-read, manifest metrics as fallback,
//! statuses mapped, then a full run report written from them.

mod common;

use serde_json::json;
use vbench::report::{MEAN_E2EL, MEAN_TTFT, OUT_TPUT, ReportInput, RunMeta, write_run_report};
use vbench::sweep::Manifest;
use vbench::sweep::rows::rows_from_manifest;

fn point(
    stem: &str,
    input: u64,
    conc: u64,
    status: &str,
    result_file: Option<&str>,
    metrics: serde_json::Value,
) -> serde_json::Value {
    json!({
        "id": format!("production/{stem}"), "sweep": "production", "input_len": input, "output_len": 32,
        "concurrency": conc, "num_prompts": 8, "request_rate": "inf", "warmups": 0, "dir": "production",
        "stem": stem, "timeout_s": 600, "skip": null,
        "status": status, "reason": if status == "failed" { json!("every request failed (8)") } else { json!(null) },
        "file_name": result_file.map(|f| f.trim_start_matches("production/")), "result_file": result_file,
        "log_file": null, "started": null, "finished": null, "elapsed_s": null, "attempts": 1, "metrics": metrics
    })
}

#[test]
fn rows_from_manifest_reads_files_and_falls_back_to_metrics() {
    let results = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(results.path().join("production")).unwrap();
    let real = std::fs::read(common::fixture("vllm-0.33/real_client_random.json")).unwrap();
    std::fs::write(
        results
            .path()
            .join("production/input_128_n4_20261128_122602.json"),
        &real,
    )
    .unwrap();

    let manifest = json!({
        "schema_version": 1, "run_id": "20261128_122600-abcdef01", "created": "x", "updated": "y",
        "status": "interrupted", "config_hash": "h", "config": {}, "sweeps": ["production"], "standin": true,
        "server": null, "gpu_samples": [],
        "points": [
            point("input_128_n4", 128, 4, "ok", Some("production/input_128_n4_20261128_122602.json"), json!(null)),
            point("input_256_n4", 256, 4, "ok", Some("production/gone.json"), json!({
                "completed": 8, "failed": 0, "total_output_tokens": 256, "duration_s": 0.5,
                "mean_ttft_ms": 12.5, "mean_tpot_ms": 3.0, "mean_e2el_ms": null,
                "request_throughput": 16.0, "output_throughput": 512.0})),
            point("input_512_n4", 512, 4, "failed", None, json!(null)),
            point("input_1K_n4", 1024, 4, "running", None, json!(null)),
        ]
    });
    let m: Manifest = serde_json::from_value(manifest).expect("manifest deserialises");
    let rows = rows_from_manifest(&m, results.path());
    assert_eq!(rows.len(), 4);

    let r = &rows[0];
    assert_eq!(
        (
            r.sweep.as_str(),
            r.name.as_str(),
            r.input_len,
            r.output_len,
            r.concurrency,
            r.num_prompts
        ),
        ("production", "input_128_n4", 128, 32, 4, 8)
    );
    let parsed = vbench::results::parse(&real, "x").unwrap();
    assert_eq!(r.metric(MEAN_TTFT), parsed.mean_ttft_ms());
    assert_eq!(
        r.metric(MEAN_E2EL),
        parsed.mean_e2el_ms(),
        "fallback from latencies needs the real file"
    );
    assert!(r.file.as_ref().unwrap().is_file());

    let r = &rows[1];
    assert_eq!(r.metric(MEAN_TTFT), Some(12.5));
    assert_eq!(r.metric(OUT_TPUT), Some(512.0));
    assert_eq!(r.metric(MEAN_E2EL), None);
    assert_eq!(r.result.as_ref().unwrap().completed(), Some(8));

    assert_eq!(
        (rows[2].status.as_str(), rows[2].reason.as_deref()),
        ("failed", Some("every request failed (8)"))
    );
    assert!(rows[2].result.is_none());
    assert_eq!(
        rows[3].status, "interrupted",
        "running point of an ended run"
    );

    let run_dir = results.path().join("runs").join(&m.run_id);
    // As `pipeline::finish` does: a stand-in run's charts say so.
    let meta = RunMeta {
        title: m.run_id.clone(),
        standin: m.standin,
        ..RunMeta::default()
    };
    let written = write_run_report(
        &run_dir,
        &ReportInput {
            meta: &meta,
            rows: &rows,
            baseline: None,
            verdict: None,
        },
    )
    .unwrap()
    .paths;
    let ttft = written
        .iter()
        .find(|p| p.ends_with("charts/production_ttft.svg"))
        .expect("TTFT chart");
    let svg = std::fs::read_to_string(ttft).unwrap();
    assert!(svg.contains(">CPU stand-in</text>"));
    // The point whose file is gone has only the manifest's means: marked, not dropped.
    assert!(
        svg.contains("<title>input 256, concurrency 4: the result has no median_ttft_ms</title>"),
        "{svg}"
    );
    let md = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(
        md.contains("4 points: 2 ok, 1 failed, 1 interrupted."),
        "{md}"
    );
    // report.html lists the failed and the interrupted point with their reasons.
    let page = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    let failures = page
        .split("<section id=\"failures\">")
        .nth(1)
        .expect("a failures section");
    assert!(failures.contains("every request failed (8)"), "{failures}");
    assert!(failures.contains(">interrupted</span>"), "{failures}");
}
