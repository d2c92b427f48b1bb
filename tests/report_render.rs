//! Rendering a run's rows: terminal table, Markdown, CSV, SVG charts and the files of a run
//! directory (including reading `summary.json` back).

mod common;

use std::path::PathBuf;

use vbench::report::{
    Chart, ChartOptions, ReportInput, Row, RunMeta, TrendPoint, TrendSeries, chart_svgs, csv,
    load_rows, markdown, table, trend_svg, write_run_report,
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

/// A synthetic result whose latencies grow with concurrency and input length, and whose
/// throughput grows with concurrency and falls with input length.
fn synthetic(input: u64, conc: u64) -> BenchResult {
    let ttft = 10.0 * conc as f64 + input as f64 / 100.0;
    let text = format!(
        r#"{{"num_prompts": {conc}, "completed": {conc}, "failed": 0, "total_output_tokens": {}, "duration": 2.0,
            "request_throughput": {}, "output_throughput": {}, "mean_ttft_ms": {ttft}, "median_ttft_ms": {},
            "p99_ttft_ms": {}, "mean_tpot_ms": {}, "median_tpot_ms": {}, "p99_tpot_ms": {},
            "mean_e2el_ms": {}}}"#,
        conc * 100,
        conc as f64 / 2.0,
        conc as f64 * 50.0 / (1.0 + input as f64 / 4096.0),
        ttft * 0.9,
        ttft * 1.5,
        2.0 + conc as f64 * 0.1,
        1.9 + conc as f64 * 0.1 + input as f64 / 2000.0,
        3.0 + conc as f64 * 0.1 + input as f64 / 1000.0,
        ttft + 500.0
    );
    parse(text.as_bytes(), &format!("syn_{input}_{conc}.json")).expect("synthetic parses")
}

fn row(sweep: &str, input: u64, conc: u64, status: &str, result: Option<BenchResult>) -> Row {
    Row {
        sweep: sweep.into(),
        name: format!("input_{input}_n{conc}"),
        input_len: input,
        // As the real row's, so the sweep has one output length.
        output_len: 32,
        concurrency: conc,
        num_prompts: conc,
        status: status.into(),
        reason: None,
        file: Some(PathBuf::from(format!("{sweep}/input_{input}_n{conc}.json"))),
        result,
        repeat: 1,
        log: None,
        telemetry: Default::default(),
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
        telemetry: Default::default(),
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

const GPU: ChartOptions = ChartOptions { standin: false };

/// Render the charts, keeping them in `$VBT_DUMP/<prefix>_<name>` for a look when that is set
/// (e.g. `rsvg-convert` them to PNG).
fn render(rows: &[Row], opts: &ChartOptions, prefix: &str) -> Vec<Chart> {
    let charts = chart_svgs(rows, opts).expect("charts render");
    if let Some(d) = std::env::var_os("VBT_DUMP") {
        for c in &charts {
            let p = std::path::Path::new(&d).join(format!("{prefix}_{}", c.name));
            std::fs::write(p, &c.svg).unwrap();
        }
    }
    for c in &charts {
        well_formed(&c.name, &c.svg);
    }
    charts
}

fn find<'a>(charts: &'a [Chart], name: &str) -> &'a str {
    &charts
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no chart {name}"))
        .svg
}

/// A minimal XML check: every tag closes in order, attributes are quoted, and text has no
/// bare `<` or `&` (what an inserted, unescaped reason would break).
fn well_formed(name: &str, svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg.trim();
    assert!(rest.starts_with("<svg"), "{name}: starts with <svg");
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity)
                    || entity.starts_with("&#"),
                "{name}: bare & in text {text:?}"
            );
        }
        let close = open + rest[open..].find('>').expect("tag ends");
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "{name}: < inside tag {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "{name}: quotes in {tag}");
        if let Some(end) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .unwrap_or_else(|| panic!("{name}: stray </{end}>"));
            assert_eq!(top, end.trim(), "{name}: </{end}> closes <{top}>");
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let el = tag.split_whitespace().next().unwrap_or("").to_string();
            stack.push(el);
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
}

