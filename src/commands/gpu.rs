//! `vbench gpu [--watch SECS]` glue: sample the GPUs (in the server container, else on the
//! host) and print a table, once or every SECS seconds until Ctrl-C.

use std::time::Duration;

use super::{CommandError, Outcome};
use crate::cli::{Global, Overrides};
use crate::render::Output;

pub async fn cmd(g: &Global, watch: Option<f64>, o: &Overrides) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, o)?;
    let every = match watch {
        Some(s) if !(s.is_finite() && s >= 0.1) => {
            return Err(CommandError::Usage(format!(
                "--watch {s}: give a number of seconds ≥ 0.1"
            ))
            .into());
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let docker = super::connect(g, &cfg).await?;
    let server = &cfg.server.container;
    let in_container = matches!(docker.inspect_container(server).await, Ok(Some(s)) if s.running);
    let json = super::output(g) == Output::Json;
    loop {
        let samples = if in_container {
            crate::gpu::sample(&docker, server).await?
        } else {
            crate::gpu::sample_host().await?
        };
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "gpu_sample", "ts": jiff::Timestamp::now().to_string(), "gpus": samples})
            );
        } else {
            if every.is_some() {
                println!(
                    "{}",
                    jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            println!("{}", crate::gpu::render_table(&samples));
        }
        let Some(every) = every else {
            return Ok(Outcome::Done);
        };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(Outcome::Done),
        }
    }
}
