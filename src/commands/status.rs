//! `vbench status` glue: gather the status report, print it as text or JSON.

use crate::cli::{Global, OutputMode, Overrides};
use crate::exit::Code;

pub async fn cmd(g: &Global, o: &Overrides) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, o)?;
    let docker = super::up::connect(g).await?;
    let report = crate::server::status::gather(&docker, &cfg).await?;
    if super::output_mode(g) == OutputMode::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(Code::Ok)
}
