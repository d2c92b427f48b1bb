//! `summary.csv`: one record per sweep point with every metric at full precision, for
//! spreadsheets and scripts. Missing values are empty fields. Written with the `csv` crate's
//! defaults: `,`, a field quoted only when it holds a comma, quote or line break (RFC 4180),
//! `\n` line ends.

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
    let mut out = ::csv::Writer::from_writer(Vec::new());
    // Into memory, with every record as long as the header: writing cannot fail.
    out.write_record(&header).expect("csv header");
    for row in rows {
        let r = row.result.as_ref();
        let count = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let mut fields = vec![
            row.sweep.clone(),
            row.name.clone(),
            row.input_len.to_string(),
            row.output_len.to_string(),
            row.concurrency.to_string(),
            row.num_prompts.to_string(),
            row.status.clone(),
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
        fields.push(reason);
        fields.push(
            row.file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        out.write_record(&fields).expect("csv record");
    }
    let bytes = out.into_inner().expect("csv flush into memory");
    String::from_utf8(bytes).expect("csv of UTF-8 fields is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_where_needed_and_ends_lines_with_lf() {
        let row = Row {
            sweep: "a,b".into(),
            name: "say \"hi\"".into(),
            input_len: 1,
            output_len: 2,
            concurrency: 3,
            num_prompts: 4,
            status: "ok".into(),
            reason: Some("two\n  lines".into()),
            result: None,
            file: Some("d/x\ry.json".into()),
            repeat: 1,
            log: None,
            telemetry: Default::default(),
        };
        let text = csv(&[row]);
        let (header, record) = text.split_once('\n').expect("two lines");
        assert!(header.starts_with("sweep,name,input_len,"), "{header}");
        assert!(header.ends_with(",reason,file"), "{header}");
        // 4 empty counts and every metric empty between status and reason.
        let empties = ",".repeat(5 + ALL_METRICS.len());
        assert_eq!(
            record,
            format!("\"a,b\",\"say \"\"hi\"\"\",1,2,3,4,ok{empties}two lines,\"d/x\ry.json\"\n")
        );
    }
}
