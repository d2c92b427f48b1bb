//! Container lifecycle: create-or-attach by name, inspect, start, stop, kill, remove, list by
//! label, and joining or leaving a network.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};

use super::{ContainerSpec, Docker, DockerError, LABEL_MANAGED, Result, api, status_of, within};

/// Ordinary calls (inspect, create, start, connect) answer within milliseconds on a healthy
/// engine; this only catches a wedged one.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// What we know about a container.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    /// Image reference as configured (`vllm/vllm-openai:latest`).
    pub image: String,
    /// Image id (`sha256:…`).
    pub image_id: String,
    /// `created|running|paused|restarting|removing|exited|dead`.
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Carries `vbench.managed=true`.
    pub created_by_vbench: bool,
    pub started_at: Option<String>,
    /// Host PID of the container's init process.
    pub pid: Option<i64>,
    /// The host port Docker bound on 127.0.0.1 for the (lowest) published container port.
    pub published: Option<u16>,
    /// Every published port: (container port, host port), sorted.
    pub ports: Vec<(u16, u16)>,
    /// User-defined networks the container is on.
    pub networks: Vec<String>,
}

impl ContainerState {
    fn from_inspect(r: ContainerInspectResponse) -> ContainerState {
        let state = r.state.unwrap_or_default();
        let config = r.config.unwrap_or_default();
        let labels: std::collections::BTreeMap<String, String> =
            config.labels.unwrap_or_default().into_iter().collect();
        let net = r.network_settings.unwrap_or_default();
        let mut ports: Vec<(u16, u16)> = net
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, bindings)| {
                let container_port = key.split('/').next()?.parse::<u16>().ok()?;
                let host_port = bindings?
                    .into_iter()
                    .find_map(|b| b.host_port.and_then(|p| p.parse::<u16>().ok()))?;
                Some((container_port, host_port))
            })
            .collect();
        ports.sort();
        let mut networks: Vec<String> = net.networks.unwrap_or_default().into_keys().collect();
        networks.sort();
        ContainerState {
            id: r.id.unwrap_or_default(),
            name: r
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            image_id: r.image.unwrap_or_default(),
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
            created_by_vbench: labels.get(LABEL_MANAGED).map(String::as_str) == Some("true"),
            labels,
            started_at: state.started_at.filter(|s| !s.starts_with("0001-")),
            pid: state.pid.filter(|&p| p > 0),
            published: ports.first().map(|&(_, h)| h),
            ports,
            networks,
        }
    }
}

/// How `ensure_container` got us a running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ensured {
    /// It did not exist; created from the spec and started.
    Created,
    /// It existed but was stopped; started.
    Started,
    /// It was already running; attached as is.
    Attached,
}

