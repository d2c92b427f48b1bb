//! `vbench report` on result files people already have: the real fixtures of several vLLM
//! eras and files made with the real vLLM 0.33 client (an `--append-result` file with two
//! runs, a partial run, an all-failed run, a silently clamped run), imported with exact
//! values and every bad point flagged with its reason; the manual scripts' layout; unreadable
//! files listed with file:line:column without stopping the rest; the report written outside
//! the imported directory; `vbench compare`'s three outcomes on imports.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vbench::report::import::import;
use vbench::report::{MEAN_TTFT, OUT_TPUT, Row};

fn fixtures(rel: &str) -> PathBuf {
    common::fixture(rel)
}

fn find<'a>(rows: &'a [Row], file_part: &str, repeat: u32) -> &'a Row {
    rows.iter()
        .find(|r| {
            r.repeat == repeat
                && r.file
                    .as_ref()
                    .is_some_and(|f| f.to_string_lossy().contains(file_part))
        })
        .unwrap_or_else(|| panic!("no row from {file_part} (repeat {repeat})"))
}

#[test]
fn real_fixtures_of_every_era_import_with_exact_values() {
    let got = import(&[
        fixtures("results"),
        fixtures("vllm-0.33/real_client_random.json"),
    ]);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.rows.len(), 5);

    let v025 = find(&got.rows, "bench_serve_v0.25.1", 1);
    assert_eq!(v025.status, "ok", "{:?}", v025.reason);
    // Point from the file's own fields: 256 input tokens / 8 = 32, 128 / 8 = 16, C = 2.
    assert_eq!(
        (
            v025.input_len,
            v025.output_len,
            v025.concurrency,
            v025.num_prompts
        ),
        (32, 16, 2, 8)
    );
    assert_eq!(v025.sweep, "results");
    assert_eq!(v025.metric(MEAN_TTFT), Some(215.53594200008774));
    assert_eq!(v025.metric(OUT_TPUT), Some(82.89297074037474));

    let failed = find(&got.rows, "all_requests_failed", 1);
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.reason.as_deref(), Some("every request failed (8)"));

    // Early 2025: no `completed` at all — it cannot be trusted, and says why.
    let partial_keys = find(&got.rows, "qps_inf", 1);
    assert_eq!(partial_keys.status, "failed");
    assert!(
        partial_keys
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("has no `completed` count")),
        "{:?}",
        partial_keys.reason
    );
    assert_eq!(partial_keys.metric(MEAN_TTFT), Some(13479.216601336375));

    let lambda = find(&got.rows, "LambdaLabs", 1);
    assert_eq!(lambda.status, "ok", "{:?}", lambda.reason);
    assert_eq!(
        (lambda.input_len, lambda.output_len, lambda.concurrency),
        (159, 248, 10)
    );
    assert_eq!(lambda.metric(OUT_TPUT), Some(388.1163171610316));

    let real = find(&got.rows, "real_client_random", 1);
    assert_eq!(real.status, "ok");
    assert_eq!(
        (real.input_len, real.output_len, real.concurrency),
        (128, 32, 4)
    );
    assert_eq!(real.metric(MEAN_TTFT), Some(48.36707575003629));
    assert_eq!(real.metric(OUT_TPUT), Some(613.1510270540452));
}

#[test]
fn files_made_with_the_real_client_are_flagged_with_their_reasons() {
    let got = import(&[fixtures("real-client-made")]);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    // Two runs appended to one file are two rows: the first at C = 1, the second at C = 2.
    let (a1, a2) = (
        find(&got.rows, "append-two-runs", 1),
        find(&got.rows, "append-two-runs", 2),
    );
    assert_eq!((a1.status.as_str(), a2.status.as_str()), ("ok", "ok"));
    assert_eq!((a1.concurrency, a2.concurrency), (1, 2));
    assert_eq!((a1.input_len, a1.output_len, a1.num_prompts), (64, 8, 4));

    let partial = find(&got.rows, "partial-errors", 1);
    assert_eq!(partial.status, "failed");
    assert_eq!(
        partial.reason.as_deref(),
        Some("only 6 of 8 requests completed (2 failed): Internal Server Error")
    );

    let all = find(&got.rows, "all-failed", 1);
    assert_eq!(all.status, "failed");
    assert_eq!(
        all.reason.as_deref(),
        Some("every request failed (4): Internal Server Error")
    );

    // With vbench's metadata the file says 32 tokens were asked for: 16 each is a clamp.
    let clamped = find(&got.rows, "clamped-with-vbench-metadata", 1);
    assert_eq!(
        (
            clamped.sweep.as_str(),
            clamped.input_len,
            clamped.output_len,
            clamped.concurrency
        ),
        ("clamped", 64, 32, 2)
    );
    assert_eq!(clamped.status, "failed");
    assert!(
        clamped
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("outputs shortened: 64 of 128 tokens")),
        "{:?}",
        clamped.reason
    );
    // Without it, the file cannot tell a clamp from a request for 16 tokens.
    let plain = find(&got.rows, "clamped-max-model-len", 1);
    assert_eq!((plain.output_len, plain.status.as_str()), (16, "ok"));
}

