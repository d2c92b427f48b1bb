//! What can stop a run before or outside its points, typed. How a run that did run ended
//! (finished, points failed, interrupted, server lost) is a `RunEnd`, not an error. The exit
//! code of each is decided at the edge (`crate::exit`).

use super::lock::LockError;
use crate::docker::DockerError;
use crate::server::ServerError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The request cannot be planned or resumed as given (unknown sweep, empty plan, a
    /// changed configuration on resume, …). Nothing was started.
    #[error("{0}")]
    Usage(String),
    /// Another vbench run holds the results directory's lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A benchmark already runs in the client container (someone else's).
    #[error("a benchmark is already running in {container}: {processes}")]
    ClientBusy {
        container: String,
        processes: String,
    },
    /// The Docker Engine could not be reached or refused an operation the run needs.
    #[error("cannot {op}: {source}")]
    Docker {
        op: String,
        #[source]
        source: DockerError,
    },
    /// Bringing the server or the client up failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Preparing the client or the run directory failed.
    #[error("cannot {op}: {source}")]
    Setup {
        op: String,
        #[source]
        source: BoxError,
    },
    /// SIGINT/SIGTERM while the server was being brought up; nothing was run.
    #[error("interrupted while bringing the server up; nothing was run")]
    InterruptedDuringSetup,
    /// The results directory cannot be written: its file system is full or read-only
    /// (`storage::explain`). Everything written before is kept; the message says how to go on.
    #[error("{message}")]
    Storage {
        message: String,
        #[source]
        source: Box<RunError>,
    },
    /// Reading or writing the run's state or reports failed.
    #[error("cannot {op}: {source}")]
    State {
        op: String,
        #[source]
        source: BoxError,
    },
}

impl RunError {
    pub fn usage(m: impl Into<String>) -> Self {
        RunError::Usage(m.into())
    }

    pub fn setup(op: impl Into<String>, source: impl Into<BoxError>) -> Self {
        RunError::Setup {
            op: op.into(),
            source: source.into(),
        }
    }

    pub fn state(op: impl Into<String>) -> impl FnOnce(anyhow::Error) -> Self {
        let op = op.into();
        move |e| RunError::State {
            op,
            source: e.into(),
        }
    }
}
