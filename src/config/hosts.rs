//! `hosts:`: named Docker Engines a command can be pointed at (`--host NAME`) or a run fanned
//! out over (`vbench run --hosts a,b`). A host is an engine address (unix socket, tcp with or
//! without TLS certificates, `ssh://user@host`) plus the few server settings that differ from
//! one machine to the next: the GPU preset, the GPU selection and the container names.
//! `Config::for_host` gives the configuration a command uses on one host.

use std::path::PathBuf;

use serde::Serialize;

use super::{Config, GpuMode, GpuSelection};

/// The URL schemes a host's `docker_host` may use (what bollard connects to).
pub const HOST_SCHEMES: [&str; 5] = ["unix://", "tcp://", "http://", "https://", "ssh://"];

/// One named Docker Engine (`hosts:` entry).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostConfig {
    /// Unique name (`gpu-a`): `--host gpu-a`, and the host's directory under a fan-out run.
    pub name: String,
    /// The engine's address: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`,
    /// `ssh://user@host`.
    pub docker_host: String,
    /// A directory holding `ca.pem`, `cert.pem` and `key.pem` (Docker's `DOCKER_CERT_PATH`
    /// layout): connect over TLS with these (tcp/https addresses only).
    pub tls_cert_path: Option<PathBuf>,
    /// GPU preset on this host (else `server.gpu`).
    pub gpu: Option<GpuMode>,
    /// GPU selection on this host (else `server.gpus`).
    pub gpus: Option<GpuSelection>,
    /// Server container name on this host (else `server.container`).
    pub server_container: Option<String>,
    /// Client container name on this host (else `client.container`).
    pub client_container: Option<String>,
    /// The server port published on this host's 127.0.0.1 (else `server.publish_port`):
    /// two engines on one machine cannot both publish the same port.
    pub publish_port: Option<u16>,
}

impl HostConfig {
    /// The engine address in the Docker layer's terms.
    pub fn endpoint(&self) -> crate::docker::Endpoint {
        crate::docker::Endpoint {
            host: Some(self.docker_host.clone()),
            tls_cert_path: self.tls_cert_path.clone(),
        }
    }
}

impl Config {
    /// The host named `name`, if `hosts:` has one.
    pub fn host(&self, name: &str) -> Option<&HostConfig> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The host names, in the file's order.
    pub fn host_names(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    /// The configuration a command uses on `host`: its GPU preset, GPU selection and
    /// container names replace the `server`/`client` sections' values — but not a
    /// command-line flag's (`--gpus 0 --host a` means GPU 0 on a).
    pub fn for_host(&self, host: &HostConfig) -> Config {
        let mut c = self.clone();
        let ctx = self.provenance.ctx();
        let free = |path: &str| !matches!(ctx.origin_of(path), super::Origin::Flag(_));
        if let Some(g) = host.gpu.filter(|_| free("server.gpu")) {
            c.server.gpu = g;
        }
        if let Some(g) = host.gpus.as_ref().filter(|_| free("server.gpus")) {
            c.server.gpus = g.clone();
        }
        if let Some(n) = host
            .server_container
            .as_ref()
            .filter(|_| free("server.container"))
        {
            c.server.container = n.clone();
        }
        if let Some(n) = host
            .client_container
            .as_ref()
            .filter(|_| free("client.container"))
        {
            c.client.container = n.clone();
        }
        if let Some(p) = host.publish_port {
            c.server.publish_port = Some(p);
        }
        c
    }
}
