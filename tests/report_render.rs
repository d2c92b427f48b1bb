//! Rendering a run's rows: terminal table, Markdown, CSV, SVG charts and the files of a run
//! directory (including reading `summary.json` back).

mod common;

use std::path::PathBuf;

use vbench::report::{
    ReportInput, Row, RunMeta, chart_svgs, csv, load_rows, markdown, table, write_run_report,
};
use vbench::results::{BenchResult, parse};

fn real_033() -> (BenchResult, PathBuf) {
    let path = common::fixture("vllm-0.33/real_client_random.json");
    let bytes = std::fs::read(&path).expect("fixture");
    (
        parse(&bytes, &path.display().to_string()).expect("parses"),
        path,
    )
}

/// A synthetic result whose metrics grow with concurrency and input length.
fn synthetic(input: u64, conc: u64) -> BenchResult {
    let ttft = 10.0 * conc as f64 + input as f64 / 100.0;
    let text = format!(
        r#"{{"num_prompts": {conc}, "completed": {conc}, "failed": 0, "total_output_tokens": {}, "duration": 2.0,
            "request_throughput": {}, "output_throughput": {}, "mean_ttft_ms": {ttft}, "p99_ttft_ms": {},
            "mean_tpot_ms": {}, "p99_tpot_ms": {}, "mean_e2el_ms": {}}}"#,
        conc * 100,
        conc as f64 / 2.0,
        conc as f64 * 50.0,
        ttft * 1.5,
        2.0 + conc as f64 * 0.1,
        3.0 + conc as f64 * 0.1,
        ttft + 500.0
    );
    parse(text.as_bytes(), &format!("syn_{input}_{conc}.json")).expect("synthetic parses")
}

fn row(sweep: &str, input: u64, conc: u64, status: &str, result: Option<BenchResult>) -> Row {
    Row {
        sweep: sweep.into(),
        name: format!("input_{input}_n{conc}"),
        input_len: input,
        output_len: 100,
        concurrency: conc,
        num_prompts: conc,
        status: status.into(),
        reason: None,
        file: Some(PathBuf::from(format!("{sweep}/input_{input}_n{conc}.json"))),
        result,
        repeat: 1,
        log: None,
    }
}

fn sample_rows() -> Vec<Row> {
    let (real, path) = real_033();
    let mut rows = vec![Row {
        sweep: "production".into(),
        name: "real".into(),
        input_len: 128,
        output_len: 32,
        concurrency: 4,
        num_prompts: 8,
        status: "ok".into(),
        reason: None,
        result: Some(real),
        file: Some(path),
        repeat: 1,
        log: None,
    }];
    for input in [1024, 4096] {
        for conc in [1, 2, 4, 8] {
            rows.push(row(
                "production",
                input,
                conc,
                "ok",
                Some(synthetic(input, conc)),
            ));
        }
    }
    let mut failed = row("production", 8192, 4, "failed", None);
    failed.reason = Some("every request failed (4): Bad Request | context,\nlength".into());
    rows.push(failed);
    rows.push(row("production", 8192, 8, "pending", None));
    for n in [1, 10, 100, 1000] {
        rows.push(row("scaling", 1024, n, "ok", Some(synthetic(1024, n))));
    }
    rows
}

#[test]
fn terminal_table_has_columns_and_dashes() {
    let rows = sample_rows();
    let t = table(&rows);
    let header = t.lines().nth(1).expect("header line");
    for h in [
        "sweep",
        "input",
        "conc",
        "prompts",
        "status",
        "TTFT mean ms",
        "TTFT p99 ms",
        "TPOT mean ms",
        "TPOT p99 ms",
        "E2EL mean ms",
        "req/s",
        "out tok/s",
        "reason",
    ] {
        assert!(header.contains(h), "missing {h} in {header}");
    }
    // The real 0.33 row: TTFT mean 48.367… shown as 48.4, output throughput 613.15… as 613.
    let real = t.lines().find(|l| l.contains(" 128 ")).expect("real row");
    assert!(real.contains(" 48.4 "), "{real}");
    assert!(real.contains(" 613 "), "{real}");
    // Input lengths in K, failed row with dashes and a one-line reason.
    let failed = t
        .lines()
        .find(|l| l.contains("failed"))
        .expect("failed row");
    assert!(failed.contains(" 8K "), "{failed}");
    assert!(failed.matches(" - ").count() >= 7, "{failed}");
    assert!(
        failed.contains("every request failed (4): Bad Request | context, length"),
        "{failed}"
    );
    assert_eq!(
        t.lines()
            .filter(|l| l.contains("production") || l.contains("scaling"))
            .count(),
        rows.len()
    );
}

