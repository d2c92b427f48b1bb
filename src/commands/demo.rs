//! `vbench demo` glue: the whole pipeline on the CPU stand-in with the small `demo` sweep
//! (input 128/256 × max concurrency 1, 2, 4, output 32), images built if missing.

use super::{CommandError, Outcome};
use crate::cli::{DemoArgs, Global};
use crate::pipeline::{self, RunOptions};
use crate::render::Output;
use crate::sweep::presets;

pub async fn cmd(g: &Global, args: DemoArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let cfg = crate::server::standin_config(&cfg);
    let output = super::output(g);
    let sink = crate::render::sink_for(output);
    {
        let docker = super::connect(g, &cfg).await?;
        crate::standin::ensure_images(&docker, &crate::standin::tag(), sink.as_ref())
            .await
            .map_err(|e| CommandError::Setup(format!("{e:#}")))?;
    }
    let demo = presets::preset("demo").expect("the demo preset is built in");
    let opts = RunOptions {
        sweeps: Some(vec![("demo".to_string(), demo)]),
        down: args.down,
        standin: true,
        docker_host: super::endpoint(g, &cfg).host,
        tls_cert_path: super::endpoint(g, &cfg).tls_cert_path,
        labels: super::labels(),
        exit_now: Some(super::exit_interrupted),
        ..Default::default()
    };
    let outcome = pipeline::run(&cfg, &opts, sink).await?;
    if output != Output::Json {
        super::print_out(
            "CPU stand-in demo: the figures show the pipeline works; they are not a GPU measurement.\n",
        )?;
    }
    Ok(Outcome::Run(outcome))
}