/// A manual-scripts results directory: `production/input_1K_n1_<ts>.json`,
/// `scaling/scale_n<N>_<ts>.json`, plus one damaged file.
fn manual_layout(root: &Path) {
    let result = |n: u64, out: u64, input: u64| {
        format!(
            r#"{{"date": "20260101-020000", "backend": "vllm", "model_id": "openai/gpt-oss-120b", "num_prompts": {n}, "request_rate": "inf", "max_concurrency": null, "duration": 2.0, "completed": {n}, "failed": 0, "total_input_tokens": {}, "total_output_tokens": {}, "request_throughput": {}, "output_throughput": {}, "mean_ttft_ms": 120.5, "mean_tpot_ms": 9.25}}"#,
            n * input,
            n * out,
            n as f64 / 2.0,
            (n * out) as f64 / 2.0
        )
    };
    let prod = root.join("production");
    let scal = root.join("scaling");
    std::fs::create_dir_all(&prod).expect("mkdir");
    std::fs::create_dir_all(&scal).expect("mkdir");
    for (len, k) in [(1024, "1K"), (4096, "4K")] {
        for n in [1, 2] {
            std::fs::write(
                prod.join(format!("input_{k}_n{n}_20260101_020000.json")),
                result(n, 500, len),
            )
            .expect("write");
        }
    }
    for n in [1, 5] {
        std::fs::write(
            scal.join(format!("scale_n{n}_20260101_030000.json")),
            result(n, 128, 1024),
        )
        .expect("write");
    }
    std::fs::write(
        prod.join("input_8K_n1_20260101_020000.json"),
        "{\"completed\": 1,\n  \"failed\": \"none\"}",
    )
    .expect("write");
}

fn vbench(cfg: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(cfg)
        .args(["--output", "plain"])
        .args(args)
        .output()
        .expect("run vbench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_manual_layout_imports_and_the_report_stays_out_of_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let manual = tmp.path().join("bench_results");
    manual_layout(&manual);
    let before = walk(&manual);
    let results = tmp.path().join("vbench-results");
    let cfg = tmp.path().join("vbench.yaml");
    std::fs::write(&cfg, format!("results_dir: {}\n", results.display())).expect("config");

    let (code, out, err) = vbench(&cfg, &["report", manual.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Every point from its file name: production (output 500) and scaling (1K in, 128 out).
    assert!(out.contains("6 ok"), "{out}");
    assert!(out.contains("imported"), "{out}");
    // The damaged file is listed with its position, and did not stop the others.
    let damaged = manual.join("production/input_8K_n1_20260101_020000.json");
    assert!(
        err.contains(&format!("{}:2:", damaged.display())) && err.contains("failed"),
        "{err}"
    );
    // Nothing was written into the imported directory.
    assert_eq!(walk(&manual), before);
    let reports: Vec<PathBuf> = std::fs::read_dir(results.join("reports"))
        .expect("reports dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let summary = std::fs::read_to_string(reports[0].join("summary.csv")).expect("summary.csv");
    assert!(
        summary.contains("production,input_4K_n2,4096,500,2,2,ok"),
        "{summary}"
    );
    assert!(
        summary.contains("scaling,scale_n5,1024,128,5,5,ok"),
        "{summary}"
    );
    // With --out-dir pointing into it, it may.
    let inside = manual.join("report");
    let (code, _, err) = vbench(
        &cfg,
        &[
            "report",
            manual.join("scaling").to_str().expect("utf-8"),
            "--out-dir",
            inside.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(inside.join("summary.md").is_file());
}

fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).expect("read")));
        }
    }
    out.sort();
    out
}

#[test]
fn compare_exits_pass_regressed_or_cannot_judge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("vbench.yaml");
    std::fs::write(
        &cfg,
        format!("results_dir: {}\n", tmp.path().join("r").display()),
    )
    .expect("config");
    let night = |name: &str, tput: f64, completed: u64| {
        let dir = tmp.path().join(name).join("scaling");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for n in [1u64, 5] {
            std::fs::write(
                dir.join(format!("scale_n{n}_20260101_030000.json")),
                format!(
                    r#"{{"num_prompts": {n}, "completed": {}, "failed": {}, "total_output_tokens": {}, "output_throughput": {}, "mean_ttft_ms": 100.0}}"#,
                    completed.min(n),
                    n - completed.min(n),
                    completed.min(n) * 128,
                    tput * n as f64
                ),
            )
            .expect("write");
        }
        tmp.path().join(name).display().to_string()
    };
    let base = night("base", 100.0, 5);
    let same = night("same", 98.0, 5);
    let slow = night("slow", 70.0, 5);
    let broken = night("broken", 70.0, 3);

    let (code, out, err) = vbench(&cfg, &["compare", &base, &same]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("verdict: pass"), "{out}");

    let (code, out, err) = vbench(&cfg, &["compare", &base, &slow, "--threshold", "5%"]);
    assert_eq!(code, 8, "{out}{err}");
    assert!(
        out.contains("regressed: scaling input 1K output 128 conc 1: output_throughput")
            && out.contains("regressed: scaling input 1K output 128 conc 5: output_throughput"),
        "{out}"
    );

    // Slower *and* some requests failed: an outage is not read as a regression.
    let (code, out, err) = vbench(&cfg, &["compare", &base, &broken]);
    assert_eq!(code, 9, "{out}{err}");
    assert!(out.contains("verdict: cannot judge"), "{out}");
    assert!(out.contains("conc 5 is failed in"), "{out}");

    let (code, _, err) = vbench(&cfg, &["compare", &base, "/no/such/run"]);
    assert_eq!(code, 2, "{err}");
}
