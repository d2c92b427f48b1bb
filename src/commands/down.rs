//! `vbench down` glue: stop `vllm serve`; `--remove` removes what vbench created.

use super::Outcome;
use crate::cli::{DownArgs, Global};
use crate::server::{self, DownOptions};

pub async fn cmd(g: &Global, args: DownArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let docker = super::connect(g, &cfg).await?;
    let sink = crate::render::sink_for(super::output(g));
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
    Ok(Outcome::Done)
}
