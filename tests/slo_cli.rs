//! SLO search end to end: `vbench slo` and an `slo:` sweep in a matrix, against the CPU
//! stand-in, whose latencies follow its timing knobs, so the capacity the search must find is
//! derived here from those knobs and asserted. The real Docker Engine, a unique configuration
//! per test, everything labelled `vbench.test` and removed even when an assert fails.

mod common;
mod matrix_support;

use std::time::Duration;

use vbench::sweep::manifest::{self, Manifest, PointStatus};

use matrix_support::{Vbench, events, images, run, setup, wait_for};

/// Stand-in timing: every step costs `BASE + PER_SEQ × running` ms (equal TTFT and TPOT
/// bases and no prefill cost, so prefill and decode steps cost the same), so at concurrency C
/// (C ≤ --max-num-seqs) every request's TPOT is `BASE + PER_SEQ × C`.
const BASE_MS: f64 = 10.0;
const PER_SEQ_MS: f64 = 10.0;

fn knobs() -> Vec<(&'static str, String)> {
    vec![
        ("VLLM_STANDIN_TTFT_MS", BASE_MS.to_string()),
        ("VLLM_STANDIN_TPOT_MS", BASE_MS.to_string()),
        ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "0".into()),
        ("VLLM_STANDIN_TPOT_PER_SEQ_MS", PER_SEQ_MS.to_string()),
    ]
}

/// The highest concurrency whose TPOT `BASE + PER_SEQ × C` stays within `limit_ms`.
fn capacity(limit_ms: f64, max_num_seqs: f64, max: f64) -> f64 {
    if BASE_MS + PER_SEQ_MS * max_num_seqs <= limit_ms {
        return max;
    }
    ((limit_ms - BASE_MS) / PER_SEQ_MS).floor()
}

