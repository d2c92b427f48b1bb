//! The "Failures" section: each point that failed (or was cut short), with its reason and
//! the tail of its console log in a collapsible block.

use super::escape::esc;
use super::status_class;
use crate::report::{Row, fmt_tokens};

/// A point that ran and did not pass: `failed`, or `interrupted` (vbench stopped during it).
/// Skipped and pending points never ran, so they have no log to show.
pub fn is_failure(status: &str) -> bool {
    matches!(status, "failed" | "interrupted")
}

/// `labels[i]` names `rows[i]`; `logs` is keyed by those labels.
pub fn section(rows: &[Row], labels: &[String], logs: &[(String, String)]) -> String {
    let mut out = String::from("<section id=\"failures\">\n<h2>Failures</h2>\n");
    let mut shown: Vec<&str> = Vec::new();
    for (row, label) in rows.iter().zip(labels) {
        if !is_failure(&row.status) {
            continue;
        }
        out.push_str(&format!(
            "<div class=\"failure\">\n<h3><span class=\"{}\">{}</span> <span class=\"mono\">{}</span></h3>\n",
            status_class(&row.status),
            esc(&row.status),
            esc(label)
        ));
        out.push_str(&format!(
            "<p class=\"muted\">input {} · output {} · concurrency {} · {} prompts{}</p>\n",
            fmt_tokens(row.input_len),
            fmt_tokens(row.output_len),
            row.concurrency,
            row.num_prompts,
            if row.repeat > 1 {
                format!(" · repeat {}", row.repeat)
            } else {
                String::new()
            }
        ));
        match row.reason.as_deref() {
            Some(why) if !why.trim().is_empty() => {
                out.push_str(&format!("<pre class=\"reason\">{}</pre>\n", esc(why)));
            }
            _ => out.push_str("<p class=\"muted\">No reason was recorded.</p>\n"),
        }
        match logs.iter().find(|(point, _)| point == label) {
            Some((_, tail)) => {
                shown.push(label);
                out.push_str(&log_details(tail));
            }
            None => out.push_str("<p class=\"muted\">No log was recorded for this point.</p>\n"),
        }
        out.push_str("</div>\n");
    }
    // Logs given for points this page does not list as failed are still shown, not dropped.
    for (point, tail) in logs.iter().filter(|(p, _)| !shown.contains(&p.as_str())) {
        out.push_str(&format!(
            "<div class=\"failure\">\n<h3><span class=\"mono\">{}</span></h3>\n{}</div>\n",
            esc(point),
            log_details(tail)
        ));
    }
    out.push_str("</section>\n");
    out
}

fn log_details(tail: &str) -> String {
    let lines = tail.lines().count();
    format!(
        "<details><summary>Log: last {lines} line{}</summary>\n<pre class=\"log\">{}</pre>\n</details>\n",
        if lines == 1 { "" } else { "s" },
        esc(tail)
    )
}
