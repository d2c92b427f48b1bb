//! The placement group `vllm serve --distributed-executor-backend ray` needs: tensor × pipeline
//! parallel one-GPU bundles, as vLLM's `initialize_ray_cluster` asks Ray for them
//! (`vllm/v1/executor/ray_utils.py`). Connects to the cluster `ray start` recorded (or
//! `RAY_ADDRESS`), else stands for a local Ray instance made of this process's GPUs. Fewer
//! GPUs than bundles: vLLM's warning, then its wait (logged with backoff, as vLLM does) until
//! the cluster grows or the wait ends, then vLLM's `ValueError`. The wait is
//! `VLLM_STANDIN_PG_WAIT_SECONDS` (default 1800, vLLM's `PG_WAIT_TIMEOUT`).

use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::wire::{self, Request};
use crate::serve::log::{self, Level, Proc};

/// vLLM's `PG_WAIT_TIMEOUT`.
pub const PG_WAIT_TIMEOUT: Duration = Duration::from_secs(1800);

/// A placement group that holds its GPUs while this value lives (the connection to the head;
/// `None` for a local instance).
pub struct Placement {
    _holder: Option<TcpStream>,
    /// Node ids of the bundles, in bundle order (empty for a local instance).
    pub bundles: Vec<String>,
}

/// Why no placement group came.
pub struct Unplaced {
    /// `placement_group_specs` as vLLM prints them.
    pub specs: String,
    pub required: u32,
    pub waited: Duration,
}

fn engine(level: Level, msg: &str) {
    log::line(Proc::Engine, level, "ray_utils.py:400", msg);
}

/// The specs vLLM builds: one `{'GPU': 1.0}` bundle per worker, the first pinned to the
/// driver's node.
fn specs(world: u32, ip: &str) -> String {
    let mut v = Vec::new();
    for i in 0..world {
        if i == 0 {
            v.push(format!("{{'GPU': 1.0, 'node:{ip}': 0.001}}"));
        } else {
            v.push("{'GPU': 1.0}".to_string());
        }
    }
    format!("[{}]", v.join(", "))
}

/// One attempt at the head: `Ok(Some)` placed, `Ok(None)` not enough GPUs yet.
fn try_reserve(addr: &str, world: u32) -> std::io::Result<Option<(TcpStream, Vec<String>)>> {
    let mut s = wire::connect(addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    wire::send(&mut s, &Request::Reserve { gpus: world })?;
    let reply: wire::Reply = wire::receive(&mut BufReader::new(s.try_clone()?))?;
    if reply.error.is_some() {
        return Ok(None);
    }
    s.set_read_timeout(None)?;
    Ok(Some((s, reply.bundles)))
}

/// Place `world` bundles. `local_gpus` are the GPUs of a local instance (no cluster known);
/// `ip` is the driver's (vLLM's `get_ip()`: `VLLM_HOST_IP`, else the default route's).
pub fn place(world: u32, local_gpus: u32, ip: &str, wait: Duration) -> Result<Placement, Unplaced> {
    let address = wire::resolve_address(None);
    match &address {
        Some(a) => {
            log::line(
                Proc::Engine,
                Level::Info,
                "worker.py:1821",
                &format!("Connecting to existing Ray cluster at address: {a}..."),
            );
        }
        None => log::line(
            Proc::Engine,
            Level::Info,
            "worker.py:1841",
            "Started a local Ray instance.",
        ),
    }
    let cluster_gpus = |a: &str| -> f64 {
        wire::nodes(a)
            .map(|n| wire::total(&n, |n| n.gpus))
            .unwrap_or(0.0)
    };
    let total = match &address {
        Some(a) => cluster_gpus(a),
        None => f64::from(local_gpus),
    };
    engine(
        Level::Info,
        "No current placement group found. Creating a new placement group.",
    );
    if f64::from(world) > total {
        engine(
            Level::Warning,
            "The number of required GPUs exceeds the total number of available GPUs in the placement group.",
        );
    }
    let specs = specs(world, ip);
    let start = Instant::now();
    let mut next_log = Duration::from_secs(10);
    let mut interval = Duration::from_secs(10);
    loop {
        let placed = match &address {
            Some(a) => try_reserve(a, world)
                .ok()
                .flatten()
                .map(|(s, b)| (Some(s), b)),
            None => (world <= local_gpus).then(|| (None, Vec::new())),
        };
        if let Some((holder, bundles)) = placed {
            return Ok(Placement {
                _holder: holder,
                bundles,
            });
        }
        let waited = start.elapsed();
        if waited >= wait {
            return Err(Unplaced {
                specs,
                required: world,
                waited: wait,
            });
        }
        if waited >= next_log {
            // vLLM's exponential backoff between these lines.
            interval *= 2;
            next_log = waited + interval;
            engine(
                Level::Info,
                &format!(
                    "Waiting for creating a placement group of specs for {} seconds. specs={specs}. Check `ray status` and `ray list nodes` to see if you have enough resources, and make sure the IP addresses used by ray cluster are the same as VLLM_HOST_IP environment variable specified in each node if you are running on a multi-node.",
                    waited.as_secs()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(500).min(wait.saturating_sub(waited)));
    }
}
