//! The "Points" section: one table row per point (the repeats of a point grouped, see
//! [`crate::report::group`]), with each metric as the median of the passing repeats and, when
//! there are several, their range. Cells carry their raw value in `data-v` for the sorting
//! script.

use super::escape::esc;
use super::status_class;
use crate::report::{Group, Row, Spread, TABLE_METRICS, fmt_num, fmt_tokens, group};

pub fn section(rows: &[Row]) -> String {
    let groups = group(rows);
    let repeated = groups.iter().any(|g| g.rows.len() > 1);
    let mut out = String::from("<section id=\"points\">\n<h2>Points</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No points.</p>\n</section>\n");
        return out;
    }
    out.push_str(
        "<p class=\"muted\">Click a column's header to sort by it. TTFT: time to first token. \
         TPOT: time per output token after the first. E2EL: end-to-end request latency. \
         Throughputs per second over the point's duration. <code>-</code>: no value.",
    );
    if repeated {
        out.push_str(
            " A point measured several times shows the median of its passing repeats, with \
             their range below it; hover a value to see every repeat.",
        );
    }
    out.push_str("</p>\n");

    out.push_str("<div class=\"scroll\">\n<table id=\"points-table\" data-sortable>\n<thead><tr>");
    let mut heads: Vec<(&str, &str, bool)> = vec![
        ("sweep", "sweep", false),
        ("point", "point", false),
        ("input", "input", true),
        ("output", "output", true),
        ("concurrency", "conc", true),
        ("prompts", "prompts", true),
    ];
    if repeated {
        heads.push(("repeats", "repeats", true));
    }
    heads.push(("status", "status", false));
    heads.extend(TABLE_METRICS.iter().map(|m| (m.id, m.header, true)));
    heads.push(("reason", "reason", false));
    for (key, header, numeric) in &heads {
        let (class, ty) = if *numeric {
            (" class=\"num\"", "num")
        } else {
            ("", "text")
        };
        out.push_str(&format!(
            "<th{class} data-key=\"{key}\" data-type=\"{ty}\"><button type=\"button\">{}</button></th>",
            esc(header)
        ));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for g in &groups {
        out.push_str(&row(g, repeated));
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out
}

fn row(g: &Group<'_>, repeated: bool) -> String {
    let first = g.rows[0];
    let num = |v: u64, shown: String| format!("<td class=\"num\" data-v=\"{v}\">{shown}</td>");
    let mut cells = vec![
        format!("<td>{}</td>", esc(&g.key.sweep)),
        format!("<td class=\"mono\">{}</td>", esc(&first.name)),
        num(g.key.input_len, fmt_tokens(g.key.input_len)),
        num(g.key.output_len, fmt_tokens(g.key.output_len)),
        num(g.key.concurrency, g.key.concurrency.to_string()),
        num(first.num_prompts, first.num_prompts.to_string()),
    ];
    if repeated {
        cells.push(num(g.rows.len() as u64, g.rows.len().to_string()));
    }
    let status = g.status();
    let mut status_cell = format!(
        "<td data-v=\"{}\"><span class=\"{}\">{}</span>",
        esc(status),
        status_class(status),
        esc(status)
    );
    if g.rows.len() > 1 {
        status_cell.push_str(&format!(
            "<small>{} of {} ok</small>",
            g.ok().count(),
            g.rows.len()
        ));
    }
    status_cell.push_str("</td>");
    cells.push(status_cell);
    for m in TABLE_METRICS {
        cells.push(metric_cell(g, g.metric(*m), |r| r.metric(*m)));
    }
    cells.push(reason_cell(&g.reasons().join("; ")));
    format!(
        "<tr data-point=\"{}\">{}</tr>\n",
        esc(&format!("{}/{}", g.key.sweep, first.name)),
        cells.concat()
    )
}

/// Reasons can run to many lines (validation problems, an error's chain): the table shows
/// the start, the tooltip and the failures section the whole.
const REASON_CHARS: usize = 140;

fn reason_cell(reason: &str) -> String {
    let flat = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= REASON_CHARS {
        return format!("<td class=\"reason\">{}</td>", esc(&flat));
    }
    let short: String = flat.chars().take(REASON_CHARS).collect();
    format!(
        "<td class=\"reason\" title=\"{}\">{}…</td>",
        esc(reason),
        esc(short.trim_end())
    )
}

/// The median (sort key and text), the range below it when several repeats passed, and
/// every repeat's value in the tooltip.
fn metric_cell(
    g: &Group<'_>,
    spread: Option<Spread>,
    value: impl Fn(&Row) -> Option<f64>,
) -> String {
    let Some(s) = spread else {
        return "<td class=\"num\">-</td>".into();
    };
    let mut cell = format!("<td class=\"num\" data-v=\"{}\"", s.median);
    if g.rows.len() > 1 {
        let each: Vec<String> = g
            .rows
            .iter()
            .map(|r| {
                if r.status == "ok" {
                    fmt_num(value(r))
                } else {
                    r.status.clone()
                }
            })
            .collect();
        cell.push_str(&format!(
            " title=\"median of {} passing repeat{}; each: {}\"",
            s.n,
            if s.n == 1 { "" } else { "s" },
            esc(&each.join(" · "))
        ));
    }
    cell.push('>');
    cell.push_str(&fmt_num(Some(s.median)));
    if s.n > 1 {
        cell.push_str(&format!(
            "<small>{}–{}</small>",
            fmt_num(Some(s.min)),
            fmt_num(Some(s.max))
        ));
    }
    cell.push_str("</td>");
    cell
}
