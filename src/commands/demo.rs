//! `vbench demo` glue: the whole pipeline on the CPU stand-in with the small `demo` sweep
//! (input 128/256 × max concurrency 1, 2, 4, output 32), images built if missing.

use crate::cli::{DemoArgs, Global, OutputMode};
use crate::exit::Code;
use crate::sweep::pipeline::{self, RunOptions};
use crate::sweep::presets;

pub async fn cmd(g: &Global, args: DemoArgs) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, &args.overrides)?;
    let cfg = crate::server::standin_config(&cfg);
    crate::server::labels_from_env();
    let mode = super::output_mode(g);
    let sink = crate::render::sink_for(mode);
    {
        let docker = super::up::connect(g).await?;
        crate::standin::ensure_images(&docker, "latest", sink.as_ref())
            .await
            .map_err(|e| crate::exit::Failure::new(Code::Setup, format!("{e:#}")))?;
    }
    let demo =
        presets::preset("demo").ok_or_else(|| anyhow::anyhow!("the demo preset is missing"))?;
    let opts = RunOptions {
        sweeps: Some(vec![("demo".to_string(), demo)]),
        down: args.down,
        standin: true,
        print_summary: mode != OutputMode::Json,
        json: mode == OutputMode::Json,
        ..Default::default()
    };
    let code = pipeline::run(g.docker_host.as_deref(), &cfg, &opts, sink).await?;
    if mode != OutputMode::Json {
        println!(
            "CPU stand-in demo: the figures show the pipeline works; they are not a GPU measurement."
        );
    }
    Ok(code)
}
