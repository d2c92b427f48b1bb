//! Pure container specifications: what vbench asks Docker to create for each GPU preset.
//! No I/O here, so every preset is unit-tested as data.

use super::Labels;

/// The GPU preset, resolved (no `auto` left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuPreset {
    /// Device request for all GPUs with capability `gpu`, `--ipc=host`.
    Nvidia,
    /// `/dev/kfd`, `/dev/dri`, groups `video` (+ `render`), `--ipc=host`, shm, seccomp=unconfined, SYS_PTRACE.
    Amd,
    /// Plain CPU.
    None,
}

/// Everything needed to create a container vbench owns.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// User-defined network to join (DNS by container name works only there).
    pub network: Option<String>,
    /// Extra network aliases.
    pub aliases: Vec<String>,
    /// `vbench.*` labels (tests add `vbench.test`).
    pub labels: Labels,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// `src:dst[:ro]` binds or named volumes.
    pub volumes: Vec<String>,
    pub gpu: Option<GpuPreset>,
    pub shm_size: Option<u64>,
    /// Publish this container port on 127.0.0.1 only: (container_port, host_port).
    pub publish: Option<(u16, u16)>,
    /// Replace the image's entrypoint with a keep-alive so commands can be exec'd.
    pub keepalive: bool,
    /// Run an init (tini) as PID 1 so signals and zombies are handled.
    pub init: bool,
    /// Extra group names/GIDs (AMD adds `video`, `render`).
    pub group_add: Vec<String>,
}

impl ContainerSpec {
    /// The Engine API create body for this spec.
    pub fn create_body(&self) -> bollard::models::ContainerCreateBody {
        todo!()
    }

    /// A stable hash of the spec, stored as `vbench.spec` for drift detection.
    pub fn spec_hash(&self) -> String {
        todo!()
    }
}
