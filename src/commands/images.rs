//! `vbench images build [--tag T]` glue: build the two CPU stand-in images and print their
//! references, sizes and how long it took.

use std::time::Instant;

use crate::cli::{Global, ImagesAction, OutputMode};
use crate::exit::Code;

pub async fn cmd(g: &Global, action: ImagesAction) -> anyhow::Result<Code> {
    match action {
        ImagesAction::Build { tag } => build(g, &tag).await,
    }
}

async fn build(g: &Global, tag: &str) -> anyhow::Result<Code> {
    crate::server::labels_from_env();
    let docker = super::up::connect(g).await?;
    let sink = crate::render::sink_for(super::output_mode(g));
    let t = Instant::now();
    let images = crate::standin::build_images(&docker, tag, sink.as_ref()).await?;
    let elapsed = t.elapsed().as_secs_f64();
    let mut sizes = Vec::new();
    for r in [&images.server, &images.client] {
        sizes.push(docker.inspect_image(r).await?.map(|i| i.size).unwrap_or(0));
    }
    if super::output_mode(g) == OutputMode::Json {
        println!(
            "{}",
            serde_json::json!({"event": "images_built", "server": images.server, "client": images.client,
                               "server_size": sizes[0], "client_size": sizes[1], "elapsed_s": elapsed})
        );
    } else {
        for (r, s) in [(&images.server, sizes[0]), (&images.client, sizes[1])] {
            println!("{r}  {:.1} MiB", s as f64 / 1_048_576.0);
        }
        println!(
            "built in {elapsed:.1}s — CPU stand-in for vLLM (test double, not a GPU measurement)"
        );
    }
    Ok(Code::Ok)
}
