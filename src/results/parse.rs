//! Lenient reading of result files: one JSON object (any indentation) or JSON lines
//! (`--append-result`, the last object wins), Python's bare `NaN`/`Infinity`/`-Infinity`
//! tolerated, every key optional — but a key vbench uses that holds the wrong type is an error
//! naming file, line, column and field.

use std::fmt;

use serde_json::Value;

use super::BenchResult;

/// Why a result file could not be read. `Display`: `FILE:LINE:COL: field `x`: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file (or other origin) given to `parse`.
    pub origin: String,
    /// 1-based line in the original bytes.
    pub line: usize,
    /// 1-based column (bytes) in the original bytes.
    pub column: usize,
    /// The top-level key concerned, when the problem is a value's type.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parse a result file; with several objects (JSON lines) the last one is the result.
pub fn parse(bytes: &[u8], origin: &str) -> Result<BenchResult, ParseError> {
    let mut all = parse_all(bytes, origin)?;
    // parse_all never returns an empty Vec.
    Ok(all.pop().expect("parse_all returns at least one object"))
}

/// Parse every object of a file (one for `--save-result`, one per run with `--append-result`).
pub fn parse_all(bytes: &[u8], origin: &str) -> Result<Vec<BenchResult>, ParseError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(bytes, e.valid_up_to());
            return Err(ParseError {
                origin: origin.to_string(),
                line,
                column,
                field: None,
                message: "not UTF-8 text".into(),
            });
        }
    };
    // Positions are reported in the original bytes, byte-order mark included.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let text = &text[bom..];
    let san = Sanitized::new(text);
    let err_at = |san_off: usize, field: Option<&str>, message: String| {
        let (line, column) = line_col(bytes, bom + san.original_offset(san_off));
        ParseError {
            origin: origin.to_string(),
            line,
            column,
            field: field.map(str::to_string),
            message,
        }
    };

    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&san.text).into_iter::<Value>();
    let mut start = 0usize;
    loop {
        let begin = skip_ws(san.text.as_bytes(), start);
        let Some(item) = stream.next() else { break };
        let end = stream.byte_offset();
        start = end;
        let value = match item {
            Ok(v) => v,
            Err(e) => {
                let off = offset_of_line_col(san.text.as_bytes(), e.line(), e.column());
                let msg = strip_position(&e.to_string());
                return Err(err_at(off, None, format!("invalid JSON: {msg}")));
            }
        };
        let Value::Object(map) = value else {
            return Err(err_at(
                begin,
                None,
                format!("expected a JSON object, found {}", describe(&value)),
            ));
        };
        if let Some((field, message)) = check_types(&map) {
            let off = find_key(san.text.as_bytes(), begin, end, &field).unwrap_or(begin);
            return Err(err_at(off, Some(&field), message));
        }
        let (line, _) = line_col(bytes, bom + san.original_offset(begin));
        out.push(BenchResult {
            raw: map,
            origin: origin.to_string(),
            line,
        });
    }
    if out.is_empty() {
        return Err(err_at(0, None, "empty file: no JSON object".into()));
    }
    Ok(out)
}

/// A number, or a string holding one (`"inf"`, `"-inf"`, `"nan"`, `"Infinity"`, `"12.5"`;
/// Rust's float parser accepts these spellings case-insensitively).
pub(super) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A non-negative integer: a JSON integer, an integral float (`8.0`) or a digit string.
pub(super) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            // Exact integers only; 2^53 bounds what an f64 holds exactly.
            (f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0).then_some(f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// Keys read as non-negative integers.
const INT_KEYS: &[&str] = &[
    "completed",
    "failed",
    "num_prompts",
    "total_input_tokens",
    "total_output_tokens",
    "max_concurrency",
    "max_concurrent_requests",
];

/// Keys read as floats (besides the `mean_/median_/std_/pNN_ … _ms` statistics).
const FLOAT_KEYS: &[&str] = &[
    "duration",
    "request_rate",
    "burstiness",
    "request_throughput",
    "request_goodput",
    "request_goodput:",
    "output_throughput",
    "total_token_throughput",
    "input_throughput",
    "max_output_tokens_per_s",
];

/// `mean_ttft_ms`, `p99_e2el_ms`, `p99.9_itl_ms`, …: the percentile statistics vLLM writes.
fn is_stat_key(key: &str) -> bool {
    let Some(rest) = key.strip_suffix("_ms") else {
        return false;
    };
    let Some((head, metric)) = rest.split_once('_') else {
        return false;
    };
    if metric.is_empty() {
        return false;
    }
    matches!(head, "mean" | "median" | "std")
        || head
            .strip_prefix('p')
            .is_some_and(|p| !p.is_empty() && p.parse::<f64>().is_ok())
}

/// The first key whose value has a type vbench cannot use, with the reason.
fn check_types(map: &serde_json::Map<String, Value>) -> Option<(String, String)> {
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        let k = key.as_str();
        if INT_KEYS.contains(&k) && value_u64(value).is_none() {
            return Some((
                key.clone(),
                format!("expected a non-negative integer, found {}", describe(value)),
            ));
        }
        if (FLOAT_KEYS.contains(&k) || is_stat_key(k)) && value_f64(value).is_none() {
            return Some((
                key.clone(),
                format!("expected a number, found {}", describe(value)),
            ));
        }
        if k == "latencies" {
            let Value::Array(items) = value else {
                return Some((
                    key.clone(),
                    format!("expected a list of numbers, found {}", describe(value)),
                ));
            };
            if let Some((i, bad)) = items
                .iter()
                .enumerate()
                .find(|(_, v)| value_f64(v).is_none())
            {
                return Some((
                    key.clone(),
                    format!("element {i}: expected a number, found {}", describe(bad)),
                ));
            }
        }
        if k == "errors" {
            let Value::Array(items) = value else {
                return Some((
                    key.clone(),
                    format!("expected a list of strings, found {}", describe(value)),
                ));
            };
            if let Some((i, bad)) = items
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_string() || v.is_null()))
            {
                return Some((
                    key.clone(),
                    format!("element {i}: expected a string, found {}", describe(bad)),
                ));
            }
        }
    }
    None
}

