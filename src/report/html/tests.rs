//! Unit tests of the page: escaping, the stand-in banner, inline charts, no external
//! reference, the verdict, repeats, failures. `tests/report_html.rs` loads pages in Chromium.

use std::path::PathBuf;

use super::*;
use crate::report::verdict::{Finding, Outcome};
use crate::report::{Comparison, RunMeta, compare};
use crate::results::parse;

const NASTY: &str =
    "validation: </pre><script>alert(\"pwned\")</script> & 'quoted' from http://evil.example/x.js";

fn result(conc: u64, ttft: f64) -> crate::results::BenchResult {
    let text = format!(
        r#"{{"num_prompts": {conc}, "completed": {conc}, "failed": 0, "duration": 2.0,
            "request_throughput": {}, "output_throughput": {}, "mean_ttft_ms": {ttft},
            "p99_ttft_ms": {}, "mean_tpot_ms": 4.5, "p99_tpot_ms": 6.0, "mean_e2el_ms": 900.0}}"#,
        conc as f64 / 2.0,
        conc as f64 * 40.0,
        ttft * 1.5
    );
    parse(text.as_bytes(), "unit").expect("parses")
}

fn row(input: u64, conc: u64, status: &str, repeat: u32, ttft: Option<f64>) -> Row {
    Row {
        sweep: "production".into(),
        name: format!("input_{input}_n{conc}"),
        input_len: input,
        output_len: 500,
        concurrency: conc,
        num_prompts: conc * 2,
        status: status.into(),
        reason: None,
        result: ttft.map(|t| result(conc, t)),
        file: None,
        repeat,
        log: None,
        telemetry: Default::default(),
    }
}

fn rows() -> Vec<Row> {
    let mut failed = row(1024, 5, "failed", 3, None);
    failed.reason = Some(NASTY.into());
    failed.log = Some(PathBuf::from("/nowhere/production.r3.log"));
    let mut lone = row(4096, 10, "failed", 1, None);
    lone.reason = Some("server returned 500".into());
    let mut skipped = row(98304, 1, "skipped", 1, None);
    skipped.reason = Some("input longer than max_model_len 32768".into());
    vec![
        row(1024, 1, "ok", 1, Some(48.4)),
        row(1024, 5, "ok", 1, Some(60.0)),
        row(1024, 5, "ok", 2, Some(70.0)),
        failed,
        lone,
        skipped,
    ]
}

fn meta(standin: bool) -> RunMeta {
    RunMeta {
        title: "20261201T120000Z".into(),
        source: "/results/runs/20261201T120000Z".into(),
        standin,
        vbench_version: "0.1.0".into(),
        model: Some("Qwen/Qwen3-0.6B".into()),
        vllm_version: Some("0.33.0".into()),
        image: Some("vllm/vllm-openai:v0.33.0".into()),
        image_digest: Some("vllm/vllm-openai@sha256:0123abcd".into()),
        serve_args: Some(vec![
            "vllm".into(),
            "serve".into(),
            "--api-key".into(),
            "<redacted>".into(),
        ]),
        gpus: vec!["NVIDIA H100 80GB HBM3".into(); 2],
        started: Some("2026-12-01T12:00:00Z".into()),
        config: Some(
            serde_json::json!({"server": {"url": "http://vllm:8000", "note": "<b>&</b>"}}),
        ),
        server_record: Some(
            serde_json::json!({"written_at": "2026-12-01T11:59:00Z", "container": "vllm", "startup_seconds": 41.234}),
        ),
    }
}

const SVG: &str = "<svg width=\"900\" height=\"540\" viewBox=\"0 0 900 540\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"900\" height=\"540\" fill=\"#FFFFFF\"/>\n<text x=\"450\" y=\"30\">production: mean TTFT &lt;ms&gt; CHART-ONE</text>\n</svg>\n";

struct Fixture {
    meta: RunMeta,
    rows: Vec<Row>,
    charts: Vec<(String, String)>,
    logs: Vec<(String, String)>,
    comparison: Comparison,
}