/// The text of every `<text>` element, trimmed (plotters puts it on its own line).
fn texts(svg: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let head_end = i + rest[i..].find('>').unwrap();
        let body_end = head_end + rest[head_end..].find("</text>").unwrap();
        out.push((
            rest[i..head_end].to_string(),
            rest[head_end + 1..body_end].trim().to_string(),
        ));
        rest = &rest[body_end..];
    }
    out
}

/// Labels of x-axis ticks: the numbers plotters writes under the plot (top-anchored, centred).
fn x_tick_labels(svg: &str) -> Vec<String> {
    texts(svg)
        .into_iter()
        .filter(|(head, body)| {
            head.contains("dy=\"0.76em\"")
                && head.contains("text-anchor=\"middle\"")
                && !body.is_empty()
                && body.chars().all(|c| c.is_ascii_digit())
        })
        .map(|(_, body)| body)
        .collect()
}

/// Every `<title>` text.
fn titles(svg: &str) -> Vec<&str> {
    svg.split("<title>")
        .skip(1)
        .map(|s| &s[..s.find("</title>").unwrap()])
        .collect()
}

/// Data lines: series are 2-px polylines (axes, ticks and whiskers are 1 px, legend icons 3).
fn data_lines(svg: &str) -> usize {
    svg.matches("stroke-width=\"2\" points=").count()
}

#[test]
fn chart_files_per_sweep() {
    let rows = sample_rows();
    let charts = render(&rows, &GPU, "sample");
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "production_ttft.svg",
            "production_tpot.svg",
            "production_throughput.svg",
            "production_tradeoff.svg",
            "production_heatmap_ttft.svg",
            "production_heatmap_throughput.svg",
            // One input length: no grid, no heatmap.
            "scaling_ttft.svg",
            "scaling_tpot.svg",
            "scaling_throughput.svg",
            "scaling_tradeoff.svg",
        ]
    );
    for c in &charts {
        assert!(c.svg.trim_end().ends_with("</svg>"), "{}", c.name);
        assert!(
            c.title.starts_with(&c.name[..c.name.find('_').unwrap()]),
            "{}",
            c.title
        );
        assert!(c.svg.contains(&c.title), "{}: title drawn", c.name);
        assert!(
            !c.svg.contains("CPU stand-in"),
            "{}: no watermark on GPU runs",
            c.name
        );
    }
    let ttft = find(&charts, "production_ttft.svg");
    // production: 1K and 4K are lines, the real 128 row a lone dot; 8K has no ok point.
    assert_eq!(data_lines(ttft), 2, "{ttft}");
    assert!(
        ttft.contains("output 32 tokens"),
        "title says the output length"
    );
    for label in [
        "input 128",
        "input 1K",
        "input 4K",
        "shaded: p50 to p99 TTFT",
    ] {
        assert!(ttft.contains(label), "legend {label}");
    }
    assert!(
        !ttft.contains(">\ninput 8K\n<"),
        "8K has no line, so no legend entry"
    );
    // One shaded band per line with more than one point (128 has one point: a bar instead).
    assert_eq!(ttft.matches("<polygon").count(), 2, "{ttft}");
}

#[test]
fn concurrency_axis_is_log_with_ticks_at_measured_levels() {
    let charts = render(&sample_rows(), &GPU, "sample");
    // production measured 1, 2, 4, 8 (8K at 4 and 8 did not pass but were run or planned).
    for name in [
        "production_ttft.svg",
        "production_tpot.svg",
        "production_throughput.svg",
    ] {
        assert_eq!(
            x_tick_labels(find(&charts, name)),
            ["1", "2", "4", "8"],
            "{name}"
        );
    }
    let scaling = find(&charts, "scaling_ttft.svg");
    assert_eq!(x_tick_labels(scaling), ["1", "10", "100", "1000"]);
    assert!(scaling.contains("max concurrency (requests, log scale)"));

    // A dense ladder: labels thinned, but first and last kept, and every label a measured level.
    let rows: Vec<Row> = (1..=60)
        .map(|c| row("scaling", 1024, c, "ok", Some(synthetic(1024, c))))
        .collect();
    let charts = render(&rows, &GPU, "dense");
    let labels = x_tick_labels(find(&charts, "scaling_ttft.svg"));
    assert_eq!(labels.first().map(String::as_str), Some("1"));
    assert_eq!(labels.last().map(String::as_str), Some("60"));
    assert!(labels.len() < 60 && labels.len() >= 8, "{labels:?}");
}

