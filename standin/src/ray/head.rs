//! The head of a stand-in Ray cluster: a small TCP registry (std threads, one per connection).
//! It knows each node (id, name, IP, stand-in GPUs and CPUs), whether it is alive (its
//! connection open and a heartbeat within `SILENCE`), and which GPUs placement groups hold.
//! The head is itself the first node, as in Ray.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::{Node, Reply, Request};

/// A node whose heartbeat is older than this is reported dead (Ray's GCS health check gives
/// up after a similar silence).
const SILENCE: Duration = Duration::from_secs(10);

struct Entry {
    node: Node,
    last_seen: Instant,
    /// Closed connection: dead for good.
    gone: bool,
}

#[derive(Default)]
struct Registry {
    entries: Vec<Entry>,
    /// Open placement groups: id → GPUs per node index.
    groups: Vec<(u64, Vec<(usize, f64)>)>,
    next_group: u64,
}

impl Registry {
    fn snapshot(&self) -> Vec<Node> {
        let now = Instant::now();
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut n = e.node.clone();
                let dead = e.gone || (!n.is_head_node && now - e.last_seen > SILENCE);
                n.state = if dead { "DEAD" } else { "ALIVE" }.into();
                n.gpus_used = self
                    .groups
                    .iter()
                    .flat_map(|(_, b)| b.iter())
                    .filter(|(idx, _)| *idx == i)
                    .map(|(_, g)| g)
                    .sum::<f64>()
                    + 0.0;
                n
            })
            .collect()
    }

    /// Ray's PACK strategy, simplified: one-GPU bundles on the alive nodes in registration
    /// order (the head first), as many on one node as it has free.
    fn reserve(&mut self, gpus: u32) -> Option<(u64, Vec<String>)> {
        let nodes = self.snapshot();
        let mut plan: Vec<(usize, f64)> = Vec::new();
        let mut ids = Vec::new();
        let mut left = gpus;
        for (i, n) in nodes.iter().enumerate() {
            if !n.alive() || left == 0 {
                continue;
            }
            let free = (n.gpus - n.gpus_used).floor().max(0.0) as u32;
            let take = free.min(left);
            if take > 0 {
                plan.push((i, f64::from(take)));
                ids.extend(std::iter::repeat_n(n.node_id.clone(), take as usize));
                left -= take;
            }
        }
        if left > 0 {
            return None;
        }
        self.next_group += 1;
        self.groups.push((self.next_group, plan));
        Some((self.next_group, ids))
    }
}

/// A 56-hex-digit node id like Ray's, unique enough for a test cluster.
pub fn node_id(seed: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x: u64 = 0xcbf2_9ce4_8422_2325 ^ (nanos as u64) ^ u64::from(std::process::id());
    for b in seed.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut out = String::new();
    while out.len() < 56 {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(56);
    out
}

/// Serve the registry on `listener` forever; `head` is the head's own node.
pub fn serve(listener: TcpListener, head: Node) {
    let reg = Arc::new(Mutex::new(Registry {
        entries: vec![Entry {
            node: head,
            last_seen: Instant::now(),
            gone: false,
        }],
        ..Registry::default()
    }));
    for conn in listener.incoming().flatten() {
        let reg = reg.clone();
        std::thread::spawn(move || {
            let _ = handle(conn, &reg);
        });
    }
}

fn reply(stream: &mut TcpStream, r: &Reply) -> std::io::Result<()> {
    use std::io::Write;
    let mut line = serde_json::to_string(r).map_err(std::io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes())
}

fn handle(stream: TcpStream, reg: &Mutex<Registry>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut lines = BufReader::new(stream).lines();
    let Some(first) = lines.next().transpose()? else {
        return Ok(());
    };
    let req: Request = serde_json::from_str(&first).map_err(std::io::Error::other)?;
    match req {
        Request::Nodes => {
            let nodes = reg.lock().map(|r| r.snapshot()).unwrap_or_default();
            let mut line = serde_json::to_string(&nodes).map_err(std::io::Error::other)?;
            line.push('\n');
            use std::io::Write;
            out.write_all(line.as_bytes())
        }
        Request::Register {
            node_name,
            node_ip,
            gpus,
            cpus,
            memory,
        } => {
            let id = node_id(&format!("{node_name}{node_ip}"));
            let index = {
                let mut r = reg.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                r.entries.push(Entry {
                    node: Node {
                        node_id: id.clone(),
                        node_ip,
                        is_head_node: false,
                        state: "ALIVE".into(),
                        node_name,
                        gpus,
                        cpus,
                        memory,
                        gpus_used: 0.0,
                    },
                    last_seen: Instant::now(),
                    gone: false,
                });
                r.entries.len() - 1
            };
            reply(
                &mut out,
                &Reply {
                    node_id: Some(id),
                    error: None,
                    bundles: Vec::new(),
                },
            )?;
            // Heartbeats until the connection ends (closed, broken or 30 s silent).
            while let Some(Ok(_)) = lines.next() {
                if let Ok(mut r) = reg.lock() {
                    r.entries[index].last_seen = Instant::now();
                }
            }
            if let Ok(mut r) = reg.lock() {
                r.entries[index].gone = true;
            }
            Ok(())
        }
        Request::Reserve { gpus } => {
            let got = reg.lock().ok().and_then(|mut r| r.reserve(gpus));
            let Some((group, bundles)) = got else {
                return reply(
                    &mut out,
                    &Reply {
                        node_id: None,
                        error: Some(format!("not enough free GPUs for {gpus} bundles")),
                        bundles: Vec::new(),
                    },
                );
            };
            reply(
                &mut out,
                &Reply {
                    node_id: None,
                    error: None,
                    bundles,
                },
            )?;
            // Held until the holder goes away (its reads time out every 30 s while it lives,
            // so keep waiting on timeouts and release on EOF or a real error).
            loop {
                match lines.next() {
                    Some(Ok(_)) => continue,
                    Some(Err(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue;
                    }
                    _ => break,
                }
            }
            if let Ok(mut r) = reg.lock() {
                r.groups.retain(|(id, _)| *id != group);
            }
            Ok(())
        }
        Request::Heartbeat => Ok(()),
    }
}
