//! `report.html`: one self-contained page per run (or per import) that a person opens from
//! the run directory. It holds the verdict, the status counts, what measured the run, every
//! chart as inline SVG, a sortable table of the points (median and spread over repeats), each
//! failed point with its reason and log tail, and the comparison with the baseline.
//!
//! Self-contained means it loads nothing: no CDN, font, stylesheet, script or image from
//! anywhere, not even a file next to it. Styles and the one script are inline; a Content
//! Security Policy forbids every fetch and lets only that script run (see [`assets`]). Every
//! piece of text from a run (reasons, logs, configuration, names) is escaped (see
//! [`escape`]), and the page reads fine without JavaScript, which only adds sorting.
//!
//! [`html`] is pure; [`failed_logs`] is the only part that reads files (the log tails).

mod assets;
mod charts;
mod escape;
mod failures;
mod history;
mod logs;
mod meta;
mod table;
mod telemetry;
mod verdict;

pub use history::{TrendRow, history_page};
pub use logs::failed_logs;

use super::markdown::status_line;
use super::{Comparison, Row, RunMeta};
use crate::report::verdict::Verdict;
use escape::esc;

/// Everything one page shows.
pub struct Page<'a> {
    pub meta: &'a RunMeta,
    pub rows: &'a [Row],
    /// `(title, svg)`: SVG text as the chart module produced it, embedded inline.
    pub charts: &'a [(String, String)],
    /// `(baseline title, comparison)`.
    pub comparison: Option<(&'a str, &'a Comparison)>,
    pub verdict: Option<&'a Verdict>,
    /// `(point, log tail)` for failed points, as [`failed_logs`] returns them.
    pub logs: &'a [(String, String)],
}

/// The page, as one HTML document.
pub fn html(page: &Page) -> String {
    let meta = page.meta;
    let labels = labels(page.rows);
    let title = if meta.title.is_empty() {
        "vbench report".to_string()
    } else {
        format!("vbench report: {}", meta.title)
    };
    let has_failures = page.rows.iter().any(|r| failures::is_failure(&r.status));

    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        assets::csp()
    ));
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"generator\" content=\"vbench\">\n");
    out.push_str(&format!(
        "<title>{}{}</title>\n",
        esc(&title),
        if meta.standin { " (CPU stand-in)" } else { "" }
    ));
    out.push_str(&format!("<style>\n{}</style>\n", assets::STYLE));
    out.push_str("</head>\n<body>\n<main>\n");

    out.push_str(&format!("<header>\n<h1>{}</h1>\n", esc(&title)));
    let mut sub = Vec::new();
    if let Some(started) = &meta.started {
        sub.push(format!("started {}", esc(started)));
    }
    if let Some(model) = &meta.model {
        sub.push(format!("model <code>{}</code>", esc(model)));
    }
    if !meta.source.is_empty() {
        sub.push(format!("from <code>{}</code>", esc(&meta.source)));
    }
    if !sub.is_empty() {
        out.push_str(&format!("<p class=\"sub\">{}</p>\n", sub.join(" · ")));
    }
    if meta.standin {
        out.push_str(
            "<div class=\"banner\" id=\"standin\" role=\"note\">CPU stand-in — a rehearsal, not a \
             GPU measurement. These numbers say nothing about vLLM's speed.</div>\n",
        );
    }
    out.push_str(&nav(page, has_failures));
    out.push_str("</header>\n");

    if let Some(v) = page.verdict {
        out.push_str(&verdict::verdict(v));
    }
    out.push_str(&summary(page.rows, has_failures));
    out.push_str(&meta::section(meta));
    out.push_str(&charts::section(page.charts));
    out.push_str(&table::section(page.rows));
    if crate::report::telemetry::any(page.rows) {
        out.push_str(&telemetry::section(page.rows));
    }
    if has_failures {
        out.push_str(&failures::section(page.rows, &labels, page.logs));
    }
    if let Some((name, c)) = page.comparison {
        out.push_str(&verdict::comparison(name, c));
    }
    out.push_str(&format!(
        "<footer>Written by vbench {}. This file is complete in itself: it loads nothing \
         from anywhere.</footer>\n",
        esc(if meta.vbench_version.is_empty() {
            env!("CARGO_PKG_VERSION")
        } else {
            &meta.vbench_version
        })
    ));
    out.push_str("</main>\n");
    // Last, so the tables exist when it runs. Exactly the hashed text between the tags: a
    // byte more (a newline) and the policy refuses it.
    out.push_str(&format!("<script>{}</script>\n", assets::SCRIPT));
    out.push_str("</body>\n</html>\n");
    out
}

/// In-page links to the sections present.
fn nav(page: &Page, has_failures: bool) -> String {
    let mut links = Vec::new();
    if page.verdict.is_some() {
        links.push(("verdict", "Verdict"));
    }
    links.extend([("summary", "Summary"), ("run", "Run")]);
    if !page.charts.is_empty() {
        links.push(("charts", "Charts"));
    }
    links.push(("points", "Points"));
    if crate::report::telemetry::any(page.rows) {
        links.push(("telemetry", "Telemetry"));
    }
    if has_failures {
        links.push(("failures", "Failures"));
    }
    if page.comparison.is_some() {
        links.push(("comparison", "Comparison"));
    }
    let links: Vec<String> = links
        .iter()
        .map(|(id, text)| format!("<a href=\"#{id}\">{text}</a>"))
        .collect();
    format!("<nav>{}</nav>\n", links.join(""))
}

/// Status counts, as chips and as the sentence `summary.md` has.
fn summary(rows: &[Row], has_failures: bool) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for row in rows {
        match counts.iter_mut().find(|(s, _)| *s == row.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((&row.status, 1)),
        }
    }
    let mut out = String::from("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"chips\">");
    for (status, n) in &counts {
        out.push_str(&format!(
            "<span class=\"{}\">{n} {}</span>",
            status_class(status),
            esc(status)
        ));
    }
    out.push_str("</div>\n");
    let repeated = super::group(rows)
        .iter()
        .filter(|g| g.rows.len() > 1)
        .count();
    let mut line = esc(&status_line(rows));
    if repeated > 0 {
        line.push_str(&format!(
            " {repeated} point{} measured several times: the table shows the median of the \
             passing repeats and their range.",
            if repeated == 1 { " was" } else { "s were" }
        ));
    }
    if has_failures {
        line.push_str(" See <a href=\"#failures\">the failures</a> for reasons and logs.");
    }
    out.push_str(&format!("<p>{line}</p>\n</section>\n"));
    out
}

/// The `class` of a status badge: `status s-<status>` (letters only, so any status is safe).
fn status_class(status: &str) -> String {
    let safe: String = status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("status s-{safe}")
}

/// One label per row, naming its point as the plan does: `<sweep>/<name>`, with `.r<k>` when
/// the point has several rows (repeats). [`failed_logs`] keys its logs with these, and the
/// failures section finds them by them.
fn labels(rows: &[Row]) -> Vec<String> {
    let groups = super::group(rows);
    rows.iter()
        .map(|r| {
            let repeated = groups
                .iter()
                .find(|g| g.key == super::Key::of(r))
                .is_some_and(|g| g.rows.len() > 1);
            if repeated {
                format!("{}/{}.r{}", r.sweep, r.name, r.repeat)
            } else {
                format!("{}/{}", r.sweep, r.name)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
