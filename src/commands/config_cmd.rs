//! `vbench config`: print the effective configuration (file + environment + flags) with
//! secrets redacted, as YAML with a first comment line saying where it came from, or as JSON
//! with `--json` / `--output json`.

use std::io::Write;

use crate::cli::{Global, OutputMode, Overrides};
use crate::config;
use crate::exit::{Code, Failure};

pub async fn cmd(g: &Global, o: &Overrides) -> anyhow::Result<Code> {
    let cfg = config::load(g, o)?;
    let mut value = cfg.redacted();
    let text = if super::output_mode(g) == OutputMode::Json {
        format!("{}\n", serde_json::to_string_pretty(&value)?)
    } else {
        // The source goes in the comment line, so the YAML body is itself a loadable file.
        if let Some(map) = value.as_object_mut() {
            map.shift_remove("source");
        }
        let from = match &cfg.source {
            Some(p) => format!("from {}", p.display()),
            None => "built-in defaults (no vbench.yaml found, no --config given)".to_string(),
        };
        let yaml = serde_saphyr::to_string(&value).map_err(|e| {
            Failure::new(
                Code::Internal,
                format!("cannot render the configuration as YAML: {e}"),
            )
        })?;
        let nl = if yaml.ends_with('\n') { "" } else { "\n" };
        format!(
            "# vbench configuration: {from}; ${{VAR}} expanded, flags applied, secrets redacted\n{yaml}{nl}"
        )
    };
    // `vbench config | head` closes the pipe early: that is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(Code::Internal, format!("cannot write to stdout: {e}")).into())
        }
        _ => Ok(Code::Ok),
    }
}
