//! `vbench run` over a `matrix:` of server combinations, end to end as a user runs it: the
//! binary as a child process, the real Docker Engine, the CPU stand-in (whose TPOT grows with
//! the sequences running, capped by `--max-num-seqs`), a unique configuration per test,
//! everything labelled `vbench.test` and removed even when an assert fails.

mod common;
mod matrix_support;

use std::path::Path;
use std::time::Duration;

use vbench::matrix::record::{self, CombinationStatus, MatrixRecord};
use vbench::sweep::lock::{Holder, RunLock};
use vbench::sweep::manifest::{self, Manifest, PointStatus};

use matrix_support::{Vbench, events, images, run, setup, wait_for};

/// The only matrix of a results directory.
fn the_matrix(results: &Path) -> MatrixRecord {
    let id = record::find(results, None).expect("a matrix");
    MatrixRecord::load(&record::matrix_dir(results, &id)).expect("matrix record")
}

/// The runs of combination `name`.
fn runs_of(results: &Path, name: &str) -> Vec<String> {
    manifest::list_runs(&results.join(name))
}

fn manifest_of(results: &Path, name: &str, run_id: &str) -> Manifest {
    Manifest::load(&manifest::runs_dir(&results.join(name)).join(run_id)).expect("manifest")
}

/// Median of the mean TPOT over the `ok` points of a manifest at concurrency `c`.
fn tpot_at(m: &Manifest, c: u64) -> f64 {
    let mut v: Vec<f64> = m
        .points
        .iter()
        .filter(|p| p.point.concurrency == c && p.status == PointStatus::Ok)
        .filter_map(|p| p.metrics.as_ref()?.mean_tpot_ms)
        .collect();
    assert!(!v.is_empty(), "no TPOT at C={c}");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The text of every `<text>` element of an SVG (the legend's labels among them).
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

fn json_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// The stand-in's step: `TPOT_MS + TPOT_PER_SEQ_MS × running`; with equal TTFT and TPOT bases
/// and no prefill cost a prefill step costs what a decode step does, so TPOT at concurrency C
/// is 5 + 5 × min(C, max-num-seqs) ms.
const KNOBS: [(&str, &str); 4] = [
    ("VLLM_STANDIN_TTFT_MS", "5"),
    ("VLLM_STANDIN_TPOT_MS", "5"),
    ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "0"),
    ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "5"),
];

