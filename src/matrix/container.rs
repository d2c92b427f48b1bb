//! Between combinations: the server container must be what the next combination asks for.
//! `vllm serve`'s arguments are the lifecycle's business (a run with `restart` replaces a
//! server that serves other arguments), but the container itself is used as it is once it
//! exists, so a combination with another image — or another environment, which the
//! container keeps from its creation and hands to every `vllm serve` — needs the container
//! recreated. vbench recreates only containers it created; for another one, a different image
//! is refused (the combination fails with the reason) and a different environment is passed
//! to `vllm serve` only.

use crate::config::Config;
use crate::docker::{Docker, LABEL_SPEC};
use crate::events::{self, Sink};
use crate::server::{self, DownOptions, gpus::HostGpus, spec};

/// Make the server container fit `cfg` (a combination's effective configuration): leave it,
/// or stop `vllm serve` and remove the container so the run creates it afresh. The error says
/// why the combination cannot run.
pub async fn prepare(
    docker: &Docker,
    cfg: &Config,
    standin: bool,
    sink: &dyn Sink,
) -> Result<(), String> {
    let cfg = if standin {
        server::standin_config(cfg)
    } else {
        cfg.clone()
    };
    let name = &cfg.server.container;
    let Some(state) = docker
        .inspect_container(name)
        .await
        .map_err(|e| format!("cannot inspect {name}: {e}"))?
    else {
        return Ok(());
    };
    let wanted = spec::server_spec(
        &cfg,
        spec::detect(docker, &cfg),
        &HostGpus::read(),
        docker.extra_labels(),
    );
    let same_spec = state.labels.get(LABEL_SPEC) == Some(&wanted.spec_hash());
    if same_spec {
        return Ok(());
    }
    let other_image = state.image != wanted.image;
    if !server::created_by_vbench(&state) {
        if other_image {
            return Err(format!(
                "the server container {name} runs image {} and vbench did not create it, so it cannot be recreated with image {}; remove it (or let vbench create it) to compare images",
                state.image, wanted.image
            ));
        }
        return Ok(());
    }
    events::info(
        sink,
        format!(
            "recreating the server container {name}: {}",
            if other_image {
                format!("image {} → {}", state.image, wanted.image)
            } else {
                "its settings (environment, GPUs, mounts) differ from this combination's".into()
            }
        ),
    );
    server::down(docker, &cfg, &DownOptions::default(), sink)
        .await
        .map_err(|e| format!("cannot stop vllm serve in {name}: {e}"))?;
    docker
        .remove_container(name)
        .await
        .map_err(|e| format!("cannot remove {name}: {e}"))?;
    Ok(())
}
