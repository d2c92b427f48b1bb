//! The stand-in Ray's wire protocol and its client side: one JSON object per line over TCP to
//! the head. A node registers and then keeps its connection open, sending a heartbeat line
//! every second (the head forgets a node whose connection closes or falls silent); a
//! placement group is a reservation of GPUs held for as long as its connection stays open;
//! `nodes` answers the registry and closes. Nothing here pretends to be Ray's real GCS
//! protocol: only the commands (`ray start`, `ray status`, `ray list nodes`) and vLLM's
//! messages are modelled on the real ones.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Ray's default head (GCS) port.
pub const DEFAULT_PORT: u16 = 6379;
/// Ray's directory: `$RAY_TMPDIR/ray`, else `/tmp/ray`, as real Ray.
pub fn ray_dir() -> std::path::PathBuf {
    let base = std::env::var("RAY_TMPDIR")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "/tmp".into());
    std::path::Path::new(&base).join("ray")
}

/// Where `ray start` records the cluster's address, as real Ray does (`ray status` and
/// `ray.init()` without an address read it).
pub fn current_cluster() -> std::path::PathBuf {
    ray_dir().join("ray_current_cluster")
}

/// The stand-in's own files (pids of its nodes, logs of detached starts).
pub fn standin_dir() -> std::path::PathBuf {
    ray_dir().join("standin")
}
/// How often a node's heartbeat is sent.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// A request to the head.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Join the cluster; the connection then carries heartbeats.
    Register {
        node_name: String,
        node_ip: String,
        gpus: f64,
        cpus: f64,
        memory: u64,
    },
    /// Keep the node registered on this connection alive.
    Heartbeat,
    /// The registry, alive and dead nodes.
    Nodes,
    /// Reserve `gpus` GPUs (one bundle each) until the connection closes.
    Reserve { gpus: u32 },
}

/// One node as the head knows it (the fields of `ray list nodes --format json`, plus the
/// GPUs in use by placement groups).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub node_id: String,
    pub node_ip: String,
    pub is_head_node: bool,
    /// `ALIVE` or `DEAD`.
    pub state: String,
    pub node_name: String,
    pub gpus: f64,
    pub cpus: f64,
    pub memory: u64,
    /// GPUs of this node held by placement groups.
    pub gpus_used: f64,
}

impl Node {
    pub fn alive(&self) -> bool {
        self.state == "ALIVE"
    }
}

/// The head's answer to `register` and `reserve`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `reserve`: the node of each bundle, in bundle order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<String>,
}

/// The address a command connects to: `--address`, else `RAY_ADDRESS` (unless `auto`), else
/// the file `ray start` wrote. `None` when no cluster is known.
pub fn resolve_address(flag: Option<&str>) -> Option<String> {
    let pick = |v: String| {
        let v = v.trim().to_string();
        (!v.is_empty() && v != "auto").then_some(v)
    };
    flag.map(str::to_string)
        .and_then(pick)
        .or_else(|| std::env::var("RAY_ADDRESS").ok().and_then(pick))
        .or_else(|| {
            std::fs::read_to_string(current_cluster())
                .ok()
                .and_then(pick)
        })
}

/// Connect to the head at `addr` (`host:port`, the port defaulting to 6379).
pub fn connect(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let addr = if addr
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        addr.to_string()
    } else {
        format!("{addr}:{DEFAULT_PORT}")
    };
    let mut last = std::io::Error::other(format!("no address for {addr}"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Send one request line.
pub fn send(stream: &mut TcpStream, req: &Request) -> std::io::Result<()> {
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes())
}

/// Read one reply line as `T`.
pub fn receive<T: for<'a> Deserialize<'a>>(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<T> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the head closed the connection",
        ));
    }
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// The registry of the head at `addr`.
pub fn nodes(addr: &str) -> std::io::Result<Vec<Node>> {
    let mut s = connect(addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    send(&mut s, &Request::Nodes)?;
    receive(&mut BufReader::new(s))
}

/// Sum of a resource over the alive nodes.
pub fn total(nodes: &[Node], f: impl Fn(&Node) -> f64) -> f64 {
    // `+ 0.0`: an empty f64 sum is -0.0, which would print as `-0.0/2.0 GPU`.
    nodes.iter().filter(|n| n.alive()).map(f).sum::<f64>() + 0.0
}