#[test]
fn markdown_escapes_and_counts() {
    let rows = sample_rows();
    let md = markdown(&rows);
    assert!(
        md.contains("15 points: 13 ok, 1 failed, 1 pending."),
        "{md}"
    );
    let failed = md
        .lines()
        .find(|l| l.contains("| failed |"))
        .expect("failed row");
    assert!(
        failed.contains("Bad Request \\| context, length"),
        "{failed}"
    );
    // Every table line has the same number of unescaped cell separators.
    let cells = |l: &str| l.replace("\\|", "").matches('|').count();
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), rows.len() + 2);
    assert!(table.iter().all(|l| cells(l) == cells(table[0])), "{md}");
}

#[test]
fn csv_has_full_precision_and_quotes() {
    let rows = sample_rows();
    let text = csv(&rows);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let real: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (r, _) = real_033();
    assert_eq!(
        real[col("mean_ttft_ms")].parse::<f64>().unwrap(),
        r.mean_ttft_ms().unwrap()
    );
    assert_eq!(real[col("completed")], "8");
    assert_eq!(
        real[col("mean_e2el_ms")].parse::<f64>().unwrap(),
        r.mean_e2el_ms().unwrap()
    );
    let failed = text
        .lines()
        .find(|l| l.starts_with("production,input_8192_n4,"))
        .unwrap();
    // Reasons are flattened to one line so line-based tools see one record per line.
    assert!(
        failed.contains(",\"every request failed (4): Bad Request | context, length\","),
        "{failed}"
    );
    assert_eq!(text.lines().count(), rows.len() + 1);
    assert!(failed.contains(",,"), "missing values are empty: {failed}");
}

#[test]
fn charts_are_svg_with_one_line_per_series() {
    let rows = sample_rows();
    let svgs = chart_svgs(&rows).expect("charts render");
    // VBT_DUMP=<dir> keeps the SVGs for a look (e.g. `rsvg-convert` them to PNG).
    if let Some(d) = std::env::var_os("VBT_DUMP") {
        for (n, s) in &svgs {
            std::fs::write(std::path::Path::new(&d).join(n), s).unwrap();
        }
    }
    let names: Vec<&str> = svgs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "production_ttft.svg",
            "production_tpot.svg",
            "production_throughput.svg",
            "scaling_ttft.svg",
            "scaling_tpot.svg",
            "scaling_throughput.svg"
        ]
    );
    for (name, svg) in &svgs {
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{name}: {}",
            &svg[..80.min(svg.len())]
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{name}");
        assert!(svg.contains("max concurrency"), "{name}: x label");
        assert!(
            svg.contains("concurrency</text>") || svg.contains("vs concurrency"),
            "{name}: title"
        );
    }
    let (_, prod_ttft) = &svgs[0];
    // Axes and ticks are 1-px polylines; data series are drawn 2 px wide.
    let series = |svg: &str| {
        svg.matches("<polyline").count() - svg.matches("stroke-width=\"1\" points=").count()
    };
    // production: inputs 128 (the real row), 1K, 4K → three lines; 8K has no ok point.
    assert_eq!(series(prod_ttft), 3, "{prod_ttft}");
    assert_eq!(prod_ttft.matches("stroke-width=\"2\" points=").count(), 3);
    for label in ["input 128", "input 1K", "input 4K"] {
        assert!(prod_ttft.contains(label), "legend {label}");
    }
    assert!(!prod_ttft.contains("input 8K"));
    assert!(prod_ttft.contains("mean TTFT (ms)"));
    let (_, scaling_tput) = &svgs[5];
    assert_eq!(series(scaling_tput), 1);
    assert!(scaling_tput.contains("output tokens/s"));
    // Log x axis: decade ticks 1, 10, 100, 1000 are labelled.
    // Log x axis: decade ticks 1, 10, 100, 1000 are labelled (plotters puts text on its own line).
    let texts: Vec<&str> = scaling_tput.lines().map(str::trim).collect();
    for tick in ["1", "10", "100", "1000"] {
        assert!(texts.contains(&tick), "tick {tick} in scaling chart");
    }
}

