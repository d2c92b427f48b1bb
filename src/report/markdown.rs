//! `summary.md`: the run's table in GitHub-flavoured Markdown, with the full failure reasons
//! and a count of points per status.

use super::{Row, TABLE_METRICS, fmt_num, fmt_tokens};

/// A Markdown report: status counts, then one table row per sweep point.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("# vbench run summary\n\n");
    out.push_str(&status_line(rows));
    out.push_str("\n\n");

    let mut header = vec![
        "sweep", "point", "input", "output", "conc", "prompts", "status",
    ];
    header.extend(TABLE_METRICS.iter().map(|m| m.header));
    header.push("reason");
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    // Text columns left, numbers right.
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if matches!(i, 0 | 1 | 6) || i == header.len() - 1 {
                ":--"
            } else {
                "--:"
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for row in rows {
        let mut cells = vec![
            escape(&row.sweep),
            escape(&row.name),
            fmt_tokens(row.input_len),
            fmt_tokens(row.output_len),
            row.concurrency.to_string(),
            row.num_prompts.to_string(),
            escape(&row.status),
        ];
        cells.extend(TABLE_METRICS.iter().map(|m| fmt_num(row.metric(*m))));
        cells.push(row.reason.as_deref().map(escape).unwrap_or_default());
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if super::telemetry::any(rows) {
        out.push_str("\n## Telemetry per point\n\n");
        out.push_str(&telemetry_table(rows));
    }
    if let Some(spread) = spread_table(rows, true) {
        out.push_str("\n## Spread between repeats\n\n");
        out.push_str(&spread);
    }
    out.push_str(
        "\nTTFT: time to first token. TPOT: time per output token after the first. \
         E2EL: end-to-end request latency. Throughputs per second over the point's duration. \
         `-`: not in the result file.\n",
    );
    out
}

/// What the GPUs and the server did during each point that has telemetry.
fn telemetry_table(rows: &[Row]) -> String {
    let cols = super::telemetry::present(rows);
    let mut header = vec!["sweep", "point", "repeat"];
    header.extend(cols.iter().map(|c| c.header));
    let mut out = format!("| {} |\n", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i < 2 { ":--" } else { "--:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for row in rows.iter().filter(|r| !r.telemetry.is_empty()) {
        let mut cells = vec![
            escape(&row.sweep),
            escape(&row.name),
            row.repeat.to_string(),
        ];
        cells.extend(cols.iter().map(|c| fmt_num((c.get)(row))));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(
        "\nDuring each point: GPU figures over all its GPUs (utilisation averaged, power \
         summed), the server's running and waiting requests, KV-cache use, prefix-cache hit \
         rate and preemptions from its `/metrics`. Every series' min, mean and max are in \
         `summary.json`.\n",
    );
    out
}

/// `40 points: 38 ok, 2 failed` (statuses in first-seen order).
pub(super) fn status_line(rows: &[Row]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for row in rows {
        match counts.iter_mut().find(|(s, _)| *s == row.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((&row.status, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let noun = if rows.len() == 1 { "point" } else { "points" };
    if parts.is_empty() {
        format!("0 {noun}.")
    } else {
        format!("{} {noun}: {}.", rows.len(), parts.join(", "))
    }
}

/// Make text safe inside a table cell: no pipes breaking columns, no line breaks.
pub(super) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Metrics whose spread between repeats the tables show.
const SPREAD_METRICS: &[super::Metric] = &[super::MEAN_TTFT, super::MEAN_TPOT, super::OUT_TPUT];

/// When some point ran more than once: one line per repeated point with, per metric, the
/// median and the range over its `ok` repeats and their spread `(max − min) / median` — the
/// noise a verdict allows for. `markdown`: a Markdown table, else plain aligned text for the terminal.
pub(super) fn spread_table(rows: &[Row], markdown: bool) -> Option<String> {
    let groups: Vec<_> = super::group(rows)
        .into_iter()
        .filter(|g| g.rows.len() > 1)
        .collect();
    if groups.is_empty() {
        return None;
    }
    let mut header = vec!["point".to_string(), "ok/runs".to_string()];
    header.extend(
        SPREAD_METRICS
            .iter()
            .map(|m| format!("{} median [min–max] spread", m.header)),
    );
    let mut lines = Vec::new();
    for g in &groups {
        let mut cells = vec![
            super::verdict::point_label(&g.key),
            format!("{}/{}", g.ok().count(), g.rows.len()),
        ];
        cells.extend(SPREAD_METRICS.iter().map(|m| match g.metric(*m) {
            Some(s) => format!(
                "{} [{}–{}] {:.1}%",
                fmt_num(Some(s.median)),
                fmt_num(Some(s.min)),
                fmt_num(Some(s.max)),
                s.relative() * 100.0
            ),
            None => "-".into(),
        }));
        lines.push(cells);
    }
    if markdown {
        let mut out = format!("| {} |\n", header.join(" | "));
        out.push_str(&format!("|{}\n", " --: |".repeat(header.len())));
        for l in lines {
            out.push_str(&format!(
                "| {} |\n",
                l.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        Some(out)
    } else {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.set_header(header);
        for l in lines {
            t.add_row(l);
        }
        Some(format!("spread between repeats\n{t}\n"))
    }
}
