//! `ray status` and `ray list nodes` output in the shape of Ray 2.4x's: the autoscaler summary
//! ("Node status", "Active:", "Resources", "Total Usage:", `0.0/2.0 GPU`), with `-v` a
//! per-node breakdown, and the node list as JSON or a table.

use super::wire::{Node, total};

const RULE: &str = "---------------------------------------------------------------";

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = crate::serve::log::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

fn gib(bytes: f64) -> String {
    format!("{:.2}GiB", bytes / f64::from(1u32 << 30))
}

/// Usage lines: CPU, GPU (when there are any), memory, object store.
fn usage(cpus: f64, gpus: f64, gpus_used: f64, memory: f64) -> Vec<String> {
    let mut v = vec![format!("0.0/{cpus:.1} CPU")];
    if gpus > 0.0 {
        v.push(format!("{gpus_used:.1}/{gpus:.1} GPU"));
    }
    v.push(format!("0B/{} memory", gib(memory)));
    v.push(format!("0B/{} object_store_memory", gib(memory * 0.3)));
    v
}

pub fn status(nodes: &[Node], verbose: bool) -> String {
    let mut s = format!("======== Autoscaler status: {} ========\n", timestamp());
    s += "Node status\n";
    s += RULE;
    s += "\nActive:\n";
    for n in nodes.iter().filter(|n| n.alive()) {
        s += &format!(" 1 node_{}\n", n.node_id);
    }
    s += "Pending:\n (no pending nodes)\nRecent failures:\n";
    let dead: Vec<&Node> = nodes.iter().filter(|n| !n.alive()).collect();
    if dead.is_empty() {
        s += " (no failures)\n";
    }
    for n in dead {
        s += &format!(" node_{}: NodeTerminated (ip: {})\n", n.node_id, n.node_ip);
    }
    s += "\nResources\n";
    s += RULE;
    s += "\nTotal Usage:\n";
    for l in usage(
        total(nodes, |n| n.cpus),
        total(nodes, |n| n.gpus),
        total(nodes, |n| n.gpus_used),
        total(nodes, |n| n.memory as f64),
    ) {
        s += &format!(" {l}\n");
    }
    s += "\nFrom request_resources:\n (none)\nPending Demands:\n (no resource demands)\n";
    if verbose {
        s += "\n";
        for n in nodes.iter().filter(|n| n.alive()) {
            s += &format!("\nNode: {}\n Usage:\n", n.node_id);
            for l in usage(n.cpus, n.gpus, n.gpus_used, n.memory as f64) {
                s += &format!("  {l}\n");
            }
        }
    }
    s
}

fn resources(n: &Node) -> serde_json::Value {
    let mut r = serde_json::Map::new();
    r.insert("CPU".into(), n.cpus.into());
    if n.gpus > 0.0 {
        r.insert("GPU".into(), n.gpus.into());
    }
    r.insert("memory".into(), (n.memory as f64).into());
    r.insert(format!("node:{}", n.node_ip), 1.0.into());
    if n.is_head_node {
        r.insert("node:__internal_head__".into(), 1.0.into());
    }
    serde_json::Value::Object(r)
}

/// `ray list nodes --format json`: the state API's fields.
pub fn list_json(nodes: &[Node]) -> String {
    let v: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "node_id": n.node_id,
                "node_ip": n.node_ip,
                "is_head_node": n.is_head_node,
                "state": n.state,
                "state_message": serde_json::Value::Null,
                "node_name": n.node_name,
                "resources_total": resources(n),
                "labels": {"ray.io/node_id": n.node_id},
            })
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into())
}

/// `ray list nodes` (table).
pub fn list_table(nodes: &[Node]) -> String {
    let mut s = format!("======== List: {} ========\n", timestamp());
    s += &format!(
        "Stats:\n------------------------------\nTotal: {}\n\nTable:\n------------------------------\n",
        nodes.len()
    );
    s += "    NODE_ID                                                   NODE_IP          IS_HEAD_NODE    STATE    NODE_NAME        GPU\n";
    for (i, n) in nodes.iter().enumerate() {
        s += &format!(
            "{i:>2}  {:<56}  {:<15}  {:<14}  {:<7}  {:<15}  {:.1}\n",
            n.node_id,
            n.node_ip,
            if n.is_head_node { "True" } else { "False" },
            n.state,
            n.node_name,
            n.gpus
        );
    }
    s
}