#[test]
fn no_ok_rows_no_charts() {
    let rows = vec![row("production", 1024, 1, "failed", None)];
    assert!(chart_svgs(&rows).unwrap().is_empty());
}

#[test]
fn run_report_files_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let rows = sample_rows();
    let meta = RunMeta {
        title: "run-2".into(),
        ..RunMeta::default()
    };
    let written = write_run_report(
        dir.path(),
        &ReportInput {
            meta: &meta,
            rows: &rows,
            baseline: None,
            verdict: None,
        },
    )
    .expect("report written")
    .paths;
    let rel: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        &rel[..4],
        ["summary.md", "summary.csv", "summary.json", "report.html"]
    );
    assert_eq!(
        rel.iter()
            .filter(|p| p.starts_with("charts/") && p.ends_with(".svg"))
            .count(),
        6
    );
    assert!(!dir.path().join("comparison.md").exists());
    for p in &written {
        assert!(p.is_file(), "{}", p.display());
    }
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("](charts/production_ttft.svg)"), "{md}");
    // The page embeds every chart (the same SVG as the files, less its namespace URL).
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(page.contains("<h1>vbench report: run-2</h1>"));
    assert_eq!(page.matches("<svg ").count(), 6);
    assert!(!page.contains("id=\"comparison\""));
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // summary.json reads back with the same metrics.
    let back = load_rows(dir.path()).expect("reload");
    assert_eq!(back.len(), rows.len());
    for (a, b) in rows.iter().zip(&back) {
        assert_eq!(
            (
                &a.sweep,
                a.input_len,
                a.concurrency,
                &a.status,
                &a.reason,
                &a.file
            ),
            (
                &b.sweep,
                b.input_len,
                b.concurrency,
                &b.status,
                &b.reason,
                &b.file
            )
        );
        for m in vbench::report::ALL_METRICS {
            assert_eq!(a.metric(*m), b.metric(*m), "{} {m:?}", a.name);
        }
        assert_eq!(
            a.result.as_ref().and_then(|r| r.completed()),
            b.result.as_ref().and_then(|r| r.completed())
        );
    }

    // With a baseline, comparison.md is written too.
    let written = write_run_report(
        dir.path(),
        &ReportInput {
            meta: &meta,
            rows: &rows,
            baseline: Some(("run-1", &back)),
            verdict: None,
        },
    )
    .unwrap()
    .paths;
    assert_eq!(written.last().unwrap(), &dir.path().join("comparison.md"));
    let cmp = std::fs::read_to_string(dir.path().join("comparison.md")).unwrap();
    assert!(cmp.contains("**0 regressions**"), "{cmp}");
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(page.contains("Comparison with <span class=\"mono\">run-1</span>"));

    // Re-rendered without a baseline and without the scaling sweep: the old comparison and
    // the scaling charts go; an unrelated file in charts/ stays.
    std::fs::write(dir.path().join("charts/notes.txt"), "mine").unwrap();
    let production: Vec<Row> = rows
        .iter()
        .filter(|r| r.sweep == "production")
        .cloned()
        .collect();
    write_run_report(
        dir.path(),
        &ReportInput {
            meta: &meta,
            rows: &production,
            baseline: None,
            verdict: None,
        },
    )
    .unwrap();
    assert!(!dir.path().join("comparison.md").exists());
    assert!(!dir.path().join("charts/scaling_ttft.svg").exists());
    assert!(dir.path().join("charts/production_ttft.svg").exists());
    assert!(dir.path().join("charts/notes.txt").exists());
}

#[test]
fn load_rows_names_the_file_on_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("summary.json"),
        "{\"schema_version\": 1,\n \"rows\": [1]}",
    )
    .unwrap();
    let err = format!("{:#}", load_rows(dir.path()).unwrap_err());
    assert!(err.contains("summary.json:2:"), "{err}");
    let missing = format!("{:#}", load_rows(&dir.path().join("nope")).unwrap_err());
    assert!(missing.contains("nope/summary.json"), "{missing}");
}
