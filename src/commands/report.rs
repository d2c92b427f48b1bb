//! `vbench report` glue: the report of a run or of imported result files, compared with
//! the previous comparable run or judged against `--against`.

use super::Outcome;
use crate::archive::report::{ReportRequest, report};
use crate::cli::{Global, ReportArgs};

pub async fn cmd(g: &Global, args: ReportArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let sink = crate::render::sink_for(super::output(g));
    let req = ReportRequest {
        inputs: args.inputs,
        against: args.against,
        out_dir: args.out_dir,
        threshold: super::threshold(&args.threshold)?,
    };
    report(&cfg.results_dir, &req, sink.as_ref())?;
    Ok(Outcome::Done)
}