fn fixture(standin: bool) -> Fixture {
    let rows = rows();
    let mut baseline = rows.clone();
    for r in &mut baseline {
        r.status = "ok".into();
        r.result = Some(result(r.concurrency, 30.0));
    }
    Fixture {
        comparison: compare(&rows, &baseline),
        meta: meta(standin),
        charts: vec![
            ("production TTFT".into(), SVG.into()),
            (
                "production TPOT".into(),
                SVG.replace("CHART-ONE", "CHART-TWO"),
            ),
        ],
        logs: vec![(
            "production/input_1024_n5.r3".into(),
            "INFO loading\nERROR </pre><img src=x onerror=alert(1)> & more".into(),
        )],
        rows,
    }
}

fn page(f: &Fixture, verdict: Option<&Verdict>) -> String {
    html(&Page {
        meta: &f.meta,
        rows: &f.rows,
        charts: &f.charts,
        comparison: Some(("20261130T120000Z", &f.comparison)),
        verdict,
        logs: &f.logs,
    })
}

fn verdict(outcome: Outcome) -> Verdict {
    Verdict {
        outcome,
        baseline: "20261130T120000Z".into(),
        current: "20261201T120000Z".into(),
        threshold: 0.05,
        regressions: match outcome {
            Outcome::Regressed => vec![Finding {
                point: "production input 1K output 500 conc 5".into(),
                metric: "p99_ttft_ms".into(),
                baseline: 45.0,
                current: 97.5,
                worse_by: 1.1667,
                noise: 0.08,
            }],
            _ => vec![],
        },
        reasons: match outcome {
            Outcome::CannotJudge => vec![
                "point production input 4K output 500 conc 10 failed in this run".into(),
                "image digest differs: <old> vs <new>".into(),
            ],
            _ => vec![],
        },
        compared: 3,
    }
}

/// Every tag of the page (`<…>`), outside the inline script and stylesheet.
fn tags(page: &str) -> impl Iterator<Item = &str> {
    let body = page.split("<script>").next().unwrap_or(page);
    let body = body.split_once("</style>").map_or(body, |(_, rest)| rest);
    body.split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(t))
}

#[test]
fn reasons_logs_and_config_are_escaped_never_markup() {
    let out = page(&fixture(false), None);
    // Our one script, and nothing else that could run.
    assert_eq!(out.matches("<script").count(), 1, "{out}");
    assert!(!out.contains("<script>alert"));
    assert!(!out.contains("<img"));
    assert!(
        !out.contains("</pre><"),
        "a reason or log cannot close its element"
    );
    assert!(
        tags(&out).all(|t| !t.contains("onerror")),
        "no handler attribute"
    );
    assert!(out.contains(
        "&lt;/pre&gt;&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;"
    ));
    assert!(out.contains("ERROR &lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt; &amp; more"));
    // The configuration's JSON, escaped inside its <pre>.
    assert!(out.contains("&lt;b&gt;&amp;&lt;/b&gt;"));
    assert!(out.contains("&lt;redacted&gt;"));
}

#[test]
fn the_policy_admits_the_script_as_embedded() {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let out = page(&fixture(false), None);
    let script = out
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the script");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
    assert!(out.contains(&format!("script-src 'sha256-{hash}'")));
}

#[test]
fn banner_iff_standin() {
    let banner = "CPU stand-in — a rehearsal, not a GPU measurement";
    let standin = page(&fixture(true), None);
    assert!(standin.contains(banner));
    assert!(standin.contains("id=\"standin\""));
    assert!(standin.contains("<title>vbench report: 20261201T120000Z (CPU stand-in)</title>"));
    let gpu = page(&fixture(false), None);
    assert!(!gpu.contains(banner));
    assert!(!gpu.contains("id=\"standin\""));
    assert!(!gpu.contains("stand-in)"));
}

