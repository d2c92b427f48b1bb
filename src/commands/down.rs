//! `vbench down` glue: stop `vllm serve`; `--remove` removes what vbench created.

use crate::cli::{DownArgs, Global};
use crate::exit::Code;
use crate::server::{self, DownOptions};

pub async fn cmd(g: &Global, args: DownArgs) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, &args.overrides)?;
    let docker = super::up::connect(g).await?;
    let sink = crate::render::sink_for(super::output_mode(g));
    server::down(
        &docker,
        &cfg,
        &DownOptions {
            remove: args.remove,
            force: args.force,
        },
        sink.as_ref(),
    )
    .await?;
    Ok(Code::Ok)
}
