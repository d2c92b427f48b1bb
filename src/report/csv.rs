//! `summary.csv`: one record per sweep point with every metric at full precision, for
//! spreadsheets and scripts. Missing values are empty fields (RFC 4180 quoting).

use super::{ALL_METRICS, Row};

/// Header plus one record per row.
pub fn csv(rows: &[Row]) -> String {
    let mut header: Vec<&str> = vec![
        "sweep",
        "name",
        "input_len",
        "output_len",
        "concurrency",
        "num_prompts",
        "status",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
    ];
    header.extend(ALL_METRICS.iter().map(|m| m.id));
    header.extend(["reason", "file"]);
    let mut out = header.join(",") + "\n";
    for row in rows {
        let r = row.result.as_ref();
        let count = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let mut fields = vec![
            quote(&row.sweep),
            quote(&row.name),
            row.input_len.to_string(),
            row.output_len.to_string(),
            row.concurrency.to_string(),
            row.num_prompts.to_string(),
            quote(&row.status),
            count(r.and_then(|r| r.completed())),
            count(r.and_then(|r| r.failed())),
            count(r.and_then(|r| r.total_input_tokens())),
            count(r.and_then(|r| r.total_output_tokens())),
        ];
        // `{}` of f64 is the shortest text that reads back as the same value.
        fields.extend(
            ALL_METRICS
                .iter()
                .map(|m| row.metric(*m).map(|v| v.to_string()).unwrap_or_default()),
        );
        // One line per record: line-based tools (grep, wc) must see one point per line.
        let reason = row
            .reason
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        fields.push(quote(&reason));
        fields.push(quote(
            &row.file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ));
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// Quote a field when it holds a comma, quote or line break.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
