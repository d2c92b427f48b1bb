//! What can go wrong in the server lifecycle, typed: the operation that failed and what the
//! user needs to act on it. The exit code of each variant is decided at the edge
//! (`crate::exit`), never here.

use super::diagnose::Diagnosis;
use crate::docker::DockerError;

/// Any error, boxed (the operation's own detail, kept as a source for the chain).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Preparing what the server needs failed: the network, the container, the launcher, the
    /// stand-in images. Nothing about `vllm serve` itself is known yet.
    #[error("cannot {op}: {source}")]
    Setup {
        op: String,
        #[source]
        source: BoxError,
    },
    /// The configuration asks for what this host cannot give (GPUs it does not have, fewer
    /// GPUs than the world size), found once the host's facts are read.
    #[error(transparent)]
    Config(crate::config::ConfigError),
    /// `vllm serve` did not become ready; the diagnosis names the cause (from its log, the
    /// process or the container) with the log tail. `message` is the full, secret-scrubbed text.
    #[error("{message}")]
    StartFailed {
        diagnosis: Box<Diagnosis>,
        message: String,
    },
    /// The container already serves another model or other arguments (and `--restart` was not
    /// given), or runs a `vllm serve` vbench did not start.
    #[error("{message}")]
    Mismatch { container: String, message: String },
    /// A multi-node server: nodes that did not join the Ray cluster (named, with their Ray
    /// log) before `server.nodes_timeout`, or a cluster with too few GPUs (`missing` empty).
    #[error("{message}")]
    NodesMissing {
        missing: Vec<String>,
        message: String,
    },
    /// A Docker call failed while working with a server that exists.
    #[error("cannot {op}: {source}")]
    Docker {
        op: String,
        #[source]
        source: DockerError,
    },
    /// Anything else (writing the server record, an unexpected reply).
    #[error("cannot {op}: {source}")]
    Other {
        op: String,
        #[source]
        source: BoxError,
    },
}

impl ServerError {
    pub fn setup(op: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ServerError::Setup {
            op: op.into(),
            source: source.into(),
        }
    }

    pub fn docker(op: impl Into<String>) -> impl FnOnce(DockerError) -> Self {
        let op = op.into();
        move |source| ServerError::Docker { op, source }
    }

    pub fn other(op: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ServerError::Other {
            op: op.into(),
            source: source.into(),
        }
    }
}