#[test]
fn tradeoff_has_a_line_per_input_and_labelled_points() {
    let charts = render(&sample_rows(), &GPU, "sample");
    let svg = find(&charts, "production_tradeoff.svg");
    // 1K and 4K have four points each; the real 128 row is a lone labelled dot.
    assert_eq!(data_lines(svg), 2);
    for l in ["input 128", "input 1K", "input 4K"] {
        assert!(svg.contains(l), "legend {l}");
    }
    let labels: Vec<String> = texts(svg)
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("C="))
        .collect();
    // 1K and 4K at 1, 2, 4, 8; the real 128 row at 4.
    assert_eq!(labels.len(), 9, "{labels:?}");
    for c in ["C=1", "C=2", "C=4", "C=8"] {
        assert!(labels.iter().any(|l| l == c), "{c} in {labels:?}");
    }
    assert!(svg.contains("total output throughput (tokens/s)"));
    assert!(svg.contains("output speed per user (tokens/s/user, 1000 / median TPOT)"));
    // The failed and the pending 8K points are listed under the plot, reason on hover.
    assert!(svg.contains("not fully measured:"), "{svg}");
    assert!(
        titles(svg)
            .iter()
            .any(|t| t.starts_with("input 8K, concurrency 4: failed — every request failed"))
    );
}

#[test]
fn failed_and_pending_points_are_marked_with_their_reason() {
    let charts = render(&sample_rows(), &GPU, "sample");
    for name in [
        "production_ttft.svg",
        "production_tpot.svg",
        "production_throughput.svg",
    ] {
        let svg = find(&charts, name);
        let t = titles(svg);
        assert!(
            t.contains(
                &"input 8K, concurrency 4: failed — every request failed (4): Bad Request | context,\nlength"
            ),
            "{name}: {t:?}"
        );
        assert!(
            t.contains(&"input 8K, concurrency 8: pending"),
            "{name}: {t:?}"
        );
        // Failed is red, not run is grey: two marks, two colours.
        let gaps: Vec<&str> = svg.split("<g class=\"vb-gap\">").skip(1).collect();
        assert_eq!(gaps.len(), 2, "{name}");
        assert!(
            gaps[0].contains("#c80000") && gaps[1].contains("#6e6e6e"),
            "{name}"
        );
        assert!(svg.contains("failed (hover ✕ for why)"), "{name}: legend");
    }
}

#[test]
fn heatmap_has_a_cell_per_input_and_concurrency() {
    let charts = render(&sample_rows(), &GPU, "sample");
    let svg = find(&charts, "production_heatmap_ttft.svg");
    // Inputs 128, 1K, 4K, 8K × concurrency 1, 2, 4, 8: 16 cells, each with a tooltip.
    let tips = svg.matches("<g class=\"vb-tip\">").count();
    let gaps = svg.matches("<g class=\"vb-gap\">").count();
    assert_eq!(tips, 9, "cells with a value: 1K and 4K × 4, 128 at 4");
    assert_eq!(
        gaps, 7,
        "8K failed and pending, 8K and 128 not in the sweep"
    );
    assert_eq!(svg.matches("url(#vb-hatch)").count(), gaps);
    let t = titles(svg);
    assert!(
        t.contains(&"input 128, concurrency 1: not part of the sweep"),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|t| t.starts_with("input 8K, concurrency 4: failed — every request failed")),
        "{t:?}"
    );
    // Values printed in the cells: 1K at C=1 has median TTFT 0.9 × (10 + 10.24) = 18.216 ms.
    let body: Vec<String> = texts(svg).into_iter().map(|(_, t)| t).collect();
    assert!(body.iter().any(|t| t == "18.2"), "{body:?}");
    assert!(body.iter().any(|t| t == "failed") && body.iter().any(|t| t == "pending"));
    // Axes: concurrency columns, input rows (shortest on top), the colour scale with a unit.
    for label in ["1", "2", "4", "8", "128", "1K", "4K", "8K"] {
        assert!(body.iter().any(|t| t == label), "axis label {label}");
    }
    assert!(svg.contains("median TTFT (ms"), "colour scale label");
    let tput = find(&charts, "production_heatmap_throughput.svg");
    // 4K at C=8: 8 × 50 / 2 tokens/s.
    assert!(texts(tput).iter().any(|(_, t)| t == "200"));
    assert!(tput.contains("output throughput (tokens/s"));
}

