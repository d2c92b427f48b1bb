//! What a run was asked to do, in the engine's own terms. `commands` builds these from the
//! command line; nothing here knows about clap.

use crate::config::SweepConfig;
use crate::docker::Labels;
use crate::sweep::Selection;

impl RunOptions {
    /// The engine the run talks to.
    pub fn endpoint(&self) -> crate::docker::Endpoint {
        crate::docker::Endpoint {
            host: self.docker_host.clone(),
            tls_cert_path: self.tls_cert_path.clone(),
        }
    }
}

/// The whole request behind `vbench run` / `vbench demo`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub selection: Selection,
    /// Sweeps decided by the command itself (`demo`), instead of `selection`.
    pub sweeps: Option<Vec<(String, SweepConfig)>>,
    pub dry_run: bool,
    /// `Some("latest")` or a run id.
    pub resume: Option<String>,
    /// With `resume`: accept a changed configuration.
    pub force: bool,
    /// Bring a server that died mid-sweep back and retry the point once.
    pub restart_server: bool,
    /// Stop the server when the run ends.
    pub down: bool,
    /// Replace a server that serves another model or other arguments.
    pub restart: bool,
    /// The configuration is the CPU stand-in's (a rehearsal, never a GPU measurement).
    pub standin: bool,
    /// The Docker Engine (`None`: `DOCKER_HOST`, else the local socket).
    pub docker_host: Option<String>,
    /// With `docker_host`: connect over TLS with this certificate directory (a named host's
    /// `tls_cert_path`).
    pub tls_cert_path: Option<std::path::PathBuf>,
    /// Extra labels on everything the run creates.
    pub labels: Labels,
    /// What a second SIGINT/SIGTERM does: exit at once (the caller decides the code).
    pub exit_now: Option<fn()>,
    /// Judge the run at its end against `last-good` or a named run (or result files).
    pub baseline: Option<String>,
    /// The verdict's threshold (relative, 0.05 = 5 %); default 10 %.
    pub threshold: Option<f64>,
    /// Cancelled on SIGINT/SIGTERM by a caller that installed the handlers itself (a matrix
    /// runs several runs under one); `None`: the run installs them.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
}
