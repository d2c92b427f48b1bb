//! The terminal table of a run (comfy-table): one line per sweep point, numbers right-aligned,
//! missing values as `-`, long failure reasons shortened.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::{Row, TABLE_METRICS, fmt_num, fmt_tokens};

/// Longest reason shown in the terminal (the full text is in `summary.md`).
const REASON_WIDTH: usize = 60;

/// Columns: sweep, input, conc, prompts, status, TTFT mean/p99, TPOT mean/p99, E2EL mean,
/// req/s, out tok/s, reason. With repeated points, the spread between repeats follows.
pub fn table(rows: &[Row]) -> String {
    let mut out = points_table(rows);
    if let Some(spread) = super::markdown::spread_table(rows, false) {
        out.push('\n');
        out.push_str(&spread);
    }
    out
}

fn points_table(rows: &[Row]) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec!["sweep", "input", "conc", "prompts", "status"];
    header.extend(TABLE_METRICS.iter().map(|m| m.header));
    header.push("reason");
    t.set_header(header);
    for row in rows {
        let mut cells = vec![
            row.sweep.clone(),
            fmt_tokens(row.input_len),
            row.concurrency.to_string(),
            row.num_prompts.to_string(),
            row.status.clone(),
        ];
        cells.extend(TABLE_METRICS.iter().map(|m| fmt_num(row.metric(*m))));
        cells.push(row.reason.as_deref().map(shorten).unwrap_or_default());
        t.add_row(cells);
    }
    // Right-align everything numeric: input .. last metric.
    for i in 1..(5 + TABLE_METRICS.len()) {
        if i == 4 {
            continue; // status
        }
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// One line, at most `REASON_WIDTH` characters.
fn shorten(reason: &str) -> String {
    let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= REASON_WIDTH {
        one_line
    } else {
        let cut: String = one_line.chars().take(REASON_WIDTH - 1).collect();
        format!("{cut}…")
    }
}
