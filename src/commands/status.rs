//! `vbench status` glue: gather the status report, print it as text or JSON.

use super::Outcome;
use crate::cli::{Global, Overrides};
use crate::render::Output;

pub async fn cmd(g: &Global, o: &Overrides) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, o)?;
    let docker = super::connect(g, &cfg).await?;
    let report = crate::server::status::gather(&docker, &cfg).await?;
    let text = if super::output(g) == Output::Json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        report.render()
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}
