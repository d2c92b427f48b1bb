//! Connecting to the Docker Engine: `DOCKER_HOST` (or `--docker-host`) honoured, unix socket by
//! default, tcp (TLS with a certificate directory) and ssh (through the `ssh` program) for
//! named hosts, API version always negotiated, and the engine facts `doctor` and the GPU
//! presets need.

use std::path::PathBuf;
use std::time::Duration;

use super::{DockerError, Result, within};

/// Client-wide timeout for response headers. Generous, because `stop` and `remove` answer
/// only when done; the calls that can be slow carry their own, tighter deadlines too.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long connecting (negotiate + version + info) may take before the engine counts as
/// unreachable: a healthy local engine answers in milliseconds.
const CONNECT_DEADLINE: Duration = Duration::from_secs(20);
/// The address bollard uses when neither `--docker-host` nor `DOCKER_HOST` is given.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where an engine is: an address and, for TLS over tcp, Docker's certificate directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///…`, `tcp://HOST:PORT`, `ssh://user@host`; `None`: `DOCKER_HOST`, else the
    /// local socket.
    pub host: Option<String>,
    /// A directory with `ca.pem`, `cert.pem`, `key.pem` (`DOCKER_CERT_PATH`'s layout).
    pub tls_cert_path: Option<PathBuf>,
}

impl Endpoint {
    /// An address without TLS (`None`: the default engine).
    pub fn host(host: Option<&str>) -> Endpoint {
        Endpoint {
            host: host.map(str::to_string),
            tls_cert_path: None,
        }
    }
}

/// bollard's per-request timeout for the TLS transport, in seconds (as `CLIENT_TIMEOUT`).
const CLIENT_TIMEOUT_SECS: u64 = 300;

/// A connected, version-negotiated Docker handle. Cheap to clone.
///
/// It also carries the extra labels its owner wants on everything created through it (tests
/// add `vbench.test=1`; the CLI takes `VBENCH_LABELS`): passed explicitly with the handle, so
/// no process-wide state decides what a resource is labelled.
#[derive(Clone)]
pub struct Docker {
    pub(crate) inner: bollard::Docker,
    pub info: EngineInfo,
    labels: super::Labels,
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
    /// The storage driver (`overlay2`, `fuse-overlayfs`).
    pub storage_driver: Option<String>,
}

impl Docker {
    /// Connect to `host` (or `DOCKER_HOST`, or the default unix socket), negotiate the API
    /// version and read `version` + `info`. Fails with `DockerError::Unreachable` naming the host.
    pub async fn connect(host: Option<&str>) -> Result<Docker> {
        Docker::connect_endpoint(&Endpoint::host(host)).await
    }

    /// Connect to `endpoint`: like `connect`, over TLS when it names a certificate directory.
    pub async fn connect_endpoint(endpoint: &Endpoint) -> Result<Docker> {
        let host = endpoint.host.as_deref();
        let host_name = match host {
            Some(h) => h.to_string(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        };
        let unreachable = |detail: String| DockerError::Unreachable {
            host: host_name.clone(),
            detail,
        };
        let client = match (host, &endpoint.tls_cert_path) {
            // bollard's `ssl` feature brings rustls with `ring`, the binary's only provider.
            (Some(h), Some(dir)) => bollard::Docker::connect_with_ssl(
                h,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                CLIENT_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            ),
            (Some(h), None) => bollard::Docker::connect_with_host(h),
            (None, _) => bollard::Docker::connect_with_defaults(),
        }
        .map_err(|e| unreachable(e.to_string()))?
        .with_timeout(CLIENT_TIMEOUT);

        let connected = tokio::time::timeout(CONNECT_DEADLINE, async {
            // Negotiation doubles as the reachability check; without it every call fails
            // against engines older than bollard's API (Debian's 20.10 answers 1.41).
            let inner = client
                .negotiate_version()
                .await
                .map_err(|e| e.to_string())?;
            let version = inner.version().await.map_err(|e| e.to_string())?;
            let info = inner.info().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((inner, version, info))
        })
        .await;
        let (inner, version, info) = match connected {
            Ok(Ok(v)) => v,
            Ok(Err(detail)) => return Err(unreachable(detail)),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {CONNECT_DEADLINE:?}"
                )));
            }
        };

        let mut runtimes: Vec<String> = info
            .runtimes
            .map(|r| r.into_keys().collect())
            .unwrap_or_default();
        runtimes.sort();
        let info = EngineInfo {
            host: host_name,
            engine_version: version.version.unwrap_or_default(),
            api_version: inner.client_version().to_string(),
            runtimes,
            default_runtime: info.default_runtime,
            os: info.operating_system.or(version.os),
            kernel_version: info.kernel_version.or(version.kernel_version),
            ncpu: info.ncpu,
            mem_total: info.mem_total,
            storage_driver: info.driver,
        };
        Ok(Docker {
            inner,
            info,
            labels: super::Labels::new(),
        })
    }

    /// The same handle, adding `labels` to everything created through it from now on.
    pub fn with_labels(mut self, labels: super::Labels) -> Docker {
        self.labels.extend(labels);
        self
    }

    /// The extra labels for resources created through this handle.
    pub fn extra_labels(&self) -> &super::Labels {
        &self.labels
    }

    /// Cheap liveness probe (`GET /_ping`) with a short deadline.
    pub async fn ping(&self) -> Result<()> {
        within("ping the Docker Engine", Duration::from_secs(10), async {
            self.inner
                .ping()
                .await
                .map(|_| ())
                .map_err(super::api("ping the Docker Engine"))
        })
        .await
    }

    /// True when the engine lists an NVIDIA runtime.
    pub fn has_nvidia_runtime(&self) -> bool {
        self.info.runtimes.iter().any(|r| r.contains("nvidia"))
    }
}