#[test]
fn watermark_iff_standin() {
    let rows = sample_rows();
    let standin = render(&rows, &ChartOptions { standin: true }, "standin");
    assert!(!standin.is_empty());
    for c in &standin {
        assert_eq!(
            c.svg.matches(">CPU stand-in</text>").count(),
            1,
            "{}",
            c.name
        );
        assert!(
            c.svg.contains("fill-opacity=\"0.13\""),
            "{}: semi-transparent",
            c.name
        );
        assert!(
            c.svg.contains("transform=\"rotate(-"),
            "{}: diagonal",
            c.name
        );
    }
    for c in render(&rows, &GPU, "sample") {
        assert!(!c.svg.contains("CPU stand-in"), "{}", c.name);
    }
    let series = [TrendSeries {
        label: "x".into(),
        points: vec![TrendPoint {
            run: "a".into(),
            value: Some(1.0),
            valid: true,
            note: None,
        }],
    }];
    assert!(
        trend_svg("t", "v (ms)", &series, &ChartOptions { standin: true }).contains("CPU stand-in")
    );
    assert!(!trend_svg("t", "v (ms)", &series, &GPU).contains("CPU stand-in"));
}

#[test]
fn every_axis_has_a_unit() {
    let charts = render(&sample_rows(), &GPU, "sample");
    let units = [
        "(ms",
        "(tokens/s",
        "(tokens/s/user",
        "(requests",
        "(tokens)",
    ];
    // Axis titles (and the heatmap's colour scale title) are the 17-px texts; plotters writes
    // sizes divided by 1.24.
    let axis_font = format!("font-size=\"{}\"", 17.0 / 1.24);
    for c in &charts {
        let titles: Vec<String> = texts(&c.svg)
            .into_iter()
            .filter(|(head, _)| head.contains(&axis_font))
            .map(|(_, t)| t)
            .filter(|t| !t.is_empty())
            .collect();
        assert!(titles.len() >= 2, "{}: {titles:?}", c.name);
        for t in &titles {
            assert!(
                units.iter().any(|u| t.contains(u)) && t.ends_with(')'),
                "{}: axis title {t:?} has no unit",
                c.name
            );
        }
    }
}

