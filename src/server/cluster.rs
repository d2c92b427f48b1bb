//! Multi-node serving (`server.nodes`), as vLLM's recipe (`examples/online_serving/
//! run_cluster.sh`) does it: on every node's engine a server container with host networking
//! and `VLLM_HOST_IP` set to the node's address; a Ray head (`ray start --block --head`) on
//! the first node, Ray workers (`ray start --block --address HEAD:PORT`) on the others; a
//! wait, with a deadline, until `ray status` shows every node and tensor × pipeline parallel
//! size GPUs; then `vllm serve … --distributed-executor-backend ray` on the head through the
//! one-node path (`server::up_node`). The client and every probe use the head's node
//! configuration (`head`), so they run on the head's host. `down` stops and removes all of
//! it on every node.
//!
//! A node's address: the host of its engine's `tcp://`/`ssh://` address, resolved; for a
//! local engine (unix socket), the address of this machine's default route (127.0.0.1 when it
//! has none). The parsing of `ray status` and `ray list nodes` is pure (`parse_status`,
//! `missing_nodes`).

use std::time::{Duration, Instant};

use super::{ServerError, ServerInfo, UpOptions, argv};
use crate::config::{Config, HostConfig};
use crate::docker::{Docker, ExecSpec};
use crate::events::{self, Sink};

/// Where the Ray node's output goes inside a node's server container.
pub const RAY_LOG: &str = "/tmp/vbench-ray.log";
/// The PID file of the Ray node's process group (a tracked process, like `vllm serve`).
pub const RAY_PIDFILE: &str = "/tmp/vbench-ray.pid";
/// How often `ray status` is asked while nodes join.
const POLL: Duration = Duration::from_secs(1);

/// One node of the cluster: its host, its engine and its configuration.
pub struct Node {
    pub name: String,
    pub docker: Docker,
    pub cfg: Config,
    pub ip: String,
}

/// The `hosts:` entries `server.nodes` names, in order (the head first).
fn hosts(cfg: &Config) -> Result<Vec<&HostConfig>, ServerError> {
    cfg.server
        .nodes
        .iter()
        .map(|n| {
            cfg.host(n).ok_or_else(|| {
                ServerError::setup(
                    format!("find node {n}"),
                    format!("server.nodes names {n}, which is not in hosts:"),
                )
            })
        })
        .collect()
}

/// The address other nodes reach a node at (see the module doc).
pub fn node_ip(docker_host: &str) -> String {
    let rest = docker_host
        .strip_prefix("tcp://")
        .or_else(|| docker_host.strip_prefix("ssh://"))
        .or_else(|| docker_host.strip_prefix("http://"))
        .or_else(|| docker_host.strip_prefix("https://"));
    let Some(rest) = rest else {
        return local_ip();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host.to_string();
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4()))
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| host.to_string())
}

/// This machine's default-route address (no packet is sent), else loopback.
fn local_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.254.254.254:1")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// A node's configuration: the host's settings, host networking (no published port, no
/// bridge network), `VLLM_HOST_IP` (vLLM's and the recipe's per-node address).
pub fn node_config(cfg: &Config, host: &HostConfig, ip: &str) -> Config {
    let mut c = cfg.for_host(host);
    c.network = HOST_NETWORK.into();
    c.server.publish_port = None;
    c.server.env.insert("VLLM_HOST_IP".into(), ip.to_string());
    c
}

/// Docker's host network: a container on it shares its host's network namespace.
pub const HOST_NETWORK: &str = "host";

/// With `server.nodes`: the head's engine and its node configuration, which the client, the
/// probes and the benchmark use. `None` for a one-node server.
pub fn head(cfg: &Config) -> Result<Option<(crate::docker::Endpoint, Config)>, ServerError> {
    if cfg.server.nodes.is_empty() {
        return Ok(None);
    }
    let hosts = hosts(cfg)?;
    let h = hosts[0];
    let ip = node_ip(&h.docker_host);
    Ok(Some((h.endpoint(), node_config(cfg, h, &ip))))
}