/// Short human description of a value for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ell = if short.len() < s.len() { "…" } else { "" };
            format!("the string {:?}{ell}", short)
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The text with bare `NaN`/`Infinity`/`-Infinity` (outside strings) quoted so serde_json
/// accepts it, plus the offset shifts needed to report positions in the original text.
struct Sanitized<'a> {
    text: std::borrow::Cow<'a, str>,
    /// (sanitized offset, original offset, token length) of each quoted token, ascending.
    shifts: Vec<(usize, usize, usize)>,
}

impl<'a> Sanitized<'a> {
    fn new(text: &'a str) -> Self {
        const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
        let b = text.as_bytes();
        let (mut in_str, mut escaped) = (false, false);
        let mut out: Option<String> = None;
        let mut shifts = Vec::new();
        let mut copied = 0; // original bytes already copied into `out`
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if in_str {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_str = false;
                }
                i += 1;
                continue;
            }
            if c == b'"' {
                in_str = true;
                i += 1;
                continue;
            }
            if let Some(tok) = TOKENS.iter().find(|t| b[i..].starts_with(t.as_bytes())) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..i]);
                shifts.push((o.len(), i, tok.len() + 2));
                o.push('"');
                o.push_str(tok);
                o.push('"');
                i += tok.len();
                copied = i;
                continue;
            }
            i += 1;
        }
        let text = match out {
            Some(mut o) => {
                o.push_str(&text[copied..]);
                std::borrow::Cow::Owned(o)
            }
            None => std::borrow::Cow::Borrowed(text),
        };
        Sanitized { text, shifts }
    }

    /// Map an offset in the sanitized text back to the original text.
    fn original_offset(&self, san: usize) -> usize {
        // Each quoted token adds 2 bytes; positions inside one map to its start.
        let idx = self.shifts.partition_point(|&(s, _, _)| s <= san);
        if idx == 0 {
            return san;
        }
        let (s, o, len) = self.shifts[idx - 1];
        if san < s + len { o } else { o + (san - s) - 2 }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Offset of the opening quote of top-level key `key` in the object spanning `[start, end)`.
/// The last occurrence wins, as it does for serde_json's map.
fn find_key(b: &[u8], start: usize, end: usize, key: &str) -> Option<usize> {
    let (mut depth, mut i, mut found) = (0usize, start, None);
    let end = end.min(b.len());
    while i < end {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let open = i;
                i += 1;
                while i < end && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                // A string at depth 1 followed by ':' is a top-level key.
                if depth == 1 && &b[open + 1..i.min(end)] == key.as_bytes() {
                    let after = skip_ws(b, i + 1);
                    if after < end && b[after] == b':' {
                        found = Some(open);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// 1-based (line, column) of a byte offset.
fn line_col(b: &[u8], off: usize) -> (usize, usize) {
    let off = off.min(b.len());
    let before = &b[..off];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let col = off
        - before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// Byte offset of serde_json's 1-based (line, column); column 0 means "start of line".
fn offset_of_line_col(b: &[u8], line: usize, column: usize) -> usize {
    let mut off = 0;
    for _ in 1..line {
        match b[off..].iter().position(|&c| c == b'\n') {
            Some(p) => off += p + 1,
            None => return b.len(),
        }
    }
    (off + column.saturating_sub(1)).min(b.len())
}

/// serde_json appends " at line L column C"; we print our own (original-text) position.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(p) => msg[..p].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_keys() {
        for k in [
            "mean_ttft_ms",
            "p99_e2el_ms",
            "p99.9_itl_ms",
            "std_tpot_ms",
            "median_client_queue_time_ms",
        ] {
            assert!(is_stat_key(k), "{k}");
        }
        for k in ["duration", "p_ms", "mean_ms", "pX_ttft_ms", "latency_ms"] {
            assert!(!is_stat_key(k), "{k}");
        }
    }

    #[test]
    fn sanitize_maps_offsets_back() {
        let t = r#"{"a": NaN, "s": "NaN Infinity", "b": -Infinity, "c": x}"#;
        let s = Sanitized::new(t);
        assert_eq!(
            s.text,
            r#"{"a": "NaN", "s": "NaN Infinity", "b": "-Infinity", "c": x}"#
        );
        let x_san = s.text.find('x').unwrap();
        assert_eq!(s.original_offset(x_san), t.find('x').unwrap());
    }

    #[test]
    fn positions_count_the_byte_order_mark() {
        // Found by tests/fuzz_results.rs: with a BOM, columns on line 1 were 3 bytes short.
        let text = "\u{feff}{\"completed\": false}";
        let e = parse_all(text.as_bytes(), "f").expect_err("wrong type");
        assert_eq!((e.line, e.column), (1, 5), "{e}");
        assert_eq!(&text.as_bytes()[e.column - 1..][..11], b"\"completed\"");
        let e = parse_all("\u{feff}{\"a\": x}".as_bytes(), "f").expect_err("bad JSON");
        assert_eq!((e.line, e.column), (1, 10), "{e}");
    }

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(offset_of_line_col(b"ab\ncd", 2, 2), 4);
    }
}