#[test]
fn repeats_show_median_and_whisker() {
    let mut rows = Vec::new();
    for (k, scale) in [(1, 1.0), (2, 1.2), (3, 0.7)] {
        for conc in [1, 4] {
            let mut r = row("production", 1024, conc, "ok", Some(synthetic(1024, conc)));
            // Scale TTFT per repeat: rebuild the result with a different TTFT.
            let ttft = (10.0 * conc as f64 + 10.24) * scale;
            let text = format!(
                r#"{{"completed": 1, "output_throughput": {}, "median_ttft_ms": {ttft}, "p99_ttft_ms": {},
                   "median_tpot_ms": 2.0}}"#,
                100.0 * scale,
                ttft * 2.0
            );
            r.result = Some(vbench::results::parse(text.as_bytes(), "rep").unwrap());
            r.repeat = k;
            rows.push(r);
        }
    }
    let mut failed = row("production", 1024, 4, "failed", None);
    failed.repeat = 4;
    failed.reason = Some("server restarted".into());
    rows.push(failed);
    // A second input length, measured once, makes the sweep a grid (so it gets heatmaps).
    for conc in [1, 4] {
        rows.push(row(
            "production",
            2048,
            conc,
            "ok",
            Some(synthetic(2048, conc)),
        ));
    }
    let charts = render(&rows, &GPU, "repeats");
    let svg = find(&charts, "production_ttft.svg");
    assert_eq!(data_lines(svg), 2);
    assert!(svg.contains("whisker: repeats, min–max"));
    // Whiskers: a vertical 1-px line in the series colour per repeated point (1K only), from
    // the lowest to the highest repeat (0.7× and 1.2× the median), through the median's dot.
    let attr = |tag: &str, name: &str| -> f64 {
        let tag = format!(" {tag}");
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
    };
    let baseline = texts(svg)
        .into_iter()
        .find(|(head, body)| body == "0" && head.contains("text-anchor=\"end\""))
        .map(|(head, _)| attr(&head, "y"))
        .expect("y tick 0");
    let blue = "stroke=\"#0072B2\" stroke-width=\"1\" points=\"";
    let verticals: Vec<(f64, f64, f64)> = svg
        .split(blue)
        .skip(1)
        .filter_map(|s| {
            let pts: Vec<(f64, f64)> = s[..s.find('"').unwrap()]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            (pts.len() == 2 && pts[0].0 == pts[1].0).then(|| (pts[0].0, pts[0].1, pts[1].1))
        })
        .collect();
    assert_eq!(verticals.len(), 2, "{svg}");
    for (x, y_lo, y_hi) in verticals {
        let dot = svg
            .split("<circle ")
            .skip(1)
            .find(|c| attr(c, "cx") == x && c.contains("fill=\"#0072B2\""))
            .expect("the median's dot on the whisker");
        let median = baseline - attr(dot, "cy");
        let ratio = |y: f64| (baseline - y) / median;
        assert!((ratio(y_lo) - 0.7).abs() < 0.03, "{}", ratio(y_lo));
        assert!((ratio(y_hi) - 1.2).abs() < 0.03, "{}", ratio(y_hi));
    }
    // The failed fourth repeat is not hidden behind the median of the other three.
    assert!(
        titles(svg).contains(&"input 1K, concurrency 4: 1 of 4 repeats failed — server restarted"),
        "{:?}",
        titles(svg)
    );
    let tradeoff = find(&charts, "production_tradeoff.svg");
    assert!(tradeoff.contains("whiskers: repeats, min–max"));
    // Heatmap cells say how many repeats and how far apart they were: ±25% is half of
    // (1.2 − 0.7) / 1.0.
    let heat = find(&charts, "production_heatmap_ttft.svg");
    let body: Vec<String> = texts(heat).into_iter().map(|(_, t)| t).collect();
    // Both 1K cells: 3 ok repeats each (the failed fourth at C=4 is marked, not counted).
    assert_eq!(
        body.iter().filter(|t| *t == "n=3, ±25%").count(),
        2,
        "{body:?}"
    );
    assert!(
        titles(heat).contains(&"input 1K, concurrency 4: 1 of 4 repeats failed — server restarted")
    );
    assert!(
        titles(heat).iter().any(|t| t.starts_with(
            "input 1K, concurrency 1: median TTFT (ms) = 20.2 (median of 3; min 14.2, max 24.3)"
        )),
        "{:?}",
        titles(heat)
    );
}

