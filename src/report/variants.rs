//! The report across variants: runs of the same sweeps that differ in one thing (a matrix's
//! combinations, a fan-out's hosts). Owns what every such report shares — the one table of
//! every point of every variant (markdown and CSV, its first column named by the caller), the
//! charts with one line per variant and their list, the verdict blocks, and writing the
//! report files (`charts/`, `summary.md`, `summary.csv`, `summary.json`, `verdict.md`)
//! through [`crate::durable`]. It knows nothing of what a variant is: callers pass a label
//! for the variant column (`combination`, `host`) and each variant's name and rows.

use std::path::Path;

use super::verdict::Verdict;
use super::{
    ChartOptions, MEDIAN_TPOT, MEDIAN_TTFT, Metric, OUT_TPUT, P99_TPOT, P99_TTFT, REQ_TPUT, Row,
    fmt_num, fmt_tokens, variant_chart_svgs,
};

/// The metrics of the one table (medians and p99 of the latencies, both throughputs).
pub const COLUMNS: [Metric; 6] = [
    MEDIAN_TTFT,
    P99_TTFT,
    MEDIAN_TPOT,
    P99_TPOT,
    REQ_TPUT,
    OUT_TPUT,
];

/// A variant as the tables show it: its name and the rows of its runs.
pub type Variant<'a> = (&'a str, &'a [Row]);

/// The one table of every point, the list of charts and the verdict blocks, as markdown (a
/// blank line first: it follows the caller's own part of the page).
pub fn markdown(
    label: &str,
    variants: &[Variant],
    charts: &[String],
    verdicts: &[Verdict],
) -> String {
    points_markdown(label, variants) + &charts_and_verdicts_markdown(label, charts, verdicts)
}

/// The one table of every point (a blank line first), as markdown.
fn points_markdown(label: &str, variants: &[Variant]) -> String {
    let mut out = format!("\n| {label} | sweep | input | output | C | run | status |");
    for m in COLUMNS {
        out.push_str(&format!(" {} |", m.header));
    }
    out.push_str("\n|---|---|---|---|---|---|---|");
    out.push_str(&"---|".repeat(COLUMNS.len()));
    out.push('\n');
    for (name, rows) in variants {
        for r in *rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                name,
                r.sweep,
                fmt_tokens(r.input_len),
                fmt_tokens(r.output_len),
                r.concurrency,
                r.repeat,
                r.status
            ));
            for m in COLUMNS {
                out.push_str(&format!(" {} |", fmt_num(r.metric(m))));
            }
            out.push('\n');
        }
    }
    out
}

/// The list of charts (none: nothing) and the verdict blocks, as markdown.
fn charts_and_verdicts_markdown(label: &str, charts: &[String], verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    if !charts.is_empty() {
        out.push_str(&format!("\nCharts (one line per {label}):\n\n"));
        for c in charts {
            out.push_str(&format!("- [{c}](charts/{c})\n"));
        }
    }
    for v in verdicts {
        out.push_str(&format!("\n```\n{}```\n", v.render()));
    }
    out
}

/// The one table as CSV (numbers unformatted; empty when unknown).
pub fn csv(label: &str, variants: &[Variant]) -> String {
    let mut out =
        format!("{label},sweep,input_len,output_len,concurrency,num_prompts,repeat,status");
    for m in COLUMNS {
        out.push(',');
        out.push_str(m.id);
    }
    out.push('\n');
    for (name, rows) in variants {
        for r in *rows {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}",
                name,
                r.sweep,
                r.input_len,
                r.output_len,
                r.concurrency,
                r.num_prompts,
                r.repeat,
                r.status
            ));
            for m in COLUMNS {
                out.push(',');
                if let Some(v) = r.metric(m) {
                    out.push_str(&v.to_string());
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Draw the charts of the variants that have rows (one line per variant) into
/// `<dir>/charts/`; returns their file names, in order.
pub fn write_charts(
    dir: &Path,
    variants: &[Variant],
    opts: &ChartOptions,
) -> anyhow::Result<Vec<String>> {
    let runs: Vec<(String, Vec<Row>)> = variants
        .iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(name, rows)| (name.to_string(), rows.to_vec()))
        .collect();
    let charts = variant_chart_svgs(&runs, opts)?;
    let charts_dir = dir.join("charts");
    for c in &charts {
        crate::durable::write_replace(&charts_dir.join(&c.name), c.svg.as_bytes())?;
    }
    Ok(charts.into_iter().map(|c| c.name).collect())
}

/// Write `summary.md`, `summary.csv`, `summary.json` and, when there are verdicts,
/// `verdict.md` (every verdict, in order) into `dir`.
pub fn write_summary(
    dir: &Path,
    markdown: &str,
    csv: &str,
    json: &impl serde::Serialize,
    verdicts: &[Verdict],
) -> anyhow::Result<()> {
    crate::durable::write_replace(&dir.join("summary.md"), markdown.as_bytes())?;
    crate::durable::write_replace(&dir.join("summary.csv"), csv.as_bytes())?;
    crate::durable::write_replace(&dir.join("summary.json"), &serde_json::to_vec_pretty(json)?)?;
    if !verdicts.is_empty() {
        let text: String = verdicts.iter().map(Verdict::render).collect();
        crate::durable::write_replace(&dir.join("verdict.md"), text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, input_len: u64, concurrency: u64) -> Row {
        Row {
            sweep: "demo".into(),
            name: name.into(),
            input_len,
            output_len: 32,
            concurrency,
            num_prompts: concurrency * 2,
            status: "ok".into(),
            reason: None,
            result: None,
            file: None,
            repeat: 1,
            log: None,
            telemetry: Default::default(),
        }
    }

    // The texts the matrix's and the fan-out's reports wrote before they shared this module:
    // the label is the only difference, everything else must stay byte for byte.
    #[test]
    fn tables_name_the_variant_column_and_keep_their_layout() {
        let a = [row("p1", 2048, 4)];
        let v: [Variant; 2] = [("a", &a), ("b", &[])];
        assert_eq!(
            points_markdown("host", &v),
            "\n| host | sweep | input | output | C | run | status | TTFT median ms | TTFT p99 ms \
             | TPOT median ms | TPOT p99 ms | req/s | out tok/s |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | a | demo | 2K | 32 | 4 | 1 | ok | - | - | - | - | - | - |\n"
        );
        assert_eq!(
            csv("combination", &v),
            "combination,sweep,input_len,output_len,concurrency,num_prompts,repeat,status,\
             median_ttft_ms,p99_ttft_ms,median_tpot_ms,p99_tpot_ms,request_throughput,\
             output_throughput\n\
             a,demo,2048,32,4,8,1,ok,,,,,,\n"
        );
        assert_eq!(charts_and_verdicts_markdown("host", &[], &[]), "");
        assert_eq!(
            charts_and_verdicts_markdown("combination", &["x.svg".into()], &[]),
            "\nCharts (one line per combination):\n\n- [x.svg](charts/x.svg)\n"
        );
    }
}
