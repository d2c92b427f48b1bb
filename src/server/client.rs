//! The client container (`vllm-bench-client`): created from the config when absent, attached
//! when it exists (never recreated), joined to the network, its result directory ensured.

use std::time::Duration;

use super::ServerError;
use crate::config::Config;
use crate::docker::{ContainerState, Docker, Ensured, ExecSpec};
use crate::events::{self, Sink};

/// Create-or-attach the client container on the network and make its result dir exist.
pub async fn ensure_client(
    docker: &Docker,
    cfg: &Config,
    sink: &dyn Sink,
) -> Result<ContainerState, ServerError> {
    let name = &cfg.client.container;
    docker
        .ensure_network(
            &cfg.network,
            &super::spec::labels(docker.extra_labels(), "network"),
        )
        .await
        .map_err(|e| ServerError::setup(format!("create network {}", cfg.network), e))?;
    let spec = super::spec::client_spec(cfg, docker.extra_labels());
    super::ensure_image(docker, cfg, name, &spec.image, sink).await?;
    let (state, how) = docker.ensure_container(&spec).await.map_err(|e| {
        ServerError::setup(format!("create or start the client container {name}"), e)
    })?;
    match how {
        Ensured::Created => events::info(
            sink,
            format!("created client container {name} ({})", spec.image),
        ),
        Ensured::Started => events::info(sink, format!("started existing client container {name}")),
        Ensured::Attached => {
            events::info(sink, format!("attached to running client container {name}"))
        }
    }
    if how != Ensured::Created {
        docker
            .connect_network(name, &cfg.network)
            .await
            .map_err(|e| {
                ServerError::setup(format!("connect {name} to network {}", cfg.network), e)
            })?;
    }
    let mkdir = ExecSpec {
        argv: super::argv::sh(r#"mkdir -p "$1""#, &[&cfg.client.result_dir]),
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (o, _, err) = docker
        .exec_capture(name, &mkdir)
        .await
        .map_err(|e| ServerError::setup(format!("exec mkdir in {name}"), e))?;
    if o.exit_code != Some(0) {
        return Err(ServerError::setup(
            format!("create {} in {name}", cfg.client.result_dir),
            format!("mkdir exited with {:?}: {}", o.exit_code, err.trim()),
        ));
    }
    Ok(state)
}
