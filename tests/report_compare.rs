//! Comparing a run against a baseline: alignment, ratios, regression flags, Markdown.

use vbench::report::{DEFAULT_THRESHOLD, Row, compare, compare_with, render_comparison};
use vbench::results::parse;

/// A point with the given output throughput (tok/s) and mean TTFT (ms).
fn row(sweep: &str, input: u64, conc: u64, status: &str, tput: f64, ttft: f64) -> Row {
    let text = format!(
        r#"{{"completed": {conc}, "failed": 0, "num_prompts": {conc}, "output_throughput": {tput},
            "request_throughput": {}, "mean_ttft_ms": {ttft}, "p99_ttft_ms": {}, "mean_tpot_ms": 5.0,
            "p99_tpot_ms": 6.0, "mean_e2el_ms": 900.0}}"#,
        tput / 100.0,
        ttft * 2.0
    );
    Row {
        sweep: sweep.into(),
        name: format!("input_{input}_n{conc}"),
        input_len: input,
        output_len: 500,
        concurrency: conc,
        num_prompts: conc,
        status: status.into(),
        reason: None,
        result: (status == "ok").then(|| parse(text.as_bytes(), "syn.json").unwrap()),
        file: None,
        repeat: 1,
        log: None,
        telemetry: Default::default(),
    }
}

fn baseline() -> Vec<Row> {
    vec![
        row("production", 1024, 1, "ok", 100.0, 50.0),
        row("production", 1024, 4, "ok", 400.0, 80.0),
        row("production", 4096, 4, "ok", 300.0, 200.0),
        row("production", 8192, 4, "ok", 200.0, 400.0),
        row("scaling", 1024, 100, "ok", 1000.0, 900.0),
    ]
}

fn current() -> Vec<Row> {
    vec![
        // unchanged within noise (3%)
        row("production", 1024, 1, "ok", 97.0, 51.5),
        // regressed by 20%: throughput 0.8×, TTFT 1.25× (ratio 0.8)
        row("production", 1024, 4, "ok", 320.0, 100.0),
        // improved: throughput 1.5×, TTFT halved
        row("production", 4096, 4, "ok", 450.0, 100.0),
        // now fails
        row("production", 8192, 4, "failed", 0.0, 0.0),
        // new point
        row("production", 16384, 4, "ok", 150.0, 800.0),
    ]
}

#[test]
fn aligns_points_and_computes_ratios() {
    let c = compare(&current(), &baseline());
    assert_eq!(c.threshold, DEFAULT_THRESHOLD);
    assert_eq!(c.points.len(), 6, "5 current + 1 baseline-only");
    assert_eq!(c.matched(), 4);

    let p = &c.points[1];
    assert_eq!(
        (p.sweep.as_str(), p.input_len, p.output_len, p.concurrency),
        ("production", 1024, 500, 4)
    );
    let tput = p
        .metrics
        .iter()
        .find(|m| m.metric.id == "output_throughput")
        .unwrap();
    assert_eq!((tput.baseline, tput.current), (Some(400.0), Some(320.0)));
    assert!(
        (tput.ratio.unwrap() - 0.8).abs() < 1e-12,
        "throughput ratio is current/baseline"
    );
    assert!(tput.regression && !tput.improvement);
    let ttft = p
        .metrics
        .iter()
        .find(|m| m.metric.id == "mean_ttft_ms")
        .unwrap();
    assert!(
        (ttft.ratio.unwrap() - 0.8).abs() < 1e-12,
        "latency ratio is baseline/current"
    );
    assert!(ttft.regression);
    let tpot = p
        .metrics
        .iter()
        .find(|m| m.metric.id == "mean_tpot_ms")
        .unwrap();
    assert_eq!(tpot.ratio, Some(1.0));
    assert!(!tpot.regression && !tpot.improvement);
    assert!(p.regressed());

    // Within the threshold: neither flag.
    assert!(!c.points[0].regressed());
    assert!(c.points[0].metrics.iter().all(|m| !m.improvement));

    // Improvement flagged, not a regression.
    let p = &c.points[2];
    assert!(!p.regressed());
    let tput = p
        .metrics
        .iter()
        .find(|m| m.metric.id == "output_throughput")
        .unwrap();
    assert!(tput.improvement && (tput.ratio.unwrap() - 1.5).abs() < 1e-12);
    let ttft = p
        .metrics
        .iter()
        .find(|m| m.metric.id == "mean_ttft_ms")
        .unwrap();
    assert!(ttft.improvement && (ttft.ratio.unwrap() - 2.0).abs() < 1e-12);

    // ok → failed is a regression of the point, with no ratios (a failed point has no speed).
    let p = &c.points[3];
    assert!(p.status_regression && p.regressed());
    assert!(
        p.metrics
            .iter()
            .all(|m| m.ratio.is_none() && m.current.is_none())
    );

    // New and vanished points are listed, never flagged.
    assert_eq!(
        (
            c.points[4].baseline_status.as_deref(),
            c.points[4].current_status.as_deref()
        ),
        (None, Some("ok"))
    );
    assert_eq!(
        (
            c.points[5].sweep.as_str(),
            c.points[5].current_status.as_deref()
        ),
        ("scaling", None)
    );
    assert!(!c.points[4].regressed() && !c.points[5].regressed());

    assert!(c.has_regressions());
    // 1K/4: every metric but TPOT/E2EL (equal) regressed → 4 metrics; plus the failed point.
    assert_eq!(c.regressions().len(), 5);
    assert!(
        c.regressions()
            .iter()
            .any(|(p, m)| p.input_len == 8192 && m.is_none())
    );
}

