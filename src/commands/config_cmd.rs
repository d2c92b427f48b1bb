//! `vbench config`: print the effective configuration (file + environment + flags) with
//! secrets redacted, as YAML with a first comment line saying where it came from, or as JSON
//! with `--json` / `--output json`; with `--schema`, the JSON Schema of `vbench.yaml`
//! (generated from the types the loader reads the file into).

use super::{CommandError, Outcome};
use crate::cli::{Global, Overrides};
use crate::render::Output;

pub fn cmd(g: &Global, schema: bool, o: &Overrides) -> anyhow::Result<Outcome> {
    if schema {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&crate::config::schema::schema())?
        );
        super::print_out(&text)?;
        return Ok(Outcome::Done);
    }
    let cfg = super::load(g, o)?;
    let mut value = cfg.redacted();
    let text = if super::output(g) == Output::Json {
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
        let yaml = serde_saphyr::to_string(&value).map_err(|e| CommandError::Output {
            what: "the configuration as YAML".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let nl = if yaml.ends_with('\n') { "" } else { "\n" };
        format!(
            "# vbench configuration: {from}; ${{VAR}} expanded, flags applied, secrets redacted\n{yaml}{nl}"
        )
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}