#[test]
fn every_chart_is_inline_svg() {
    let f = fixture(false);
    let out = page(&f, None);
    for (title, svg) in &f.charts {
        let inline = charts::inline_svg(svg).expect("embeds");
        assert!(out.contains(&inline), "chart {title} inline");
        assert!(out.contains(&format!("<figcaption>{}</figcaption>", esc(title))));
    }
    assert_eq!(out.matches("<svg").count(), f.charts.len());
    assert!(!out.contains("<img") && !out.contains("<object") && !out.contains("<iframe"));
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let f = fixture(true);
    for v in [None, Some(verdict(Outcome::CannotJudge))] {
        let out = page(&f, v.as_ref());
        let lower = out.to_ascii_lowercase();
        // Not even the URLs quoted in a reason or the configuration appear as such.
        assert!(!lower.contains("://"), "a URL in the page");
        assert!(lower.contains("http&#58;//evil.example/x.js"));
        assert!(lower.contains("http&#58;//vllm:8000"));
        for never in [
            "<link", "@import", "url(", "<iframe", "<object", "<embed", "<img",
        ] {
            assert!(!lower.contains(never), "{never} in the page");
        }
        // Escaped text holds no `<`, so these are the page's own tags, every one of them.
        for tag in tags(&lower) {
            assert!(!tag.contains("src="), "{tag}");
            if let Some(i) = tag.find("href=") {
                assert!(
                    tag[i..].starts_with("href=\"#"),
                    "in-page links only: {tag}"
                );
            }
        }
        assert!(out.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
        ));
    }
}

#[test]
fn verdict_outcome_is_shown_first_and_plainly() {
    let f = fixture(false);
    let pass = page(&f, Some(&verdict(Outcome::Pass)));
    assert!(pass.contains("data-outcome=\"pass\""));
    assert!(pass.contains("Pass: no regression"));
    assert!(
        pass.find("id=\"verdict\"") < pass.find("id=\"summary\""),
        "verdict first"
    );

    let reg = page(&f, Some(&verdict(Outcome::Regressed)));
    assert!(reg.contains("data-outcome=\"regressed\""));
    assert!(reg.contains("Regressed: 1 finding"));
    assert!(reg.contains("production input 1K output 500 conc 5"));
    assert!(reg.contains("TTFT p99 ms"), "metric by its header");
    assert!(reg.contains("116.7 %"));

    let cannot = page(&f, Some(&verdict(Outcome::CannotJudge)));
    assert!(cannot.contains("data-outcome=\"cannot_judge\""));
    assert!(cannot.contains("Cannot judge"));
    assert!(cannot.contains("<li>image digest differs: &lt;old&gt; vs &lt;new&gt;</li>"));

    assert!(!page(&f, None).contains("id=\"verdict\""));
}

#[test]
fn repeats_show_median_and_range() {
    let out = page(&fixture(false), None);
    // input 1K conc 5: repeats 60 and 70 passed, the third failed.
    let tr = out
        .split("<tr data-point=\"production/input_1024_n5\">")
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .expect("the repeated point's row");
    assert!(tr.contains("<small>2 of 3 ok</small>"), "{tr}");
    assert!(tr.contains("data-v=\"65\" title=\"median of 2 passing repeats; each: 60.0 · 70.0 · failed\">65.0<small>60.0–70.0</small>"), "{tr}");
    // One table row per point.
    assert_eq!(out.matches("<tr data-point=").count(), 4);
    assert!(out.contains("data-key=\"repeats\""));
}

#[test]
fn sortable_columns_carry_raw_values() {
    let out = page(&fixture(false), None);
    assert!(out.contains("<table id=\"points-table\" data-sortable>"));
    assert!(out.contains("data-key=\"input\" data-type=\"num\""));
    assert!(out.contains("data-key=\"sweep\" data-type=\"text\""));
    assert!(out.contains("<td class=\"num\" data-v=\"98304\">96K</td>"));
}

