//! The "Run" section: what measured the run (model, vLLM, image and digest, GPUs, serve
//! arguments, vbench), a summary of the server record, and the configuration and the whole
//! server record as collapsible JSON.

use serde_json::Value;

use super::escape::esc;
use crate::report::RunMeta;

pub fn section(m: &RunMeta) -> String {
    let mut out = String::from("<section id=\"run\">\n<h2>Run</h2>\n<dl class=\"meta\">\n");
    let mut item = |term: &str, value: Option<String>| {
        let dd = value.unwrap_or_else(|| "<span class=\"muted\">not recorded</span>".into());
        out.push_str(&format!("<dt>{term}</dt><dd>{dd}</dd>\n"));
    };
    let code = |s: &str| format!("<code>{}</code>", esc(s));
    let nonempty = |s: &str| (!s.is_empty()).then(|| esc(s));

    item("Run", nonempty(&m.title));
    item("Source", (!m.source.is_empty()).then(|| code(&m.source)));
    item("Started", m.started.as_deref().map(esc));
    item(
        "Measured on",
        Some(if m.standin {
            "<strong>the CPU stand-in</strong> (not a GPU measurement)".into()
        } else {
            "the vLLM server below".into()
        }),
    );
    item("Model", m.model.as_deref().map(code));
    item("vLLM version", m.vllm_version.as_deref().map(esc));
    item("Image", m.image.as_deref().map(code));
    item("Image digest", m.image_digest.as_deref().map(code));
    item("GPUs", gpus(&m.gpus));
    item(
        "Serve arguments",
        m.serve_args
            .as_ref()
            .map(|a| format!("<code>{}</code>", esc(&shell_words(a)))),
    );
    item("vbench", nonempty(&m.vbench_version));
    if let Some(rec) = &m.server_record {
        item("Server record", Some(record_summary(rec)));
    }
    out.push_str("</dl>\n");

    if let Some(config) = &m.config {
        out.push_str(&json_details("Configuration (secrets redacted)", config));
    }
    if let Some(rec) = &m.server_record {
        out.push_str(&json_details("Server record", rec));
    }
    out.push_str("</section>\n");
    out
}

/// `2 × NVIDIA H100 80GB HBM3` (identical GPUs counted), `None` when there are none.
fn gpus(names: &[String]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for n in names {
        match counts.iter_mut().find(|(m, _)| m == n) {
            Some((_, k)) => *k += 1,
            None => counts.push((n, 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(n, k)| {
            if *k > 1 {
                format!("{k} × {}", esc(n))
            } else {
                esc(n)
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// An argv as one could paste it into a shell: words with spaces or quotes single-quoted.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@+%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The server record's facts that the list above does not already show.
fn record_summary(rec: &Value) -> String {
    let at = |path: &[&str]| -> Option<String> {
        let mut v = rec;
        for k in path {
            v = v.get(k)?;
        }
        match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    };
    let facts = [
        ("written", at(&["written_at"])),
        ("container", at(&["container"])),
        ("reused", at(&["reused"])),
        ("startup s", at(&["startup_seconds"]).map(|s| trim_secs(&s))),
        ("max model len", at(&["max_model_len"])),
        ("GPU driver", at(&["gpu", "driver"])),
        ("host", at(&["host", "os"])),
        ("kernel", at(&["host", "kernel"])),
        ("Docker", at(&["host", "docker_engine"])),
        ("vbench commit", at(&["vbench_commit"])),
    ];
    let parts: Vec<String> = facts
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} <code>{}</code>", esc(&v))))
        .collect();
    if parts.is_empty() {
        "present (see below)".into()
    } else {
        parts.join(" · ")
    }
}

/// `12.3456789` → `12.3`.
fn trim_secs(s: &str) -> String {
    s.parse::<f64>()
        .map_or_else(|_| s.to_string(), |v| format!("{v:.1}"))
}

fn json_details(summary: &str, value: &Value) -> String {
    // Serialising a Value cannot fail.
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    format!(
        "<details><summary>{summary}</summary>\n<pre class=\"json\">{}</pre>\n</details>\n",
        esc(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_quoted_like_a_shell_would_need() {
        let argv = ["vllm", "serve", "m", "--x", "a b", "it's", ""].map(String::from);
        assert_eq!(shell_words(&argv), r"vllm serve m --x 'a b' 'it'\''s' ''");
    }

    #[test]
    fn identical_gpus_are_counted() {
        let g = ["H100", "H100", "A10<G>"].map(String::from);
        assert_eq!(gpus(&g).as_deref(), Some("2 × H100, A10&lt;G&gt;"));
        assert_eq!(gpus(&[]), None);
    }
}
