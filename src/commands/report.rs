//! `vbench report` glue: re-render a run's report files from its manifest and show its
//! summary (and its comparison).

use super::Outcome;
use crate::cli::{Global, ReportArgs};

pub async fn cmd(g: &Global, args: ReportArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let sink = crate::render::sink_for(super::output(g));
    crate::pipeline::report(
        &cfg,
        args.run.as_deref(),
        args.against.as_deref(),
        sink.as_ref(),
    )?;
    Ok(Outcome::Done)
}