#[test]
fn trend_marks_invalid_runs() {
    let nights: Vec<String> = (1..=30).map(|d| format!("2026-03-{d:02}")).collect();
    let series = vec![
        TrendSeries {
            label: "input 1K, C=4".into(),
            points: nights
                .iter()
                .enumerate()
                .map(|(i, n)| TrendPoint {
                    run: n.clone(),
                    value: (i != 20).then_some(100.0 + i as f64),
                    valid: i != 7 && i != 20,
                    note: match i {
                        7 => Some("server crashed <OOM>".into()),
                        20 => Some("outage".into()),
                        _ => None,
                    },
                })
                .collect(),
        },
        TrendSeries {
            label: "input 8K, C=4".into(),
            points: nights
                .iter()
                .map(|n| TrendPoint {
                    run: n.clone(),
                    value: Some(300.0),
                    valid: true,
                    note: None,
                })
                .collect(),
        },
    ];
    let svg = trend_svg("nightly: median TTFT", "median TTFT (ms)", &series, &GPU);
    if let Some(d) = std::env::var_os("VBT_DUMP") {
        std::fs::write(std::path::Path::new(&d).join("trend.svg"), &svg).unwrap();
    }
    well_formed("trend", &svg);
    assert_eq!(data_lines(&svg), 2);
    let invalid: Vec<&str> = svg.split("<g class=\"vb-invalid\">").skip(1).collect();
    assert_eq!(invalid.len(), 2);
    assert!(
        invalid
            .iter()
            .all(|g| g.contains("stroke=\"#c80000\"") && g.contains("fill=\"#fff\""))
    );
    let t = titles(&svg);
    assert!(
        t.contains(&"input 1K, C=4, 2026-03-08: invalid (107) — server crashed &lt;OOM&gt;"),
        "{t:?}"
    );
    assert!(
        t.contains(&"input 1K, C=4, 2026-03-21: invalid (no value) — outage"),
        "{t:?}"
    );
    // Run labels: thinned, the newest always shown.
    let labels: Vec<String> = texts(&svg)
        .into_iter()
        .filter(|(h, _)| h.contains("rotate(-40"))
        .map(|(_, t)| t)
        .collect();
    assert!(labels.contains(&"2026-03-30".to_string()), "{labels:?}");
    assert!(labels.len() <= 30 && labels.len() >= 10, "{labels:?}");
    assert!(svg.contains("median TTFT (ms)") && svg.contains("run (oldest → newest"));
    // No history yet: an empty chart, not a panic or an error page.
    let empty = trend_svg("nightly", "median TTFT (ms)", &[], &GPU);
    well_formed("empty trend", &empty);
    assert!(!empty.contains("cannot draw"), "{empty}");
}

#[test]
fn no_ok_rows_no_charts() {
    let rows = vec![row("production", 1024, 1, "failed", None)];
    assert!(chart_svgs(&rows, &GPU).unwrap().is_empty());
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
        10
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
    assert_eq!(page.matches("<svg ").count(), 10, "one per chart file");
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
    for gone in ["ttft", "tpot", "throughput", "tradeoff"] {
        let p = dir.path().join(format!("charts/scaling_{gone}.svg"));
        assert!(!p.exists(), "{}", p.display());
    }
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

/// The production layout as users run it: 8 input lengths (1K..96K) × concurrency 1, 2, 5,
/// 10, 20, with a plausible server (latency grows with input and load), 96K at 20 failed and
/// 96K at 10 skipped.
fn production_grid() -> Vec<Row> {
    let mut rows = Vec::new();
    for input in [1024, 2048, 4096, 8192, 16384, 32768, 65536, 98304] {
        for conc in [1, 2, 5, 10, 20] {
            let status = match (input, conc) {
                (98304, 20) => "failed",
                (98304, 10) => "skipped",
                _ => "ok",
            };
            let mut r = row("production", input, conc, status, None);
            r.output_len = 500;
            match status {
                "failed" => r.reason = Some("server crashed: out of memory".into()),
                "skipped" => r.reason = Some("needs 1.1M KV tokens, the server has 0.9M".into()),
                _ => {
                    let k = input as f64 / 1024.0;
                    let ttft = 25.0 + 18.0 * k * (1.0 + 0.35 * (conc as f64 - 1.0));
                    let tpot = 7.5 + 0.9 * conc as f64 + 0.08 * k;
                    let text = format!(
                        r#"{{"completed": {n}, "failed": 0, "output_throughput": {}, "median_ttft_ms": {ttft},
                           "p99_ttft_ms": {}, "median_tpot_ms": {tpot}, "p99_tpot_ms": {}}}"#,
                        conc as f64 * 1000.0 / (tpot + ttft / 500.0),
                        ttft * 1.8,
                        tpot * 1.3,
                        n = conc * 4
                    );
                    r.result = Some(vbench::results::parse(text.as_bytes(), "grid").unwrap());
                }
            }
            rows.push(r);
        }
    }
    rows
}