#[tokio::test(flavor = "multi_thread")]
async fn vbench_slo_finds_the_standins_capacity_within_one_step_and_resumes() {
    images().await;
    let k = knobs();
    let kv: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let s = setup("slo", &kv, "");
    // Halfway between two levels: 7 gives 80 ms, 8 gives 90 ms. Load only makes the stand-in
    // slower, never faster, so a miss at 8 is certain and 7 has 5 ms of head-room.
    let limit = 85.0;
    let want = capacity(limit, 256.0, 1024.0);
    assert_eq!(want, 7.0);
    let args = [
        "slo",
        "--standin",
        "--tpot-p99",
        "85ms",
        "--ttft-p99",
        "10s",
        "--input-len",
        "64",
        "--output-len",
        "16",
        "--prompts-per-concurrency",
        "2",
    ];

    // The dry run shows the first probe and says the rest follows the results.
    let mut dry = vec!["--json"];
    dry.extend(args);
    dry.push("--dry-run");
    let (st, out, err) = run(&s.cfg_path, &dry, Duration::from_secs(30)).await;
    assert!(st.success(), "{err}");
    let plan: serde_json::Value = serde_json::from_str(out.trim()).expect("the plan");
    assert_eq!(plan["points"].as_array().map(Vec::len), Some(1));
    assert_eq!(plan["points"][0]["id"], "slo/input_64_out16_n1");
    assert!(
        plan["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("SLO search"))),
        "{plan}"
    );

    // Killed after three probes, then resumed: the search goes on from what it saw.
    let results = s.results().to_path_buf();
    let cfg = s.cfg_path.clone();
    let (run_id, seen) = tokio::task::spawn_blocking(move || {
        let child = Vbench::start(&cfg, &args);
        let got = wait_for(Duration::from_secs(180), "three probes", || {
            let id = manifest::list_runs(&results).pop()?;
            let m = Manifest::load(&manifest::runs_dir(&results).join(&id)).ok()?;
            (m.count(PointStatus::Ok) >= 3).then_some((id, m.points.len()))
        });
        child.kill();
        let _ = child.finish(Duration::from_secs(10));
        got
    })
    .await
    .expect("join");
    assert!(seen >= 3);
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "slo", "--standin", "--resume"],
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        manifest::list_runs(s.results()),
        std::slice::from_ref(&run_id),
        "one run, resumed"
    );
    let ev = events(&out);
    let found: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "slo_result").collect();
    assert_eq!(found.len(), 1, "{out}");
    let f = found[0];
    let cap = f["capacity"].as_f64().expect("a capacity");
    assert!(
        cap == want || cap == want - 1.0,
        "capacity {cap}, derived {want} (within one step): {f}"
    );
    assert_eq!(f["converged"], true, "{f}");
    let walk: Vec<f64> = f["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["level"].as_f64().expect("level"))
        .collect();
    // Exponential first, then bisection, then the boundary repeated, within the budget.
    assert_eq!(walk[..4], [1.0, 2.0, 4.0, 8.0], "{walk:?}");
    assert!(walk.len() <= 20, "{walk:?}");
    for level in [cap, cap + 1.0] {
        assert!(
            walk.iter().filter(|l| **l == level).count() >= 3,
            "{level} repeated at the boundary: {walk:?}"
        );
    }
    // vLLM's goodput at every point: every request meets the SLO well below it, none far
    // above it.
    for p in f["points"].as_array().expect("points") {
        let goodput = p["request_goodput"]
            .as_f64()
            .expect("goodput at every point");
        let level = p["level"].as_f64().expect("level");
        if level <= 4.0 {
            assert!(goodput > 0.0, "{p}");
        }
        if level >= 9.0 {
            assert_eq!(goodput, 0.0, "{p}");
        }
    }
    let run_dir = manifest::runs_dir(s.results()).join(&run_id);
    let md = std::fs::read_to_string(run_dir.join("slo.md")).expect("slo.md");
    assert!(md.contains(&format!("capacity concurrency {cap}")), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("slo.json")).expect("slo.json"))
            .expect("json");
    assert_eq!(json[0]["capacity"].as_f64(), Some(cap));
    // The walk's chart: every probe numbered in the order it ran, the capacity marked, linked
    // from slo.md.
    let chart = format!(
        "charts/slo_{}_{}.svg",
        json[0]["sweep"].as_str().expect("sweep"),
        json[0]["input_len"]
    );
    assert!(md.contains(&format!("]({chart})")), "{md}");
    let svg = std::fs::read_to_string(run_dir.join(&chart)).expect("walk chart");
    let probes = json[0]["points"].as_array().expect("points").len();
    for n in 1..=probes {
        assert!(
            svg.contains(&format!(">#{n}<")),
            "probe #{n} in the walk chart"
        );
    }
    assert!(!svg.contains(&format!(">#{}<", probes + 1)));
    assert!(svg.contains(&format!("capacity {cap}")), "capacity line");
    // `vbench report` says it again.
    let (st, out, err) = run(&s.cfg_path, &["--json", "report"], Duration::from_secs(60)).await;
    assert!(st.success(), "{err}");
    assert!(
        events(&out)
            .iter()
            .any(|e| e["event"] == "slo_result" && e["capacity"].as_f64() == Some(cap)),
        "{out}"
    );
    // Each probe asked vLLM's client for goodput under the SLO's limits.
    let m = Manifest::load(&run_dir).expect("manifest");
    let log = std::fs::read_to_string(run_dir.join(m.points[0].log_file.as_deref().expect("log")))
        .expect("log");
    assert!(log.contains("--goodput ttft:10000 tpot:85"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_slo_sweep_in_a_matrix_finds_each_combinations_capacity() {
    images().await;
    let k = knobs();
    let kv: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let rest = "sweeps:\n  cap:\n    input_lens: [64]\n    output_len: 16\n    prompts_per_concurrency: 1\n    point_timeout: 60s\n    slo:\n      tpot_p99: 35ms\n      max: 8\n      max_points: 8\n      boundary_repeats: 1\nmatrix:\n  - name: seqs-1\n    extra_args: [\"--max-num-seqs\", \"1\"]\n  - name: seqs-4\n    extra_args: [\"--max-num-seqs\", \"4\"]\n";
    let s = setup("slomx", &kv, rest);
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "run", "--standin", "cap"],
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let ev = events(&out);
    let caps: Vec<(f64, bool)> = ev
        .iter()
        .filter(|e| e["event"] == "slo_result")
        .map(|e| {
            (
                e["capacity"].as_f64().expect("capacity"),
                e["converged"].as_bool().expect("converged"),
            )
        })
        .collect();
    // One sequence at a time keeps TPOT at 20 ms whatever the concurrency: every level up to
    // max meets 35 ms. Four at a time: 10 + 10 × C ≤ 35 up to C = 2.
    let (one, four) = (capacity(35.0, 1.0, 8.0), capacity(35.0, 4.0, 8.0));
    assert_eq!((one, four), (8.0, 2.0));
    assert_eq!(caps.len(), 2, "{out}");
    assert_eq!(caps[0], (one, false), "seqs-1 (bounded by max): {out}");
    assert!(
        caps[1].0 == four || caps[1].0 == four - 1.0,
        "seqs-4: {:?}, derived {four}",
        caps[1]
    );
    for name in ["seqs-1", "seqs-4"] {
        let dir = s.results().join(name);
        let id = manifest::list_runs(&dir).pop().expect("a run");
        assert!(manifest::runs_dir(&dir).join(id).join("slo.json").is_file());
    }
}

/// A request-rate search end to end. With one sequence at a time, TPOT is `BASE + PER_SEQ`
/// = 20 ms and a request of 8 output tokens holds the server for `S` ≈ 10 + 7 × 20 = 150 ms,
/// so above `1 / S` ≈ 6.7 req/s requests queue: at 25 req/s the 40th of 40 Poisson arrivals
/// waits about 40 × (150 − 40) ms = 4.4 s, far over the 1 s TTFT limit (a loaded machine only
/// makes the server slower), while at 1 req/s the server is 15 % busy (p99 TTFT 0.22 s was
/// seen on a loaded 2-core machine). So the capacity lies in (0, 25), the walk brackets it
/// (the capacity met, the first miss missed, within the precision), and every probe asked
/// vLLM's client for its rate with no concurrency cap.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_search_brackets_the_servers_saturation_rate() {
    images().await;
    let k = knobs();
    let kv: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let rest = "sweeps:\n  rate:\n    input_lens: [64]\n    output_len: 8\n    num_prompts: 40\n    point_timeout: 60s\n    slo:\n      ttft_p99: 1s\n      by: rate\n      start: 4\n      max: 64\n      max_points: 8\n      boundary_repeats: 1\n      precision: 0.25\nmatrix:\n  - name: one-seq\n    extra_args: [\"--max-num-seqs\", \"1\"]\n";
    let s = setup("slorate", &kv, rest);
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "run", "--standin", "rate"],
        Duration::from_secs(400),
    )
    .await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let ev = events(&out);
    let found: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "slo_result").collect();
    assert_eq!(found.len(), 1, "{out}");
    let f = found[0];
    assert_eq!(f["by"], "rate", "{f}");
    let cap = f["capacity"].as_f64().expect("a capacity");
    assert!(cap > 0.0 && cap < 25.0, "capacity {cap} req/s: {f}");
    let points = f["points"].as_array().expect("points");
    let level = |p: &serde_json::Value| p["level"].as_f64().expect("level");
    assert_eq!(level(&points[0]), 4.0, "the walk starts at `start`: {f}");
    assert!(points.len() <= 8, "within max_points: {f}");
    assert!(
        points.iter().any(|p| level(p) == cap && p["meets"] == true),
        "the capacity was met: {f}"
    );
    let miss = f["first_miss"].as_f64().expect("a first miss");
    assert!(miss > cap, "{f}");
    if f["converged"] == true {
        assert!(
            (miss - cap) / miss <= 0.25 + 1e-9,
            "within the precision: {f}"
        );
    }
    assert!(
        points
            .iter()
            .any(|p| level(p) == miss && p["meets"] == false),
        "the first miss missed: {f}"
    );
    // Each probe ran at its rate, with no concurrency cap.
    let dir = s.results().join("one-seq");
    let id = manifest::list_runs(&dir).pop().expect("a run");
    let run_dir = manifest::runs_dir(&dir).join(id);
    let m = Manifest::load(&run_dir).expect("manifest");
    assert_eq!(m.points.len(), points.len());
    for (r, p) in m.points.iter().zip(points) {
        let log = std::fs::read_to_string(run_dir.join(r.log_file.as_deref().expect("log")))
            .expect("log");
        let rate = vbench::slo::probe::level_label(level(p));
        assert!(
            log.contains(&format!("--request-rate {rate}")),
            "{rate}: {log}"
        );
        // No cap below the prompts themselves: a cap of num_prompts never holds one back.
        assert!(
            log.contains("--num-prompts 40 --max-concurrency 40 "),
            "{log}"
        );
    }
    assert!(run_dir.join("charts/slo_rate_64.svg").is_file());
}
