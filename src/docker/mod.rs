//! The Docker layer: every call vbench makes to the Docker Engine goes through here, over
//! bollard, after API version negotiation (the engines we meet answer API 1.41 at most).
//! Nothing outside this module touches a `bollard::Docker` handle.
//!
//! Submodules, one job each: `connect` (handle + engine facts), `spec` (pure container specs
//! per GPU preset), `container` (create-or-attach, inspect, stop, remove), `network`,
//! `exec` (argv execs with streamed lines, deadlines, stoppable processes), `logs`,
//! `copy` (tar streams in and out, unpacked safely), `image` (build from an in-memory context;
//! pull, tag, push), `reference` (image references as Docker normalises them), `credentials`
//! (registry credentials from the user's Docker configuration), `lines` (output frames →
//! lines, shared by exec and logs), `session` (a long-lived exec with stdin: the channel's
//! transport).

pub mod connect;
pub mod container;
pub mod copy;
pub mod credentials;
pub mod exec;
pub mod image;
pub mod lines;
pub mod logs;
pub mod network;
pub mod reference;
pub mod session;
pub mod spec;

use std::collections::BTreeMap;
use std::time::Duration;

pub use connect::{Docker, Endpoint, EngineInfo};
pub use container::{ContainerState, Ensured};
pub use exec::{ExecOutcome, ExecSpec, OutputLine, Stream as OutputStream};
pub use session::ExecSession;
pub use spec::{ContainerSpec, GpuPreset, NvidiaGpus};

/// Labels put on everything vbench creates.
pub type Labels = BTreeMap<String, String>;

/// `vbench.managed=true`: vbench created this resource (and may remove it).
pub const LABEL_MANAGED: &str = "vbench.managed";
/// `vbench.role=server|client|network|image`.
pub const LABEL_ROLE: &str = "vbench.role";
/// Hash of the spec a container was created from (drift detection on attach).
pub const LABEL_SPEC: &str = "vbench.spec";
/// Present on every resource a test creates; the suite ends by asserting none is left.
pub const LABEL_TEST: &str = "vbench.test";

/// Parse `k=v,k2=v2` (a bare `k` means `k=true`), the form of `VBENCH_LABELS`.
pub fn parse_labels(s: &str) -> Labels {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (p.to_string(), "true".to_string()),
        })
        .collect()
}

/// Errors of the Docker layer, each naming the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker Engine at {host}: {detail} (is dockerd running? is DOCKER_HOST right?)"
    )]
    Unreachable { host: String, detail: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("failed to {op}: {source}")]
    Api {
        op: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine reported a failure inside a progress stream (a pull or push that had begun).
    #[error("failed to {op}: {message}")]
    Stream { op: String, message: String },
    #[error("{op} did not finish within {after:?}")]
    Deadline { op: String, after: Duration },
    #[error("refused to unpack {entry:?} from {origin}: {why}")]
    UnsafeArchive {
        origin: String,
        entry: String,
        why: String,
    },
    #[error("failed to {op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = DockerError> = std::result::Result<T, E>;

impl DockerError {
    /// The HTTP status the engine answered with, when this is an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            DockerError::Api { source, .. } => status_of(source),
            _ => None,
        }
    }

    /// The engine's (or, for a pull, the registry's) own words, without the operation and
    /// without bollard's wrapping: what a classifier of causes reads.
    pub fn engine_message(&self) -> String {
        match self {
            DockerError::Api {
                source: bollard::errors::Error::DockerResponseServerError { message, .. },
                ..
            } => message.clone(),
            DockerError::Api { source, .. } => source.to_string(),
            DockerError::Stream { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// The HTTP status code inside a bollard error, if the engine answered at all.
pub(crate) fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Wrap a bollard error with the operation that failed (`"start container vllm-server"`).
pub(crate) fn api(op: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let op = op.into();
    move |source| DockerError::Api { op, source }
}

/// Run `fut` under our own deadline (bollard's client timeout only covers response headers).
pub(crate) async fn within<T>(
    op: &str,
    after: Duration,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(after, fut).await {
        Ok(r) => r,
        Err(_) => Err(DockerError::Deadline {
            op: op.to_string(),
            after,
        }),
    }
}
