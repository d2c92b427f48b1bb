//! Container lifecycle: create-or-attach by name, inspect, start, stop, remove, list by label.

use std::time::Duration;

use super::{ContainerSpec, Docker, Result};

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
        let _ = name;
        todo!()
    }

    /// Attach to `spec.name` if it exists (starting it if stopped), else create it from `spec`
    /// (joining `spec.network`) and start it. Returns the running state.
    pub async fn ensure_container(
        &self,
        spec: &ContainerSpec,
    ) -> Result<(ContainerState, Ensured)> {
        let _ = spec;
        todo!()
    }

    /// Stop with SIGTERM, SIGKILL after `grace`.
    pub async fn stop_container(&self, name: &str, grace: Duration) -> Result<()> {
        let _ = (name, grace);
        todo!()
    }

    /// Force-remove (and its anonymous volumes). Absent is not an error.
    pub async fn remove_container(&self, name: &str) -> Result<()> {
        let _ = name;
        todo!()
    }

    /// Containers carrying `label` (`key` or `key=value`), running or not.
    pub async fn list_containers_labelled(&self, label: &str) -> Result<Vec<ContainerState>> {
        let _ = label;
        todo!()
    }

    /// Connect a running container to a network (no-op if already connected).
    pub async fn connect_network(&self, container: &str, network: &str) -> Result<()> {
        let _ = (container, network);
        todo!()
    }
}
