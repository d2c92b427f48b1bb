//! Reading the log tails of failed points for [`super::Page::logs`]: the only part of the
//! page that touches the disk, kept apart so that [`super::html`] stays a pure function.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::escape::clean_terminal;
use super::failures::is_failure;
use crate::report::Row;

/// How much of a log's end is read: enough for hundreds of lines, and a multi-gigabyte log
/// costs no more than a small one.
const TAIL_BYTES: u64 = 256 * 1024;

/// The last `n` lines of each failed row's log file ([`Row::log`]), keyed by the point's
/// label (`<sweep>/<name>`, `.r<k>` for repeats), for [`super::Page::logs`]. Terminal colour
/// codes and progress-bar redraws are cleaned out. A log that cannot be read is reported in
/// place of its text, so the page says why it is missing; a row without a log has no entry.
pub fn failed_logs(rows: &[Row], n: usize) -> Vec<(String, String)> {
    let labels = super::labels(rows);
    rows.iter()
        .zip(labels)
        .filter(|(r, _)| is_failure(&r.status))
        .filter_map(|(r, label)| {
            let path = r.log.as_ref()?;
            let text = match tail(path, n) {
                Ok(text) => text,
                Err(e) => format!("(the log {} could not be read: {e})", path.display()),
            };
            Some((label, text))
        })
        .collect()
}

/// The last `n` lines of a file, as text (invalid UTF-8 replaced).
fn tail(path: &Path, n: usize) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = clean_terminal(&String::from_utf8_lossy(&bytes));
    let mut lines: Vec<&str> = text.lines().collect();
    // Reading from the middle of the file: the first line is probably cut.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let from = lines.len().saturating_sub(n);
    Ok(lines[from..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn row(input_len: u64, status: &str, repeat: u32, log: Option<PathBuf>) -> Row {
        Row {
            sweep: "production".into(),
            name: format!("input_{input_len}"),
            input_len,
            output_len: 500,
            concurrency: 5,
            num_prompts: 10,
            status: status.into(),
            reason: Some("boom".into()),
            result: None,
            file: None,
            repeat,
            log,
            telemetry: Default::default(),
        }
    }

    #[test]
    fn last_lines_of_failed_rows_keyed_by_point() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, format!("\u{1b}[31m{text}\u{1b}[0m")).unwrap();
        let rows = vec![
            // Two repeats of one point: labelled like the plan's ids.
            row(1024, "ok", 1, Some(log.clone())),
            row(1024, "failed", 2, Some(log.clone())),
            // No log: no entry.
            row(2048, "failed", 1, None),
            row(4096, "failed", 1, Some(dir.path().join("missing.log"))),
        ];
        let logs = failed_logs(&rows, 3);
        assert_eq!(logs.len(), 2, "{logs:?}");
        assert_eq!(logs[0].0, "production/input_1024.r2");
        assert_eq!(logs[0].1, "line 48\nline 49\nline 50");
        assert_eq!(logs[1].0, "production/input_4096");
        assert!(logs[1].1.contains("could not be read"), "{}", logs[1].1);
    }

    #[test]
    fn a_long_log_is_read_from_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("big.log");
        let text: String = (1..=100_000).map(|i| format!("line {i}\n")).collect();
        assert!(text.len() as u64 > TAIL_BYTES);
        std::fs::write(&log, text).unwrap();
        assert_eq!(tail(&log, 2).unwrap(), "line 99999\nline 100000");
        // Asking for more lines than the window holds yields only whole lines.
        let many = tail(&log, 1_000_000).unwrap();
        assert!(many.lines().all(|l| l.starts_with("line ")));
        assert!(many.ends_with("line 100000"));
    }
}
