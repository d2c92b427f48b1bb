//! `history.html`: the trend chart of `vbench history` and its table on one self-contained
//! page (the same stylesheet, policy and sorting script as `report.html`).

use super::assets;
use super::charts;
use super::escape::esc;

/// One run of the history table: its id, its night ("ok" or why invalid), one value per
/// point.
pub struct TrendRow {
    pub run: String,
    pub night: String,
    pub values: Vec<Option<f64>>,
    pub invalid: bool,
}

/// The page: a title, the chart (SVG text) and the table (`points` are the value columns).
pub fn history_page(title: &str, svg: &str, points: &[String], rows: &[TrendRow]) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        assets::csp()
    ));
    out.push_str(&format!("<title>{}</title>\n", esc(title)));
    out.push_str(&format!("<style>\n{}</style>\n", assets::STYLE));
    out.push_str("</head>\n<body>\n<main>\n");
    out.push_str(&format!("<header>\n<h1>{}</h1>\n</header>\n", esc(title)));
    out.push_str(&charts::section(&[(title.to_string(), svg.to_string())]));
    out.push_str(
        "<section id=\"points\">\n<h2>Runs</h2>\n<div class=\"scroll\">\n<table data-sortable>\n<thead><tr>",
    );
    let th = |key: &str, header: &str, numeric: bool| {
        format!(
            "<th{} data-key=\"{}\" data-type=\"{}\"><button type=\"button\">{}</button></th>",
            if numeric { " class=\"num\"" } else { "" },
            esc(key),
            if numeric { "num" } else { "text" },
            esc(header)
        )
    };
    out.push_str(&th("run", "run", false));
    out.push_str(&th("night", "night", false));
    for (i, p) in points.iter().enumerate() {
        out.push_str(&th(&format!("p{i}"), p, true));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let class = if r.invalid { " class=\"invalid\"" } else { "" };
        out.push_str(&format!(
            "<tr{class}><td class=\"mono\">{}</td><td>{}</td>",
            esc(&r.run),
            esc(&r.night)
        ));
        for v in &r.values {
            match v {
                Some(x) if x.is_finite() => out.push_str(&format!(
                    "<td class=\"num\" data-v=\"{x}\">{}</td>",
                    esc(&crate::report::fmt_num(Some(*x)))
                )),
                _ => out.push_str("<td class=\"num\">-</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out.push_str(
        "<footer>Written by vbench. This file is complete in itself: it loads nothing from anywhere.</footer>\n",
    );
    out.push_str("</main>\n");
    // Exactly the hashed text between the tags, as on report.html.
    out.push_str(&format!("<script>{}</script>\n", assets::SCRIPT));
    out.push_str("</body>\n</html>\n");
    out
}
