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

#[cfg(test)]
mod tests {
    use crate::config::{GpuMode, GpuSelection, Overrides, from_text};

    const TWO: &str = "hosts:\n  - name: ha\n    docker_host: unix:///var/run/docker.sock\n  - name: hb\n    docker_host: tcp://10.0.0.7:2376\n    tls_cert_path: /certs/b\n    gpu: amd\n    gpus: 2\n    server_container: srv-b\n    publish_port: 18001\n";

    fn load(
        yaml: &str,
        o: &Overrides,
    ) -> Result<crate::config::Config, crate::config::ConfigError> {
        from_text(yaml.to_string(), None, o, None)
    }

    #[test]
    fn hosts_load_and_override_the_server_settings_they_name() {
        let c = load(TWO, &Overrides::default()).expect("valid");
        assert_eq!(c.host_names(), ["ha", "hb"]);
        let b = c.host("hb").expect("b");
        assert_eq!(
            b.endpoint().tls_cert_path.as_deref(),
            Some(std::path::Path::new("/certs/b"))
        );
        let on_b = c.for_host(b);
        assert_eq!(on_b.server.gpu, GpuMode::Amd);
        assert_eq!(on_b.server.gpus, GpuSelection::Count(2));
        assert_eq!(on_b.server.container, "srv-b");
        assert_eq!(on_b.server.publish_port, Some(18001));
        // What a host does not set stays the server section's.
        assert_eq!(on_b.client.container, c.client.container);
        assert_eq!(c.for_host(c.host("ha").unwrap()).server, c.server);
    }

    #[test]
    fn a_flag_wins_over_the_host() {
        let o = Overrides {
            gpus: Some("4,5,6,7".into()),
            server_container: Some("from-flag".into()),
            ..Default::default()
        };
        let c = load(TWO, &o).expect("valid");
        let on_b = c.for_host(c.host("hb").unwrap());
        assert_eq!(on_b.server.gpus, GpuSelection::Ids(vec![4, 5, 6, 7]));
        assert_eq!(on_b.server.container, "from-flag");
        assert_eq!(on_b.server.gpu, GpuMode::Amd);
    }

    #[test]
    fn bad_hosts_are_refused_at_their_line() {
        for (yaml, want) in [
            ("hosts:\n  - name: ha\n", "no `docker_host`"),
            ("hosts:\n  - docker_host: unix:///x\n", "no `name`"),
            (
                "hosts:\n  - name: ha\n    docker_host: unix:///x\n  - name: ha\n    docker_host: unix:///y\n",
                "also names hosts[0]",
            ),
            (
                "hosts:\n  - name: ha\n    docker_host: ftp://x\n",
                "not a Docker Engine address",
            ),
            (
                "hosts:\n  - name: ha\n    docker_host: unix:///x\n    tls_cert_path: /c\n",
                "TLS certificates apply to tcp://",
            ),
            (
                "hosts:\n  - name: ha\n    docker_host: unix:///x\n    gpus: zero\n",
                "hosts[0].gpus",
            ),
        ] {
            let e = load(yaml, &Overrides::default()).expect_err(yaml);
            let text = format!("{e} {}", e.help.join(" "));
            assert!(
                text.contains(want) || e.to_string().contains(want),
                "{yaml}: {e}"
            );
        }
    }
}
