//! Named Docker Engines (`hosts:` in the configuration): finding a host by name, connecting a
//! `docker::Docker` to it, and (in `fanout`) running one benchmark over several of them.
//! The configuration's side (the `hosts:` list, `HostConfig`, `Config::for_host`) lives in
//! `config`; this module owns what needs an engine.
//!
//! Submodules: `fanout` (one run over several hosts, replicate or shard), `record` (its state
//! on disk), `report` (its one report across hosts).

pub mod fanout;
pub mod record;
pub mod report;

use crate::config::{Config, HostConfig};
use crate::docker::{Docker, DockerError, Labels};

/// What selecting or reaching a named host can fail at.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// `--host NAME` (or `--hosts`) names no `hosts:` entry.
    #[error("no host named `{name}` in the configuration{}", known_list(.known))]
    Unknown { name: String, known: Vec<String> },
    /// The host's engine did not answer (or refused the connection).
    #[error("host `{name}`: {source}")]
    Unreachable {
        name: String,
        #[source]
        source: DockerError,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (it has no `hosts:` list)".to_string()
    } else {
        format!(" (hosts: {})", known.join(", "))
    }
}

/// The `hosts:` entry named `name`.
pub fn named<'a>(cfg: &'a Config, name: &str) -> Result<&'a HostConfig, HostError> {
    cfg.host(name).ok_or_else(|| HostError::Unknown {
        name: name.to_string(),
        known: cfg.hosts.iter().map(|h| h.name.clone()).collect(),
    })
}

/// The entries named by `names`, in that order (each once).
pub fn select<'a, S: AsRef<str>>(
    cfg: &'a Config,
    names: &[S],
) -> Result<Vec<&'a HostConfig>, HostError> {
    let mut out: Vec<&HostConfig> = Vec::new();
    for n in names {
        let h = named(cfg, n.as_ref())?;
        if !out.iter().any(|o| o.name == h.name) {
            out.push(h);
        }
    }
    Ok(out)
}

/// Where a host's results, run state and lock live: `<results_dir>/hosts/<name>/`, so each
/// host locks and resumes on its own.
pub fn results_dir(cfg: &Config, host: &HostConfig) -> std::path::PathBuf {
    cfg.results_dir.join("hosts").join(&host.name)
}

/// The configuration a command uses on `host`: `Config::for_host`'s settings, with the
/// results under the host's own directory (`results_dir`).
pub fn on_host(cfg: &Config, host: &HostConfig) -> Config {
    let mut c = cfg.for_host(host);
    c.results_dir = results_dir(cfg, host);
    c
}

/// Connect to `host`'s engine (API version negotiated), labelling what is created through
/// the handle with `labels`.
pub async fn connect(host: &HostConfig, labels: Labels) -> Result<Docker, HostError> {
    Docker::connect_endpoint(&host.endpoint())
        .await
        .map(|d| d.with_labels(labels))
        .map_err(|source| HostError::Unreachable {
            name: host.name.clone(),
            source,
        })
}