/// Connect to every node's engine (the labels of `docker`, the handle the command made, go
/// on everything created on every node).
pub async fn connect(docker: &Docker, cfg: &Config) -> Result<Vec<Node>, ServerError> {
    let mut nodes = Vec::new();
    for h in hosts(cfg)? {
        let d = Docker::connect_endpoint(&h.endpoint())
            .await
            .map_err(ServerError::docker(format!("connect to node {}", h.name)))?
            .with_labels(docker.extra_labels().clone());
        let ip = node_ip(&h.docker_host);
        nodes.push(Node {
            name: h.name.clone(),
            cfg: node_config(cfg, h, &ip),
            docker: d,
            ip,
        });
    }
    Ok(nodes)
}

/// The `ray start` argv of node `i` (0: the head).
pub fn ray_argv(cfg: &Config, node: &str, ip: &str, head_ip: &str, head: bool) -> Vec<String> {
    let mut v: Vec<String> = ["ray", "start", "--block"].map(String::from).to_vec();
    if head {
        v.extend([
            "--head".to_string(),
            "--port".into(),
            cfg.server.ray_port.to_string(),
        ]);
    } else {
        v.extend([
            "--address".to_string(),
            format!("{head_ip}:{}", cfg.server.ray_port),
        ]);
    }
    v.extend([
        "--node-ip-address".to_string(),
        ip.to_string(),
        "--node-name".into(),
        node.to_string(),
        "--disable-usage-stats".into(),
    ]);
    v
}

/// Bring the cluster up and `vllm serve` on its head.
pub async fn up(
    docker: &Docker,
    cfg: &Config,
    opts: &UpOptions,
    sink: &dyn Sink,
) -> Result<ServerInfo, ServerError> {
    let nodes = connect(docker, cfg).await?;
    let head_ip = nodes[0].ip.clone();
    for (i, n) in nodes.iter().enumerate() {
        prepare(n, opts, sink).await?;
        start_ray(n, &ray_argv(&n.cfg, &n.name, &n.ip, &head_ip, i == 0), sink).await?;
    }
    wait_joined(&nodes, sink).await?;
    let head = &nodes[0];
    // The stand-in configuration is applied already (`opts.standin` made it and built the
    // images on every node).
    super::up_node(
        &head.docker,
        &head.cfg,
        &UpOptions {
            restart: opts.restart,
            standin: false,
        },
        sink,
    )
    .await
}

/// The node's server container, created (or attached to) as the one-node path does.
async fn prepare(n: &Node, opts: &UpOptions, sink: &dyn Sink) -> Result<(), ServerError> {
    if opts.standin {
        super::ensure_standin_images(&n.docker, sink)
            .await
            .map_err(|e| {
                ServerError::setup(format!("build the stand-in images on {}", n.name), e)
            })?;
    }
    let gpu = super::spec::detect(&n.docker, &n.cfg);
    let host_gpus = super::gpus::HostGpus::read();
    let server = &n.cfg.server.container;
    let cspec = super::spec::server_spec(&n.cfg, gpu, &host_gpus, n.docker.extra_labels());
    super::ensure_image(&n.docker, &n.cfg, server, &cspec.image, sink).await?;
    let (_, how) = n.docker.ensure_container(&cspec).await.map_err(|e| {
        ServerError::setup(
            format!(
                "create or start the server container {server} on {}",
                n.name
            ),
            e,
        )
    })?;
    events::info(
        sink,
        format!(
            "node {}: server container {server} ({how:?}, host network, VLLM_HOST_IP={})",
            n.name, n.ip
        ),
    );
    Ok(())
}

/// Start the node's Ray process, tracked, unless one already runs.
async fn start_ray(n: &Node, ray: &[String], sink: &dyn Sink) -> Result<(), ServerError> {
    let server = &n.cfg.server.container;
    let alive = n
        .docker
        .tracked_alive(server, RAY_PIDFILE)
        .await
        .map_err(ServerError::docker(format!(
            "check Ray in {server} on {}",
            n.name
        )))?;
    if alive {
        events::info(
            sink,
            format!("node {}: Ray already runs in {server}", n.name),
        );
        return Ok(());
    }
    let script = format!("\"$@\" >{RAY_LOG} 2>&1");
    let mut argv = vec!["sh".to_string(), "-c".into(), script, "sh".into()];
    argv.extend(ray.iter().cloned());
    let exec = ExecSpec {
        argv,
        env: argv::serve_env(&n.cfg.server),
        pidfile: Some(RAY_PIDFILE.to_string()),
        ..Default::default()
    };
    n.docker
        .exec_detached(server, &exec)
        .await
        .map_err(|e| ServerError::setup(format!("start Ray in {server} on {}", n.name), e))?;
    events::info(sink, format!("node {}: {}", n.name, ray.join(" ")));
    Ok(())
}

