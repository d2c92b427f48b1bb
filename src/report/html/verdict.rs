//! The verdict (shown first, its outcome in large type: pass, regressed with every finding,
//! or cannot judge with the reasons) and the "Comparison" section with the baseline.

use super::escape::esc;
use crate::report::compare::COMPARE_METRICS;
use crate::report::verdict::{Outcome, Verdict};
use crate::report::{ALL_METRICS, Comparison, MetricDelta, fmt_num, fmt_tokens};

pub fn verdict(v: &Verdict) -> String {
    let (class, outcome) = match v.outcome {
        Outcome::Pass => ("pass", "Pass: no regression".to_string()),
        Outcome::Regressed => (
            "regressed",
            format!(
                "Regressed: {} finding{}",
                v.regressions.len(),
                if v.regressions.len() == 1 { "" } else { "s" }
            ),
        ),
        Outcome::CannotJudge => ("cannot_judge", "Cannot judge".to_string()),
    };
    let mut out = format!(
        "<section id=\"verdict\" class=\"verdict {class}\" data-outcome=\"{class}\">\n\
         <div class=\"outcome\">{outcome}</div>\n"
    );
    out.push_str(&format!(
        "<p><strong>{}</strong> against the baseline <strong>{}</strong>: {} point{} compared; a \
         change counts beyond {} and beyond the noise between repeats.</p>\n",
        esc(&v.current),
        esc(&v.baseline),
        v.compared,
        if v.compared == 1 { "" } else { "s" },
        pct(v.threshold)
    ));
    if !v.regressions.is_empty() {
        out.push_str(
            "<div class=\"scroll\"><table>\n<thead><tr><th>point</th><th>metric</th>\
             <th class=\"num\">baseline</th><th class=\"num\">current</th>\
             <th class=\"num\">worse by</th><th class=\"num\">noise</th></tr></thead>\n<tbody>\n",
        );
        for f in &v.regressions {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num bad\">{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&f.point),
                esc(metric_header(&f.metric)),
                fmt_num(Some(f.baseline)),
                fmt_num(Some(f.current)),
                pct(f.worse_by),
                pct(f.noise)
            ));
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !v.reasons.is_empty() {
        out.push_str("<ul class=\"reasons\">\n");
        for r in &v.reasons {
            out.push_str(&format!("<li>{}</li>\n", esc(r)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

/// `12.3 %`.
fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// A metric id's table header (`p99_ttft_ms` → `TTFT p99 ms`); unknown ids as they are.
fn metric_header(id: &str) -> &str {
    ALL_METRICS
        .iter()
        .find(|m| m.id == id)
        .map_or(id, |m| m.header)
}

pub fn comparison(baseline: &str, c: &Comparison) -> String {
    let mut out = format!(
        "<section id=\"comparison\">\n<h2>Comparison with <span class=\"mono\">{}</span></h2>\n",
        esc(baseline)
    );
    out.push_str(&format!(
        "<p class=\"muted\">Ratio: how many times better this run is (throughput current / \
         baseline, latency baseline / current). Below {:.2}× is a regression, above {:.2}× an \
         improvement.</p>\n",
        1.0 - c.threshold,
        1.0 + c.threshold
    ));
    out.push_str(&format!("<p><strong>{}</strong></p>\n", esc(&c.headline())));

    let regs = c.regressions();
    if !regs.is_empty() {
        out.push_str("<h3>Regressions</h3>\n<ul>\n");
        for (p, m) in regs.iter().take(LISTED) {
            let what = match m {
                None => format!(
                    "now {} (was {})",
                    esc(p.current_status.as_deref().unwrap_or("-")),
                    esc(p.baseline_status.as_deref().unwrap_or("-"))
                ),
                Some(m) => format!("{} {}", esc(m.metric.header), change_text(m)),
            };
            out.push_str(&format!(
                "<li class=\"bad\">{}: {what}</li>\n",
                esc(&p.label())
            ));
        }
        out.push_str(&more(regs.len()));
        out.push_str("</ul>\n");
    }
    let imps = c.improvements();
    if !imps.is_empty() {
        out.push_str("<h3>Improvements</h3>\n<ul>\n");
        for (p, m) in imps.iter().take(LISTED) {
            out.push_str(&format!(
                "<li class=\"good\">{}: {} {}</li>\n",
                esc(&p.label()),
                esc(m.metric.header),
                change_text(m)
            ));
        }
        out.push_str(&more(imps.len()));
        out.push_str("</ul>\n");
    }

    out.push_str(
        "<div class=\"scroll\">\n<table id=\"comparison-table\" data-sortable>\n<thead><tr>",
    );
    let mut heads: Vec<(&str, bool)> = vec![
        ("sweep", false),
        ("input", true),
        ("output", true),
        ("conc", true),
        ("status", false),
    ];
    heads.extend(COMPARE_METRICS.iter().map(|m| (m.header, true)));
    for (h, numeric) in heads {
        let (class, ty) = if numeric {
            (" class=\"num\"", "num")
        } else {
            ("", "text")
        };
        out.push_str(&format!(
            "<th{class} data-type=\"{ty}\"><button type=\"button\">{}</button></th>",
            esc(h)
        ));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for p in &c.points {
        let status = match (&p.baseline_status, &p.current_status) {
            (Some(b), Some(n)) if b == n => esc(n),
            (Some(b), Some(n)) => format!("{} → {}", esc(b), esc(n)),
            (None, Some(n)) => format!("{} (new)", esc(n)),
            (Some(b), None) => format!("{} (not in this run)", esc(b)),
            (None, None) => "-".into(),
        };
        let status_class = if p.status_regression {
            " class=\"bad\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td>\
             <td class=\"num\">{}</td><td{status_class}>{status}</td>",
            esc(&p.sweep),
            p.input_len,
            fmt_tokens(p.input_len),
            p.output_len,
            fmt_tokens(p.output_len),
            p.concurrency
        ));
        for m in &p.metrics {
            out.push_str(&change_cell(m));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out
}

/// Regressions and improvements listed by name; the table below has every one of them.
const LISTED: usize = 20;

fn more(total: usize) -> String {
    if total > LISTED {
        format!(
            "<li class=\"muted\">… and {} more: see the table below.</li>\n",
            total - LISTED
        )
    } else {
        String::new()
    }
}

/// `48.4 → 60.5 (0.80×)`.
fn change_text(m: &MetricDelta) -> String {
    let mut s = format!("{} → {}", fmt_num(m.baseline), fmt_num(m.current));
    if let Some(r) = m.ratio {
        s.push_str(&format!(" ({r:.2}×)"));
    }
    s
}

/// A metric's change, sorted by its ratio; coloured when it counts.
fn change_cell(m: &MetricDelta) -> String {
    if m.baseline.is_none() && m.current.is_none() {
        return "<td class=\"num\">-</td>".into();
    }
    let class = if m.regression {
        "num bad"
    } else if m.improvement {
        "num good"
    } else {
        "num"
    };
    let (key, ratio) = match m.ratio {
        Some(r) => (
            format!(" data-v=\"{r}\""),
            format!("<small>{r:.2}×</small>"),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "<td class=\"{class}\"{key}>{} → {}{ratio}</td>",
        fmt_num(m.baseline),
        fmt_num(m.current)
    )
}
