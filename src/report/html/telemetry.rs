//! The "Telemetry" section: per point, what the GPUs and the server did while it ran (the
//! columns of [`crate::report::telemetry`]), sortable like the points table; each cell's
//! tooltip gives the series' min, mean and max.

use super::escape::esc;
use crate::report::telemetry::{Column, present};
use crate::report::{Row, fmt_num};

pub fn section(rows: &[Row]) -> String {
    let cols = present(rows);
    let mut out = String::from("<section id=\"telemetry\">\n<h2>Telemetry</h2>\n");
    out.push_str(
        "<p class=\"muted\">During each point: GPU figures over all its GPUs (utilisation \
         averaged, power summed), and from the server's <code>/metrics</code> its running and \
         waiting requests, KV-cache use, prefix-cache hit rate and preemptions. \
         <code>summary.json</code> has every series' min, mean and max.</p>\n",
    );
    out.push_str(
        "<div class=\"scroll\">\n<table id=\"telemetry-table\" data-sortable>\n<thead><tr>",
    );
    let mut heads: Vec<(&str, &str, bool)> = vec![
        ("sweep", "sweep", false),
        ("point", "point", false),
        ("repeat", "repeat", true),
    ];
    heads.extend(cols.iter().map(|c| (c.id, c.header, true)));
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
    for row in rows.iter().filter(|r| !r.telemetry.is_empty()) {
        out.push_str(&format!(
            "<tr data-point=\"{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"num\" data-v=\"{r}\">{r}</td>",
            esc(&format!("{}/{}", row.sweep, row.name)),
            esc(&row.sweep),
            esc(&row.name),
            r = row.repeat
        ));
        for c in &cols {
            out.push_str(&cell(row, c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out
}

fn cell(row: &Row, c: &Column) -> String {
    match (c.get)(row) {
        Some(v) => format!(
            "<td class=\"num\" data-v=\"{v}\" title=\"{}\">{}</td>",
            esc(&series_tooltip(row, c.id)),
            fmt_num(Some(v))
        ),
        None => "<td class=\"num\">-</td>".to_string(),
    }
}

/// The raw series behind a column: `gpu0.util_pct min 10 mean 50 max 90 (12 samples)`, one
/// per line.
fn series_tooltip(row: &Row, column: &str) -> String {
    let wanted = match column {
        "gpu_util_mean" | "gpu_util_max" => ".util_pct",
        "gpu_mem_max" => ".mem_used_mib",
        "gpu_power_mean" => ".power_w",
        "running_max" => "vllm.running",
        "waiting_max" => "vllm.waiting",
        "kv_cache_max" => "vllm.kv_cache_usage",
        "prefix_hit_mean" => "vllm.prefix_cache_hit_rate",
        "preemptions_max" => "vllm.preemptions_per_s",
        _ => return String::new(),
    };
    row.telemetry
        .iter()
        .filter(|(k, _)| k.ends_with(wanted))
        .map(|(k, s)| {
            format!(
                "{k}: min {} mean {} max {} ({} samples)",
                fmt_num(Some(s.min)),
                fmt_num(Some(s.mean)),
                fmt_num(Some(s.max)),
                s.n
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