/// What `ray status` says: the active nodes and the cluster's GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RayStatus {
    pub active: usize,
    pub gpus: f64,
}

/// Parse `ray status`: the lines under `Active:` (` 1 node_<id>`, one per node) and the
/// `USED/TOTAL GPU` line of the usage.
pub fn parse_status(text: &str) -> RayStatus {
    let active = text
        .lines()
        .skip_while(|l| l.trim_end() != "Active:")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .filter(|l| {
            let t = l.trim();
            !t.starts_with('(')
        })
        .map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1)
        })
        .sum();
    let gpus = text
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" GPU"))
        .filter_map(|u| u.split_once('/'))
        .filter_map(|(_, total)| total.parse::<f64>().ok())
        .next()
        .unwrap_or(0.0);
    RayStatus { active, gpus }
}

/// The expected nodes that `ray list nodes --format json` does not list alive (by
/// `node_name`, which vbench sets to the host's name).
pub fn missing_nodes(expected: &[String], list_json: &str) -> Vec<String> {
    let alive: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(list_json)
        .unwrap_or_default()
        .iter()
        .filter(|n| n["state"] == "ALIVE")
        .filter_map(|n| n["node_name"].as_str().map(str::to_string))
        .collect();
    expected
        .iter()
        .filter(|e| !alive.contains(e))
        .cloned()
        .collect()
}

