//! `vbench run` glue: load the configuration, hand the sweep pipeline its options, return
//! its exit code.

use crate::cli::{Global, OutputMode, RunArgs};
use crate::exit::Code;
use crate::sweep::pipeline::{self, RunOptions};

pub async fn cmd(g: &Global, args: RunArgs) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, &args.overrides)?;
    let cfg = if args.standin {
        crate::server::standin_config(&cfg)
    } else {
        cfg
    };
    crate::server::labels_from_env();
    let mode = super::output_mode(g);
    let sink = crate::render::sink_for(mode);
    let opts = RunOptions {
        selection: args.selection,
        sweeps: None,
        dry_run: args.dry_run,
        resume: args.resume,
        force: args.force,
        restart_server: args.restart_server,
        down: args.down,
        restart: args.restart,
        standin: args.standin,
        print_summary: mode != OutputMode::Json,
        json: mode == OutputMode::Json,
    };
    pipeline::run(g.docker_host.as_deref(), &cfg, &opts, sink).await
}
