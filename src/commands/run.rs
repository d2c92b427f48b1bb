//! `vbench run` glue: load the configuration, hand the sweep pipeline (or, with a `matrix:`,
//! the matrix) its options, return its outcome.

use super::Outcome;
use crate::cli::{Global, RunArgs};
use crate::pipeline::RunOptions;

pub async fn cmd(g: &Global, args: RunArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load_for_run(g, &args.overrides, args.pull.as_deref(), &args.matrix)?;
    let cfg = if args.standin {
        crate::server::standin_config(&cfg)
    } else {
        cfg
    };
    let sink = crate::render::sink_for(super::output(g));
    let opts = RunOptions {
        selection: super::selection(&args.selection),
        sweeps: None,
        dry_run: args.dry_run,
        resume: args.resume,
        force: args.force,
        restart_server: args.restart_server,
        down: args.down,
        restart: args.restart,
        standin: args.standin,
        docker_host: super::endpoint(g, &cfg).host,
        tls_cert_path: super::endpoint(g, &cfg).tls_cert_path,
        labels: super::labels(),
        exit_now: Some(super::exit_interrupted),
        baseline: args.baseline,
        threshold: Some(super::threshold(&args.threshold)?),
        cancel: None,
    };
    super::run_or_matrix(&cfg, &opts, sink).await
}