async fn ray_cmd(head: &Node, args: &[&str]) -> Result<(Option<i64>, String, String), ServerError> {
    let mut argv = vec!["ray".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let spec = ExecSpec {
        argv,
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (o, out, err) = head
        .docker
        .exec_capture(&head.cfg.server.container, &spec)
        .await
        .map_err(ServerError::docker(format!(
            "run ray {} on {}",
            args.join(" "),
            head.name
        )))?;
    Ok((o.exit_code, out, err))
}

/// Wait until `ray status` on the head shows every node and the GPUs the world needs; past
/// `server.nodes_timeout`, name the nodes that never joined.
async fn wait_joined(nodes: &[Node], sink: &dyn Sink) -> Result<(), ServerError> {
    let head = &nodes[0];
    let cfg = &head.cfg;
    let want = nodes.len();
    let world = crate::config::world_size(&cfg.server) as f64;
    let deadline = Instant::now() + cfg.server.nodes_timeout;
    events::info(
        sink,
        format!(
            "waiting up to {}s for {want} Ray nodes with {world} GPUs",
            cfg.server.nodes_timeout.as_secs()
        ),
    );
    let mut last = RayStatus::default();
    loop {
        let (code, out, _) = ray_cmd(head, &["status"]).await?;
        if code == Some(0) {
            last = parse_status(&out);
            if last.active >= want && last.gpus >= world {
                events::info(
                    sink,
                    format!(
                        "Ray cluster ready: {} nodes, {} GPUs",
                        last.active, last.gpus
                    ),
                );
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let (_, list, _) = ray_cmd(head, &["list", "nodes", "--format", "json"]).await?;
    let missing = missing_nodes(&names, &list);
    let mut message = if missing.is_empty() {
        format!(
            "the Ray cluster has {} of the {world} GPUs tensor_parallel_size × pipeline_parallel_size needs after {}s (every node joined: {})",
            last.gpus,
            cfg.server.nodes_timeout.as_secs(),
            names.join(", ")
        )
    } else {
        format!(
            "Ray node{} {} never joined the head on {} within server.nodes_timeout ({}s): {} of {want} nodes, {} GPUs",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            head.name,
            cfg.server.nodes_timeout.as_secs(),
            last.active,
            last.gpus
        )
    };
    for n in nodes.iter().filter(|n| missing.contains(&n.name)) {
        let tail = ray_log_tail(n).await;
        if !tail.is_empty() {
            message.push_str(&format!("\n--- {} ({RAY_LOG}) ---\n{tail}", n.name));
        }
    }
    Err(ServerError::NodesMissing { missing, message })
}

async fn ray_log_tail(n: &Node) -> String {
    match n.docker.read_file(&n.cfg.server.container, RAY_LOG).await {
        Ok(Some(b)) => {
            let text = String::from_utf8_lossy(&b);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(10)..].join("\n")
        }
        _ => String::new(),
    }
}

/// `vbench down` on every node: the head's `vllm serve` as on one node, every node's Ray
/// process, and with `remove` every node's containers.
pub async fn down(
    docker: &Docker,
    cfg: &Config,
    opts: &super::DownOptions,
    sink: &dyn Sink,
) -> Result<(), ServerError> {
    let nodes = connect(docker, cfg).await?;
    for (i, n) in nodes.iter().enumerate() {
        let server = &n.cfg.server.container;
        let running = n
            .docker
            .inspect_container(server)
            .await
            .map_err(ServerError::docker(format!(
                "inspect {server} on {}",
                n.name
            )))?
            .is_some_and(|s| s.running);
        if running
            && n.docker
                .stop_tracked(server, RAY_PIDFILE, Duration::from_secs(10))
                .await
                .map_err(ServerError::docker(format!(
                    "stop Ray in {server} on {}",
                    n.name
                )))?
        {
            events::info(sink, format!("node {}: stopped Ray", n.name));
        }
        if i == 0 {
            super::down::down_node(&n.docker, &n.cfg, opts, sink).await?;
        } else if opts.remove {
            super::down::remove_containers(&n.docker, &n.cfg, opts, &[server], sink).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "======== Autoscaler status: 2026-12-01 19:30:00.000000 ========
Node status
---------------------------------------------------------------
Active:
 1 node_aa
 1 node_bb
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:
 0.0/16.0 CPU
 0.0/2.0 GPU
 0B/8.00GiB memory
";

    #[test]
    fn status_counts_active_nodes_and_gpus() {
        assert_eq!(
            parse_status(STATUS),
            RayStatus {
                active: 2,
                gpus: 2.0
            }
        );
        let one = STATUS
            .replace(" 1 node_bb\n", "")
            .replace("0.0/2.0 GPU", "0.0/1.0 GPU");
        assert_eq!(
            parse_status(&one),
            RayStatus {
                active: 1,
                gpus: 1.0
            }
        );
        // Real Ray groups nodes of one type: ` 2 node_type`.
        let grouped = STATUS.replace(" 1 node_aa\n 1 node_bb\n", " 2 worker\n");
        assert_eq!(parse_status(&grouped).active, 2);
        assert_eq!(parse_status("").active, 0);
    }

    #[test]
    fn missing_nodes_are_named() {
        let list = r#"[{"node_name":"a","state":"ALIVE"},{"node_name":"b","state":"DEAD"}]"#;
        let want = ["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(missing_nodes(&want, list), ["b", "c"]);
        assert_eq!(missing_nodes(&want, "not json"), want);
    }

    #[test]
    fn node_addresses_come_from_the_engine_address() {
        assert_eq!(node_ip("tcp://10.0.0.5:2376"), "10.0.0.5");
        assert_eq!(node_ip("ssh://me@192.168.1.9"), "192.168.1.9");
        assert_eq!(node_ip("ssh://me@192.168.1.9:22"), "192.168.1.9");
        assert_eq!(node_ip("tcp://localhost:2375"), "127.0.0.1");
        // A local engine: this machine's address (some IPv4 address).
        assert!(
            node_ip("unix:///run/docker.sock")
                .parse::<std::net::Ipv4Addr>()
                .is_ok()
        );
    }

    #[test]
    fn head_and_workers_start_as_the_recipe_does() {
        let cfg = Config::default();
        assert_eq!(
            ray_argv(&cfg, "a", "10.0.0.1", "10.0.0.1", true).join(" "),
            "ray start --block --head --port 6379 --node-ip-address 10.0.0.1 --node-name a --disable-usage-stats"
        );
        assert_eq!(
            ray_argv(&cfg, "b", "10.0.0.2", "10.0.0.1", false).join(" "),
            "ray start --block --address 10.0.0.1:6379 --node-ip-address 10.0.0.2 --node-name b --disable-usage-stats"
        );
    }
}
