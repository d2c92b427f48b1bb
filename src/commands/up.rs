//! `vbench up` glue: load the configuration, connect, call `server::up`, print the result.

use crate::cli::{Global, OutputMode, UpArgs};
use crate::exit::Code;
use crate::server::{self, UpOptions};

pub async fn cmd(g: &Global, args: UpArgs) -> anyhow::Result<Code> {
    let cfg = crate::config::load(g, &args.overrides)?;
    server::labels_from_env();
    let docker = super::up::connect(g).await?;
    let sink = crate::render::sink_for(super::output_mode(g));
    let opts = UpOptions {
        restart: args.restart,
        standin: args.standin,
    };
    let info = server::up(&docker, &cfg, &opts, sink.as_ref()).await?;
    if super::output_mode(g) == OutputMode::Json {
        println!(
            "{}",
            serde_json::json!({"event": "server_ready", "server": info})
        );
    } else {
        println!(
            "{} {} (vLLM {}, max_model_len {}) at {} (from the host: {}){}",
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
        );
    }
    Ok(Code::Ok)
}

/// Connect to the Docker Engine for the lifecycle commands; failure is a set-up error (3).
pub(super) async fn connect(g: &Global) -> anyhow::Result<crate::docker::Docker> {
    crate::docker::Docker::connect(g.docker_host.as_deref())
        .await
        .map_err(|e| crate::exit::Failure::new(Code::Setup, e.to_string()).into())
}