#[tokio::test(flavor = "multi_thread")]
async fn two_max_num_seqs_combinations_run_the_demo_sweep_and_a_failing_one_is_skipped() {
    images().await;
    let matrix = "matrix:\n  - name: seqs-1\n    extra_args: [\"--max-num-seqs\", \"1\"]\n  - name: broken\n    env:\n      VLLM_STANDIN_FAIL_AT_START: kv-cache\n  - name: seqs-4\n    extra_args: [\"--max-num-seqs\", \"4\"]\n";
    let s = setup("mx", &KNOBS, matrix);
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "run", "--standin", "--repeats", "2", "demo"],
        Duration::from_secs(300),
    )
    .await;
    // One combination could not start: the matrix says so with its own code.
    assert_eq!(st.code(), Some(24), "stdout:\n{out}\nstderr:\n{err}");
    let ev = events(&out);
    let finished: Vec<(&str, &str)> = ev
        .iter()
        .filter(|e| e["event"] == "combination_finished")
        .map(|e| {
            (
                e["name"].as_str().expect("name"),
                e["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        finished,
        [("seqs-1", "ok"), ("broken", "failed"), ("seqs-4", "ok")],
        "{out}"
    );
    let m = the_matrix(s.results());
    assert_eq!(m.status, "combinations_failed");
    let broken = &m.combinations[1];
    assert_eq!(broken.status, CombinationStatus::Failed);
    let cause = broken.cause.as_deref().expect("a cause");
    assert!(cause.contains("KV cache"), "{cause}");
    assert!(broken.run_id.is_none() && runs_of(s.results(), "broken").is_empty());

    // Each combination ran the demo sweep twice (repeats apply per combination), in its own
    // results directory with the manual layout inside, with its own serve arguments.
    let mut tpot = Vec::new();
    for (i, name, seqs) in [(0, "seqs-1", "1"), (2, "seqs-4", "4")] {
        let c = &m.combinations[i];
        assert_eq!(c.status, CombinationStatus::Ok);
        let runs = runs_of(s.results(), name);
        assert_eq!(runs, [c.run_id.clone().expect("run id")]);
        let man = manifest_of(s.results(), name, &runs[0]);
        assert_eq!(man.count(PointStatus::Ok), 12, "{name}");
        assert_eq!(man.points.iter().filter(|p| p.point.repeat == 2).count(), 6);
        assert_eq!(json_files(&s.results().join(name).join("demo")), 12);
        let args = &man.server.as_ref().expect("server").serve_args;
        let at = args
            .iter()
            .position(|a| a == "--max-num-seqs")
            .expect("--max-num-seqs in the serve argv");
        assert_eq!(args[at + 1], seqs, "{args:?}");
        tpot.push((tpot_at(&man, 1), tpot_at(&man, 4)));
    }
    // The lines differ: with 4 sequences running, TPOT is 5 + 5×4 = 25 ms; capped at one it
    // stays 10 ms.
    let ((one_c1, one_c4), (four_c1, four_c4)) = (tpot[0], tpot[1]);
    assert!(
        four_c4 > 1.5 * one_c4 && four_c4 > 1.5 * four_c1,
        "TPOT (C=1, C=4): seqs-1 {one_c1:.1}, {one_c4:.1}; seqs-4 {four_c1:.1}, {four_c4:.1}"
    );

    // The report across combinations: one table, charts with one line per combination.
    let dir = record::matrix_dir(s.results(), &m.matrix_id);
    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    for want in [
        "| seqs-1 | demo | 128 | 32 | 4 |",
        "| seqs-4 | demo | 256 | 32 | 1 |",
        "| broken |",
    ] {
        assert!(md.contains(want), "{want} missing in\n{md}");
    }
    let csv = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv");
    assert_eq!(csv.lines().count(), 1 + 24, "{csv}");
    for chart in ["demo_input_128_tpot.svg", "demo_input_256_throughput.svg"] {
        let svg = std::fs::read_to_string(dir.join("charts").join(chart)).expect(chart);
        let texts = svg_texts(&svg);
        assert!(
            texts.iter().any(|t| t == "seqs-1")
                && texts.iter().any(|t| t == "seqs-4")
                && !texts.iter().any(|t| t == "broken"),
            "{chart}: one line per combination that ran: {texts:?}"
        );
    }
    let summary = ev
        .iter()
        .find(|e| e["event"] == "matrix_summary")
        .expect("a matrix_summary event");
    assert_eq!(
        summary["combinations"][2]["rows"].as_array().map(Vec::len),
        Some(12)
    );
    assert!(summary["combinations"][0]["rows"][0]["metrics"]["mean_tpot_ms"].is_number());
}

/// A second tag of the stand-in server image, as a distinct image (a label of its own), so a
/// combination can switch images; labelled `vbench.test` and removed by the guard.
async fn second_server_image(s: &matrix_support::Setup) -> String {
    use vbench::docker::image::{ContextEntry, context_tar};
    let tag = common::unique("mx-img");
    let reference = format!("vbench/vllm-standin-server:{tag}");
    s.cleanup.image(&reference);
    let dockerfile =
        "FROM vbench/vllm-standin-server:latest\nLABEL vbench.matrix.test=second-image\n";
    let ctx = context_tar(&[ContextEntry::File {
        path: "Dockerfile".into(),
        data: dockerfile.as_bytes().to_vec(),
        mode: 0o644,
    }])
    .expect("context");
    common::docker()
        .await
        .build_image(&reference, ctx, &common::test_labels())
        .await
        .expect("build the second image");
    reference
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_combination_switches_the_server_containers_image() {
    images().await;
    let s = setup("mximg", &KNOBS, "");
    let other = second_server_image(&s).await;
    let yaml = std::fs::read_to_string(&s.cfg_path).expect("config");
    let yaml = format!(
        "{yaml}sweeps:\n  tiny:\n    input_lens: [64]\n    output_len: 8\n    concurrency: [1, 2]\n    point_timeout: 60s\nmatrix:\n  - name: img-a\n    image: vbench/vllm-standin-server:latest\n  - name: img-b\n    image: {other}\n"
    );
    std::fs::write(&s.cfg_path, yaml).expect("config");
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "run", "--standin", "--threshold", "50%", "tiny"],
        Duration::from_secs(240),
    )
    .await;
    // Both ran; their verdict (a regression is a timing matter on a busy host) decides.
    assert!(
        matches!(st.code(), Some(0) | Some(8)),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let m = the_matrix(s.results());
    let ids: Vec<String> = m
        .combinations
        .iter()
        .map(|c| {
            assert_eq!(c.status, CombinationStatus::Ok, "{c:?}");
            c.run_id.clone().expect("run id")
        })
        .collect();
    let a = manifest_of(s.results(), "img-a", &ids[0])
        .server
        .expect("server");
    let b = manifest_of(s.results(), "img-b", &ids[1])
        .server
        .expect("server");
    assert_eq!(a.image, "vbench/vllm-standin-server:latest");
    assert_eq!(b.image, other);
    assert_ne!(
        a.image_digest, b.image_digest,
        "the server ran another image"
    );
    let ev = events(&out);
    assert!(
        ev.iter().any(|e| e["event"] == "message"
            && e["text"].as_str().is_some_and(
                |t| t.contains("recreating the server container") && t.contains(&other)
            )),
        "{out}"
    );
    let d = common::docker().await;
    let now = d
        .inspect_container(&s.server)
        .await
        .expect("inspect")
        .expect("the server container");
    assert_eq!(now.image, other);
    // The verdict between the two image combinations, the earlier one as the baseline.
    let v = ev
        .iter()
        .find(|e| e["event"] == "verdict")
        .expect("a verdict event");
    assert!(
        v["baseline"]
            .as_str()
            .is_some_and(|t| t.starts_with("img-a"))
            && v["current"]
                .as_str()
                .is_some_and(|t| t.starts_with("img-b")),
        "{v}"
    );
    assert_ne!(v["outcome"], "cannot_judge", "{v}");
    let dir = record::matrix_dir(s.results(), &m.matrix_id);
    assert!(dir.join("verdict.md").is_file());
}

#[test]
fn dry_run_lists_combinations_by_points_and_starts_nothing() {
    let matrix = "matrix:\n  - name: seqs-1\n    extra_args: [\"--max-num-seqs\", \"1\"]\n";
    let s = setup("mxdry", &KNOBS, matrix);
    let (st, out, err) = Vbench::start(
        &s.cfg_path,
        &[
            "run",
            "--standin",
            "--dry-run",
            "--matrix-set",
            "seqs-8:extra_args=--max-num-seqs 8",
            "demo",
        ],
    )
    .finish(Duration::from_secs(30));
    assert!(st.success(), "{err}");
    assert!(
        out.contains("combination seqs-1 (extra_args=--max-num-seqs 1)")
            && out.contains("combination seqs-8 (extra_args=--max-num-seqs 8)"),
        "{out}"
    );
    assert!(
        out.contains("2 combination(s) x points = 12 point(s); estimated"),
        "{out}"
    );
    assert_eq!(
        out.matches("| demo/input_256_out32_n4 ").count(),
        2,
        "{out}"
    );
    let (st, out, err) = Vbench::start(
        &s.cfg_path,
        &[
            "--json",
            "run",
            "--standin",
            "--dry-run",
            "--matrix-set",
            "seqs-8:extra_args=[--max-num-seqs, \"8\"]",
            "demo",
        ],
    )
    .finish(Duration::from_secs(30));
    assert!(st.success(), "{err}");
    let plan: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(plan["event"], "matrix_plan");
    assert_eq!(plan["points"], 12);
    let c = &plan["combinations"][1];
    assert_eq!(c["name"], "seqs-8");
    assert!(c["results_dir"].as_str().expect("dir").ends_with("/seqs-8"));
    assert_eq!(c["plan"]["points"].as_array().map(Vec::len), Some(6));
    assert!(plan["total_estimate_s"].as_f64().expect("estimate") > 0.0);
    // Nothing was started or written.
    let entries: Vec<String> = std::fs::read_dir(s.results())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["vbench.yaml"]);
    // --no-matrix: one plain run's plan.
    let (st, out, err) = Vbench::start(
        &s.cfg_path,
        &["run", "--standin", "--dry-run", "--no-matrix", "demo"],
    )
    .finish(Duration::from_secs(30));
    assert!(st.success(), "{err}");
    assert!(
        out.contains("6 point(s), 6 to run") && !out.contains("combination"),
        "{out}"
    );
    // A --matrix-set that does not parse is a usage error naming the flag.
    let (st, _, err) = Vbench::start(
        &s.cfg_path,
        &["run", "--dry-run", "--matrix-set", "seqs-8:bogus=1"],
    )
    .finish(Duration::from_secs(30));
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(
        err.contains("--matrix-set") && err.contains("bogus"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_and_resume_work_across_combinations() {
    images().await;
    let rest = "sweeps:\n  tt:\n    input_lens: [64]\n    output_len: 16\n    concurrency: [1, 2]\n    warmups: 1\n    repeats: 2\n    point_timeout: 60s\nrun:\n  sweeps: [tt]\nmatrix:\n  - name: c-one\n    extra_args: [\"--max-num-seqs\", \"2\"]\n  - name: c-two\n    extra_args: [\"--max-num-seqs\", \"4\"]\n";
    let s = setup("mxres", &[("VLLM_STANDIN_TPOT_MS", "60")], rest);
    let results = s.results().to_path_buf();

    // Someone holds the results directory: the matrix refuses before starting anything.
    {
        let _held = RunLock::acquire(&results, &Holder::me("held-by-the-test")).expect("lock");
        let (st, _, err) = run(&s.cfg_path, &["run", "--standin"], Duration::from_secs(60)).await;
        assert_eq!(st.code(), Some(6), "{err}");
        assert!(err.contains("held-by-the-test"), "{err}");
        assert!(record::list(&results).is_empty());
    }

    // Killed in the second combination, after one of its points.
    let cfg = s.cfg_path.clone();
    let (c_two_run, other) = tokio::task::spawn_blocking(move || {
        let child = Vbench::start(&cfg, &["run", "--standin"]);
        let id = wait_for(Duration::from_secs(180), "c-two under way", || {
            let id = manifest::list_runs(&results.join("c-two")).pop()?;
            let m = Manifest::load(&manifest::runs_dir(&results.join("c-two")).join(&id)).ok()?;
            (m.count(PointStatus::Ok) >= 1 && m.count(PointStatus::Running) == 1).then_some(id)
        });
        // While the matrix runs, another run on the same results directory is refused.
        let other = Vbench::start(&cfg, &["run", "--standin"]).finish(Duration::from_secs(60));
        child.kill();
        let _ = child.finish(Duration::from_secs(10));
        (id, other)
    })
    .await
    .expect("join");
    assert_eq!(other.0.code(), Some(6), "{}", other.2);
    assert!(other.2.contains("matrix"), "{}", other.2);
    let before = the_matrix(s.results());
    assert_eq!(before.combinations[0].status, CombinationStatus::Ok);
    assert_eq!(before.combinations[1].status, CombinationStatus::Running);
    assert_eq!(
        before.combinations[1].run_id.as_deref(),
        Some(c_two_run.as_str()),
        "the run id is recorded as soon as the run starts"
    );
    let c_one_run = before.combinations[0].run_id.clone().expect("c-one run");
    let c_one_before = manifest_of(s.results(), "c-one", &c_one_run);

    let (st, out, err) = run(
        &s.cfg_path,
        &["run", "--standin", "--resume"],
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("combination 2/2 c-two: resuming"), "{err}");
    assert!(!err.contains("combination 1/2 c-one: starting"), "{err}");
    let after = the_matrix(s.results());
    assert_eq!(after.matrix_id, before.matrix_id);
    assert_eq!(after.status, "finished");
    // The done combination was left alone; the killed one resumed its own run.
    assert_eq!(
        runs_of(s.results(), "c-one"),
        std::slice::from_ref(&c_one_run)
    );
    assert_eq!(
        manifest_of(s.results(), "c-one", &c_one_run).updated,
        c_one_before.updated
    );
    assert_eq!(
        runs_of(s.results(), "c-two"),
        std::slice::from_ref(&c_two_run)
    );
    let two = manifest_of(s.results(), "c-two", &c_two_run);
    assert_eq!(two.count(PointStatus::Ok), 4);
    // Warm-ups and repeats apply in every combination.
    for (name, run_id) in [("c-one", &c_one_run), ("c-two", &c_two_run)] {
        let m = manifest_of(s.results(), name, run_id);
        assert_eq!(m.points.iter().filter(|p| p.point.repeat == 2).count(), 2);
        let log = std::fs::read_to_string(
            manifest::runs_dir(&s.results().join(name))
                .join(run_id)
                .join(m.points[0].log_file.as_deref().expect("log")),
        )
        .expect("point log");
        assert!(log.contains("--num-warmups 1"), "{log}");
    }
}