impl Docker {
    /// Inspect by exact name or id; `None` when absent.
    pub async fn inspect_container(&self, name: &str) -> Result<Option<ContainerState>> {
        let op = format!("inspect container {name}");
        within(&op, CALL_DEADLINE, async {
            // Inspect, never list with a name filter: that filter is a substring match.
            match self.inner.inspect_container(name, None).await {
                Ok(r) => Ok(Some(ContainerState::from_inspect(r))),
                Err(e) if status_of(&e) == Some(404) => Ok(None),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Attach to `spec.name` if it exists (starting it if stopped), else create it from `spec`
    /// (joining `spec.network`) and start it. Returns the running state.
    ///
    /// An existing container is used as it is: its networks are not changed here (see
    /// `connect_network`) and its `vbench.spec` label is for the caller to compare.
    pub async fn ensure_container(
        &self,
        spec: &ContainerSpec,
    ) -> Result<(ContainerState, Ensured)> {
        let name = spec.name.as_str();
        // Two rounds at most: the second only after losing a create race to someone else.
        let mut how = None;
        for _ in 0..2 {
            match self.inspect_container(name).await? {
                Some(st) if st.running => return Ok((st, Ensured::Attached)),
                Some(_) => {
                    self.start_container(name).await?;
                    how = Some(Ensured::Started);
                }
                None => {
                    if self.create_container(spec).await? {
                        self.start_container(name).await?;
                        how = Some(Ensured::Created);
                    }
                    // else: created by someone between our inspect and create; look again.
                }
            }
            if how.is_some() {
                break;
            }
        }
        let how = how.ok_or_else(|| {
            DockerError::Other(format!(
                "container {name}: the name is taken but the container cannot be inspected"
            ))
        })?;
        let st = self.inspect_container(name).await?.ok_or_else(|| {
            DockerError::Other(format!(
                "container {name} vanished right after it was started"
            ))
        })?;
        Ok((st, how))
    }

    /// Create from `spec`. Returns false when a container of that name already exists.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<bool> {
        let op = format!("create container {} from image {}", spec.name, spec.image);
        let opts = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let created = within(&op, CALL_DEADLINE, async {
            self.inner
                .create_container(Some(opts), spec.create_body())
                .await
                .map_err(api(op.clone()))
        })
        .await;
        match created {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(409) => Ok(false),
            // A 404 on create means the image is not present locally. Creating does not
            // pull (the engine layer pulls before, by the `pull` policy); say so rather than
            // guess.
            Err(e) if e.status() == Some(404) => Err(DockerError::NotFound {
                what: format!(
                    "image {} (needed to create container {}; it is not present locally and creating a container does not pull images: \
                     pull or build it first, e.g. `vbench images pull`, `docker pull {}`, or `vbench images build` for the stand-in)",
                    spec.image, spec.name, spec.image
                ),
            }),
            Err(e) => Err(e),
        }
    }

    async fn start_container(&self, name: &str) -> Result<()> {
        let op = format!("start container {name}");
        within(&op, CALL_DEADLINE, async {
            match self.inner.start_container(name, None).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(304) => Ok(()),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Stop with SIGTERM, SIGKILL after `grace`.
    pub async fn stop_container(&self, name: &str, grace: Duration) -> Result<()> {
        let op = format!("stop container {name}");
        let t = grace.as_secs().min(i32::MAX as u64) as i32;
        let opts = StopContainerOptionsBuilder::new().t(t).build();
        // The engine answers only once the container is down: grace + time to kill and reap.
        within(&op, grace + Duration::from_secs(60), async {
            match self.inner.stop_container(name, Some(opts)).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(304) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Err(DockerError::NotFound {
                    what: format!("container {name}"),
                }),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Send `signal` (`SIGKILL`, `SIGTERM`, …) to the container's main process, as
    /// `docker kill` does.
    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<()> {
        let op = format!("kill container {name} with {signal}");
        let opts = KillContainerOptionsBuilder::new().signal(signal).build();
        within(&op, CALL_DEADLINE, async {
            match self.inner.kill_container(name, Some(opts)).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Err(DockerError::NotFound {
                    what: format!("container {name}"),
                }),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Force-remove (and its anonymous volumes). Absent is not an error.
    pub async fn remove_container(&self, name: &str) -> Result<()> {
        let op = format!("remove container {name}");
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        within(&op, Duration::from_secs(120), async {
            match self.inner.remove_container(name, Some(opts)).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                // "removal already in progress": someone else is doing our job.
                Err(e) if status_of(&e) == Some(409) => Ok(()),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Containers carrying `label` (`key` or `key=value`), running or not.
    pub async fn list_containers_labelled(&self, label: &str) -> Result<Vec<ContainerState>> {
        let op = format!("list containers labelled {label}");
        let filters = HashMap::from([("label", vec![label])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = within(&op, CALL_DEADLINE, async {
            self.inner
                .list_containers(Some(opts))
                .await
                .map_err(api(op.clone()))
        })
        .await?;
        let mut out = Vec::with_capacity(list.len());
        for c in list {
            let Some(id) = c.id else { continue };
            // Removed between list and inspect: not listed.
            if let Some(st) = self.inspect_container(&id).await? {
                out.push(st);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Disconnect a container from a network (no-op if it is not connected).
    pub async fn disconnect_network(&self, container: &str, network: &str) -> Result<()> {
        // Look first: the engine answers a disconnect of an unconnected container with a 500.
        let st = self
            .inspect_container(container)
            .await?
            .ok_or_else(|| DockerError::NotFound {
                what: format!("container {container}"),
            })?;
        if !st.networks.iter().any(|n| n == network) {
            return Ok(());
        }
        let op = format!("disconnect container {container} from network {network}");
        let req = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        within(&op, CALL_DEADLINE, async {
            self.inner
                .disconnect_network(network, req)
                .await
                .map_err(api(op.clone()))
        })
        .await
    }

    /// Connect a running container to a network (no-op if already connected).
    pub async fn connect_network(&self, container: &str, network: &str) -> Result<()> {
        let st = self
            .inspect_container(container)
            .await?
            .ok_or_else(|| DockerError::NotFound {
                what: format!("container {container}"),
            })?;
        if st.networks.iter().any(|n| n == network) {
            return Ok(());
        }
        let op = format!("connect container {container} to network {network}");
        let req = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(EndpointSettings::default()),
        };
        within(&op, CALL_DEADLINE, async {
            self.inner
                .connect_network(network, req)
                .await
                .map_err(api(op.clone()))
        })
        .await
    }
}
