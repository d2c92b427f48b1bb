//! Python's text forms, so that what the stand-in prints and writes is byte-compatible with
//! what real vLLM (a Python program) prints and writes: `repr(float)`, `repr(str)`,
//! `json.dump` with its default separators and `ensure_ascii`, and `str.format` padding.

use serde_json::Value;

/// `repr(x)` / `str(x)` of a Python float: shortest round-trip digits, fixed notation for
/// decimal exponents in [-4, 16), else `d.ddde±XX`; `1.0` not `1`; `inf`, `nan`.
pub fn float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits Python uses; only the layout differs.
    let sci = format!("{:e}", x.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// `repr(s)` of a Python str (single quotes unless the text holds `'` and no `"`).
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr()` of an optional str (`None` when absent).
pub fn opt_str(s: Option<&str>) -> String {
    s.map(str_repr).unwrap_or_else(|| "None".into())
}

/// `json.dump(value, f)` with Python's defaults: `", "` and `": "` separators, insertion order,
/// non-ASCII escaped as `\uXXXX`, floats as `repr`, non-finite floats as `NaN`/`Infinity`.
pub fn json_dump(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(f64::NAN);
                out.push_str(&match float(f).as_str() {
                    "nan" => "NaN".to_string(),
                    "inf" => "Infinity".to_string(),
                    "-inf" => "-Infinity".to_string(),
                    s => s.to_string(),
                });
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_json_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_str(k, out);
                out.push_str(": ");
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `"{s:{c}^{n}}".format(...)`: `s` centred in `n` columns with fill `c` (extra fill on the right).
pub fn center(s: &str, fill: char, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let pad = width - len;
    let left = pad / 2;
    format!(
        "{}{}{}",
        fill.to_string().repeat(left),
        s,
        fill.to_string().repeat(pad - left)
    )
}

/// `"{:<40} {:<10}".format(label, value)`.
pub fn row(label: &str, value: &str) -> String {
    format!("{label:<40} {value:<10}")
}

/// `"{:<40} {:<10.2f}".format(label, value)`.
pub fn row_f2(label: &str, value: f64) -> String {
    row(label, &format!("{value:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.41751540600034787, "0.41751540600034787"),
            (256.0, "256.0"),
            (2.5e-5, "2.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (-0.5, "-0.5"),
            (99.9, "99.9"),
            (3065.7551352702267, "3065.7551352702267"),
            (1.5e300, "1.5e+300"),
            (f64::INFINITY, "inf"),
        ];
        for (x, want) in cases {
            assert_eq!(float(x), want, "{x:e}");
        }
    }

    #[test]
    fn json_dump_uses_python_separators_and_escapes() {
        let v: Value = serde_json::json!({"a": 1, "b": [1.0, null, "é\n"], "c": {"d": true}});
        assert_eq!(
            json_dump(&v),
            r#"{"a": 1, "b": [1.0, null, "\u00e9\n"], "c": {"d": true}}"#
        );
    }

    #[test]
    fn centring_and_rows_match_str_format() {
        assert_eq!(
            center(" Serving Benchmark Result ", '=', 50),
            "============ Serving Benchmark Result ============"
        );
        assert_eq!(
            center("Time to First Token", '-', 50),
            "---------------Time to First Token----------------"
        );
        assert_eq!(
            row("Successful requests:", "8"),
            "Successful requests:                     8         "
        );
        assert_eq!(
            row_f2("Peak concurrent requests:", 8.0),
            "Peak concurrent requests:                8.00      "
        );
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a"), "'a'");
    }
}
