//! Connecting to the Docker Engine: `DOCKER_HOST` (or `--docker-host`) honoured, unix socket by
//! default, API version always negotiated, and the engine facts `doctor` and the GPU presets need.

use super::Result;

/// A connected, version-negotiated Docker handle. Cheap to clone.
#[derive(Clone)]
pub struct Docker {
    pub(crate) inner: bollard::Docker,
    pub info: EngineInfo,
}

/// What the engine told us about itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineInfo {
    /// The address we connected to.
    pub host: String,
    /// Engine version (`20.10.24+dfsg1`).
    pub engine_version: String,
    /// The API version in use after negotiation (`1.41`).
    pub api_version: String,
    /// Runtimes from `docker info` (`runc`, `nvidia`, …).
    pub runtimes: Vec<String>,
    pub default_runtime: Option<String>,
    pub os: Option<String>,
    pub kernel_version: Option<String>,
    pub ncpu: Option<i64>,
    pub mem_total: Option<i64>,
}

impl Docker {
    /// Connect to `host` (or `DOCKER_HOST`, or the default unix socket), negotiate the API
    /// version and read `version` + `info`. Fails with `DockerError::Unreachable` naming the host.
    pub async fn connect(host: Option<&str>) -> Result<Docker> {
        let _ = host;
        todo!()
    }

    /// True when the engine lists an NVIDIA runtime.
    pub fn has_nvidia_runtime(&self) -> bool {
        self.info.runtimes.iter().any(|r| r.contains("nvidia"))
    }
}