#[test]
fn production_layout_reads() {
    let charts = render(&production_grid(), &GPU, "grid");
    assert_eq!(charts.len(), 6);
    let ttft = find(&charts, "production_ttft.svg");
    assert_eq!(x_tick_labels(ttft), ["1", "2", "5", "10", "20"]);
    assert_eq!(data_lines(ttft), 8);
    // TTFT spans 40 ms .. 20 s: a log axis, or the 1K line would lie on the baseline.
    assert!(ttft.contains("median TTFT (ms, log scale)"));
    // Throughput stays linear.
    let tput = find(&charts, "production_throughput.svg");
    assert!(
        texts(tput)
            .iter()
            .any(|(_, t)| t == "output throughput (tokens/s)")
    );
    let t = titles(ttft);
    assert!(t.contains(&"input 96K, concurrency 20: failed — server crashed: out of memory"));
    assert!(t.contains(
        &"input 96K, concurrency 10: skipped — needs 1.1M KV tokens, the server has 0.9M"
    ));
    let heat = find(&charts, "production_heatmap_ttft.svg");
    assert_eq!(heat.matches("<g class=\"vb-tip\">").count(), 38);
    assert_eq!(heat.matches("<g class=\"vb-gap\">").count(), 2);
    assert!(
        heat.contains("log colour scale"),
        "TTFT spans far more than 20×"
    );
    let tradeoff = find(&charts, "production_tradeoff.svg");
    assert_eq!(data_lines(tradeoff), 8);
    // Every point has a tooltip; labels name every level, but one label serves neighbouring
    // points of the same level (the 1K, 2K and 4K lines nearly coincide).
    assert_eq!(tradeoff.matches("<g class=\"vb-tip\">").count(), 38);
    let labels: Vec<String> = texts(tradeoff)
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("C="))
        .collect();
    for c in ["C=1", "C=2", "C=5", "C=10", "C=20"] {
        assert!(
            labels.iter().filter(|l| *l == c).count() >= 5,
            "{c}: {labels:?}"
        );
    }
    assert!(labels.len() < 38, "{labels:?}");
}

/// Repeated points: the terminal table and `summary.md` show the spread between repeats.
#[test]
fn repeats_show_their_spread() {
    let mut rows = Vec::new();
    for (rep, ttft) in [(1, 100.0), (2, 110.0), (3, 90.0)] {
        let text = format!(
            r#"{{"num_prompts": 2, "completed": 2, "failed": 0, "mean_ttft_ms": {ttft}, "mean_tpot_ms": 5.0, "output_throughput": 40.0}}"#
        );
        let mut r = row(
            "demo",
            128,
            2,
            "ok",
            Some(parse(text.as_bytes(), "r.json").expect("parses")),
        );
        r.repeat = rep;
        rows.push(r);
    }
    let t = table(&rows);
    assert!(t.contains("spread between repeats"), "{t}");
    // Median 100 over [90, 110]: a spread of 20 %.
    assert!(t.contains("100 [90.0–110] 20.0%"), "{t}");
    assert!(t.contains("3/3"), "{t}");
    let md = markdown(&rows);
    assert!(md.contains("## Spread between repeats"), "{md}");
    assert!(md.contains("100 [90.0–110] 20.0%"), "{md}");
    // Without repeats, no such section.
    assert!(!table(&rows[..1]).contains("spread between repeats"));
}