#[test]
fn threshold_is_configurable() {
    // At 25%, a 20% drop is not a regression; at 2%, the 3% drift is.
    let c = compare_with(&current(), &baseline(), 0.25);
    assert!(!c.points[1].regressed());
    let c = compare_with(&current(), &baseline(), 0.02);
    assert!(c.points[0].regressed());
}

#[test]
fn retried_point_uses_last_ok_row() {
    let base = vec![row("production", 1024, 4, "ok", 400.0, 80.0)];
    let cur = vec![
        row("production", 1024, 4, "ok", 410.0, 80.0),
        row("production", 1024, 4, "failed", 0.0, 0.0),
    ];
    let c = compare(&cur, &base);
    assert_eq!(c.points.len(), 1);
    assert_eq!(c.points[0].current_status.as_deref(), Some("ok"));
    assert!(!c.has_regressions());
}

#[test]
fn markdown_rendering() {
    let c = compare(&current(), &baseline());
    let md = render_comparison(&c, "run-2026-11-27");
    assert!(md.starts_with("# Comparison with `run-2026-11-27`"), "{md}");
    assert!(md.contains("**5 regressions**, 4 improvements over 4 matched points (1 only in this run, 1 only in the baseline)"), "{md}");
    assert!(
        md.contains("below 0.90×") || md.contains("Below 0.90×"),
        "{md}"
    );
    let regs = md
        .split("## Regressions")
        .nth(1)
        .unwrap()
        .split("## Improvements")
        .next()
        .unwrap();
    assert!(
        regs.contains("- production input 1K output 500 conc 4: out tok/s 400 → 320 (0.80× ⚠)"),
        "{regs}"
    );
    assert!(
        regs.contains("- production input 1K output 500 conc 4: TTFT mean ms 80.0 → 100 (0.80× ⚠)"),
        "{regs}"
    );
    assert!(
        regs.contains("- production input 8K output 500 conc 4: now failed (was ok)"),
        "{regs}"
    );
    assert!(!regs.contains("4K"), "{regs}");
    let imps = md
        .split("## Improvements")
        .nth(1)
        .unwrap()
        .split("## All points")
        .next()
        .unwrap();
    assert!(
        imps.contains("input 4K output 500 conc 4: out tok/s 300 → 450 (1.50× ↑)"),
        "{imps}"
    );

    let table: Vec<&str> = md
        .split("## All points")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('|'))
        .collect();
    assert_eq!(table.len(), 2 + 6);
    assert!(
        table.iter().any(|l| l.contains("| ok → failed ⚠ |")),
        "{md}"
    );
    assert!(table.iter().any(|l| l.contains("| ok (new) |")), "{md}");
    assert!(
        table.iter().any(|l| l.contains("| ok (not in this run) |")),
        "{md}"
    );
    let n = table[0].matches('|').count();
    assert!(table.iter().all(|l| l.matches('|').count() == n), "{md}");
}

#[test]
fn nothing_to_compare() {
    let c = compare(&[], &[]);
    assert!(c.points.is_empty() && !c.has_regressions());
    let md = render_comparison(&c, "empty");
    assert!(
        md.contains("**0 regressions**, 0 improvements over 0 matched points"),
        "{md}"
    );
}
