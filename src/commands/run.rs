//! `vbench run` glue: load the configuration, hand the sweep pipeline (or, with a `matrix:`,
//! the matrix; with `--hosts`, the fan-out) its options, return its outcome.

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
    if !args.hosts.is_empty() {
        let fan = crate::hosts::fanout::FanoutOptions {
            hosts: args.hosts.clone(),
            mode: crate::hosts::record::Mode::parse(&args.mode)
                .ok_or_else(|| super::CommandError::Usage(format!("--mode {}", args.mode)))?,
        };
        return Ok(Outcome::Fanout(
            crate::hosts::fanout::run(&cfg, &fan, &opts, sink).await?,
        ));
    }
    super::run_or_matrix(&cfg, &opts, sink).await
}
