//! `vbench up` glue: load the configuration, connect, call `server::up`, print the result.

use super::Outcome;
use crate::cli::{Global, UpArgs};
use crate::render::Output;
use crate::server::{self, UpOptions};

pub async fn cmd(g: &Global, args: UpArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load_with_pull(g, &args.overrides, args.pull.as_deref())?;
    let docker = super::connect(g, &cfg).await?;
    let sink = crate::render::sink_for(super::output(g));
    let opts = UpOptions {
        restart: args.restart,
        standin: args.standin,
    };
    let info = server::up(&docker, &cfg, &opts, sink.as_ref()).await?;
    let text = if super::output(g) == Output::Json {
        format!(
            "{}\n",
            serde_json::json!({"event": "server_ready", "server": info})
        )
    } else {
        format!(
            "{} {} (vLLM {}, max_model_len {}) at {} (from the host: {}){}\n",
            if info.reused { "reused:" } else { "ready:" },
            info.model_id,
            info.version,
            info.max_model_len,
            info.url_in_network,
            info.url_from_host,
            if args.standin {
                " — CPU stand-in, not a GPU measurement"
            } else {
                ""
            }
        )
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}
