//! `vbench report` glue: re-render a run's summary (and its comparison) from its manifest.

use crate::cli::{Global, ReportArgs};
use crate::exit::Code;

pub async fn cmd(g: &Global, args: ReportArgs) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, &args.overrides)?;
    let s = crate::sweep::pipeline::report(
        &cfg.results_dir,
        args.run.as_deref(),
        args.against.as_deref(),
    )?;
    print!("{s}");
    Ok(Code::Ok)
}