#[test]
fn failed_points_with_reason_and_log() {
    let out = page(&fixture(false), None);
    let failures = out
        .split("<section id=\"failures\">")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("failures section");
    assert!(failures.contains("production/input_1024_n5.r3"));
    assert!(failures.contains("<details><summary>Log: last 2 lines</summary>"));
    assert!(failures.contains("production/input_4096_n10"));
    assert!(failures.contains("server returned 500"));
    assert!(failures.contains("No log was recorded for this point."));
    // Skipped points are not failures.
    assert!(!failures.contains("max_model_len"));
    assert!(out.contains("<a href=\"#failures\">"));

    let mut f = fixture(false);
    f.rows.retain(|r| !failures::is_failure(&r.status));
    f.logs.clear();
    assert!(!page(&f, None).contains("id=\"failures\""));
}

#[test]
fn metadata_is_shown() {
    let out = page(&fixture(false), None);
    for s in [
        "<code>Qwen/Qwen3-0.6B</code>",
        "0.33.0",
        "<code>vllm/vllm-openai@sha256:0123abcd</code>",
        "2 × NVIDIA H100 80GB HBM3",
        "<code>vllm serve --api-key &#39;&lt;redacted&gt;&#39;</code>",
        "startup s <code>41.2</code>",
        "<summary>Configuration (secrets redacted)</summary>",
    ] {
        assert!(out.contains(s), "{s}");
    }
    // An import knows little: the page says so instead of inventing.
    let bare = RunMeta {
        title: "import".into(),
        ..RunMeta::default()
    };
    let out = html(&Page {
        meta: &bare,
        rows: &[],
        charts: &[],
        comparison: None,
        verdict: None,
        logs: &[],
    });
    assert!(
        out.contains("<dt>Image digest</dt><dd><span class=\"muted\">not recorded</span></dd>")
    );
    assert!(out.contains("No points."));
}

#[test]
fn elements_are_balanced() {
    let out = page(&fixture(true), Some(&verdict(Outcome::Regressed)));
    for tag in [
        "section", "table", "tr", "details", "pre", "div", "figure", "svg", "ul", "dl",
    ] {
        let open =
            out.matches(&format!("<{tag}>")).count() + out.matches(&format!("<{tag} ")).count();
        let close = out.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}>");
    }
}

#[test]
fn long_reasons_are_cut_in_the_table_and_whole_in_failures() {
    let mut f = fixture(false);
    let long = format!("first line\n{}", "x".repeat(400));
    f.rows[4].reason = Some(long.clone());
    let out = page(&f, None);
    let table = out.split("<section id=\"failures\">").next().unwrap();
    assert!(table.contains(&format!(
        "<td class=\"reason\" title=\"{}\">first line x",
        esc(&long)
    )));
    assert!(table.contains("x…</td>"));
    assert!(out.contains(&format!("<pre class=\"reason\">{long}</pre>")));
}

#[test]
fn telemetry_section_only_with_telemetry_and_with_its_series() {
    let f = fixture(false);
    let without = page(&f, None);
    assert!(!without.contains("id=\"telemetry\""));
    assert!(!without.contains("href=\"#telemetry\""));
    let mut f = fixture(false);
    let stats = |min, mean, max| crate::telemetry::SeriesStats {
        min,
        mean,
        max,
        n: 7,
    };
    f.rows[0]
        .telemetry
        .insert("gpu0.util_pct".into(), stats(12.0, 61.5, 97.0));
    f.rows[0]
        .telemetry
        .insert("vllm.kv_cache_usage".into(), stats(0.0, 0.2, 0.42));
    let with = page(&f, None);
    assert!(with.contains("<section id=\"telemetry\">"), "{with}");
    assert!(with.contains("href=\"#telemetry\""));
    let section = &with[with.find("<section id=\"telemetry\">").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    // One row: the point with telemetry; its GPU mean, the KV-cache peak in percent, and the
    // raw series in the tooltip.
    assert_eq!(section.matches("<tr data-point=").count(), 1);
    assert!(section.contains("data-v=\"61.5\""), "{section}");
    assert!(section.contains("data-v=\"42\""), "{section}");
    assert!(
        section.contains("gpu0.util_pct: min 12.0 mean 61.5 max 97.0 (7 samples)"),
        "{section}"
    );
    assert!(
        !section.contains("running (max)"),
        "columns without values are left out"
    );
}
