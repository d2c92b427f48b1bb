//! `vbench images build [--tag T]` glue: build the two CPU stand-in images and print their
//! references, sizes and how long it took. `vbench images pull`: pull the configured server
//! and client images (always: this is the command that fixes a missing image), with progress
//! events, and print each image's registry digest.

use std::time::Instant;

use super::Outcome;
use crate::cli::{Global, ImagesAction};
use crate::render::Output;

pub async fn cmd(g: &Global, action: ImagesAction) -> anyhow::Result<Outcome> {
    match action {
        ImagesAction::Build { tag } => build(g, &tag).await,
        ImagesAction::Pull { overrides } => pull(g, &overrides).await,
    }
}

async fn pull(g: &Global, o: &crate::cli::Overrides) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, o)?;
    let docker = super::connect(g, &cfg).await?;
    let output = super::output(g);
    let sink = crate::render::sink_for(output);
    let creds = crate::docker::credentials::Credentials::from_env();
    let mut images = vec![cfg.server.image.clone()];
    if cfg.client.image != cfg.server.image {
        images.push(cfg.client.image.clone());
    }
    let mut pulled = Vec::new();
    for image in &images {
        if crate::standin::is_standin_image(image) {
            return Err(super::CommandError::Usage(format!(
                "{image} is the CPU stand-in, built locally and never pulled: use `vbench images build`"
            ))
            .into());
        }
        pulled.push(crate::pull::pull(&docker, image, &creds, sink.as_ref()).await?);
    }
    let text = if output == Output::Json {
        format!(
            "{}\n",
            serde_json::json!({"event": "images_pulled", "images": pulled})
        )
    } else {
        pulled
            .iter()
            .map(|p| {
                format!(
                    "{}  {}  (from {}, {:.1}s)\n",
                    p.image,
                    p.digest.as_deref().unwrap_or(&p.id),
                    p.registry,
                    p.elapsed_s
                )
            })
            .collect()
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}

async fn build(g: &Global, tag: &str) -> anyhow::Result<Outcome> {
    // Only `--host` needs the configuration (the host's address).
    let cfg = if g.host.is_some() {
        super::load(g, &Default::default())?
    } else {
        crate::config::Config::default()
    };
    let docker = super::connect(g, &cfg).await?;
    let sink = crate::render::sink_for(super::output(g));
    let t = Instant::now();
    let images = crate::standin::build_images(&docker, tag, sink.as_ref()).await?;
    let elapsed = t.elapsed().as_secs_f64();
    let mut sizes = Vec::new();
    for r in [&images.server, &images.client] {
        sizes.push(docker.inspect_image(r).await?.map(|i| i.size).unwrap_or(0));
    }
    let text = if super::output(g) == Output::Json {
        format!(
            "{}\n",
            serde_json::json!({"event": "images_built", "server": images.server, "client": images.client,
                               "server_size": sizes[0], "client_size": sizes[1], "elapsed_s": elapsed})
        )
    } else {
        let mut s = String::new();
        for (r, size) in [(&images.server, sizes[0]), (&images.client, sizes[1])] {
            s.push_str(&format!("{r}  {:.1} MiB\n", size as f64 / 1_048_576.0));
        }
        s.push_str(&format!(
            "built in {elapsed:.1}s — CPU stand-in for vLLM (test double, not a GPU measurement)\n"
        ));
        s
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}
