//! GPU selection for the server container (`server.gpus`): the host facts it depends on —
//! `/dev/kfd`, the AMD GPUs' render (and card) nodes with their group owners, `/etc/group` —
//! read in one small function (`HostGpus::read`), and the pure functions that turn the
//! selection and those facts into the container's device request or device nodes, numeric
//! groups and environment (`gpu_parts`), plus the checks that need the host (`check`).
//!
//! Decisions, each for a reason:
//! - AMD GPU *i* is the *i*-th GPU node of the host's KFD topology (what ROCm numbers, so what
//!   `rocm-smi` and `HIP_VISIBLE_DEVICES` on the host mean), its render node named by the
//!   node's `drm_render_minor`; without the topology, the render nodes sorted by minor
//!   (`renderD128 + i` on a usual host).
//! - The card node goes in too only when sysfs ties it to the same device
//!   (`/sys/class/drm/renderD<m>/device/drm/card<N>`): card and render minors are not in a
//!   fixed relation, and ROCm compute needs only `/dev/kfd` and the render node.
//! - Inside the container the kernel hides the GPUs whose render node the container may not
//!   open (KFD checks the device cgroup), so ROCm there numbers the selection 0..k−1; that is
//!   what `ROCR_VISIBLE_DEVICES` / `HIP_VISIBLE_DEVICES` must say, not the host indices.
//! - Groups are the host's numeric GIDs (a name resolves in the image's `/etc/group`), GID 0
//!   left out: the container's root has it already, and a non-root user should not gain it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::config::{Config, ConfigError, GpuSelection, ServerConfig};
use crate::docker::{GpuPreset, NvidiaGpus};

/// A device node on the host: its path, group owner and permission bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceNode {
    pub path: String,
    pub gid: u32,
    /// The permission bits (`0o660`), without the file type.
    pub mode: u32,
}

impl DeviceNode {
    /// Whether a process in group `gid` (and not the owner) may read and write it.
    pub fn group_rw(&self, gids: &[u32]) -> bool {
        (gids.contains(&self.gid) && self.mode & 0o060 == 0o060) || self.mode & 0o006 == 0o006
    }
}

/// One AMD GPU of the host, in ROCm's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmdGpu {
    pub render: DeviceNode,
    /// The same device's card node, when sysfs says which it is.
    pub card: Option<DeviceNode>,
}

/// What the host offers, as far as the server container's spec depends on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostGpus {
    /// `/etc/group` (empty when unreadable).
    pub etc_group: String,
    /// `/dev/kfd`, when present.
    pub kfd: Option<DeviceNode>,
    /// The AMD GPUs, index = ROCm's GPU index on the host.
    pub amd: Vec<AmdGpu>,
}

impl HostGpus {
    /// Read the facts of this host. Never fails: what cannot be read is absent.
    pub fn read() -> HostGpus {
        let kfd_nodes = read_topology(Path::new("/sys/class/kfd/kfd/topology/nodes"));
        let mut minors = render_minors_from_topology(&kfd_nodes);
        if minors.is_empty() {
            let names = dir_names(Path::new("/dev/dri"));
            minors = render_minors_from_dri(&names);
        }
        let amd = minors
            .into_iter()
            .filter_map(|m| {
                let render = stat(&format!("/dev/dri/renderD{m}"))?;
                let sys = format!("/sys/class/drm/renderD{m}/device/drm");
                let card = card_of(&dir_names(Path::new(&sys)))
                    .and_then(|c| stat(&format!("/dev/dri/{c}")));
                Some(AmdGpu { render, card })
            })
            .collect();
        HostGpus {
            etc_group: std::fs::read_to_string("/etc/group").unwrap_or_default(),
            kfd: stat("/dev/kfd"),
            amd,
        }
    }

    /// The AMD render nodes in words: `/dev/dri/renderD128-131`, or a list when not
    /// consecutive.
    pub fn describe_amd(&self) -> String {
        let minors: Vec<u32> = self
            .amd
            .iter()
            .filter_map(|g| g.render.path.strip_prefix("/dev/dri/renderD")?.parse().ok())
            .collect();
        match (minors.first(), minors.last()) {
            (Some(&a), Some(&b))
                if minors.len() > 1
                    && minors.len() == self.amd.len()
                    && minors.windows(2).all(|w| w[1] == w[0] + 1) =>
            {
                format!("/dev/dri/renderD{a}-{b}")
            }
            _ => self
                .amd
                .iter()
                .map(|g| g.render.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

fn stat(path: &str) -> Option<DeviceNode> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(DeviceNode {
        path: path.to_string(),
        gid: m.gid(),
        mode: m.mode() & 0o7777,
    })
}

fn dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `(node number, properties text)` of every KFD topology node.
fn read_topology(dir: &Path) -> Vec<(u32, String)> {
    dir_names(dir)
        .into_iter()
        .filter_map(|n| {
            let num = n.parse().ok()?;
            let text = std::fs::read_to_string(dir.join(&n).join("properties")).ok()?;
            Some((num, text))
        })
        .collect()
}

/// The render minors of the GPU nodes of a KFD topology, in node order (ROCm's GPU order).
/// CPU nodes have no SIMDs and no render minor.
pub fn render_minors_from_topology(nodes: &[(u32, String)]) -> Vec<u32> {
    let mut nodes: Vec<&(u32, String)> = nodes.iter().collect();
    nodes.sort_by_key(|(n, _)| *n);
    nodes
        .iter()
        .filter_map(|(_, text)| {
            let prop = |key: &str| -> Option<i64> {
                text.lines().find_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    (k == key).then(|| v.trim().parse().ok())?
                })
            };
            let minor = prop("drm_render_minor")?;
            (prop("simd_count")? > 0 && minor > 0).then_some(minor as u32)
        })
        .collect()
}

/// The render minors of the `renderD<m>` entries of `/dev/dri`, sorted.
pub fn render_minors_from_dri(names: &[String]) -> Vec<u32> {
    let mut minors: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix("renderD")?.parse().ok())
        .collect();
    minors.sort_unstable();
    minors
}

/// The `card<N>` entry among a device's `drm/` directory entries.
pub fn card_of(names: &[String]) -> Option<String> {
    names
        .iter()
        .find(|n| {
            n.strip_prefix("card")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .cloned()
}

/// The GID of group `name` in `/etc/group` text.
pub fn group_gid(etc_group: &str, name: &str) -> Option<u32> {
    etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        let _password = f.next()?;
        f.next()?.trim().parse().ok()
    })
}

/// The AMD GPUs a selection names, as host GPUs where the host has them; a GPU the host does
/// not list (facts unreadable, or a spec built for another host) gets the usual
/// `renderD<128 + i>` and no card.
fn selected_amd(host: &HostGpus, indices: &[u32]) -> Vec<AmdGpu> {
    indices
        .iter()
        .map(|&i| {
            host.amd.get(i as usize).cloned().unwrap_or(AmdGpu {
                render: DeviceNode {
                    path: format!("/dev/dri/renderD{}", 128 + i),
                    gid: 0,
                    mode: 0,
                },
                card: None,
            })
        })
        .collect()
}

/// The groups an AMD container needs, as the host's numeric GIDs: the owners of `/dev/kfd` and
/// of the GPUs' nodes passed in, and the host's `video` and `render` groups; sorted, each once,
/// without 0.
pub fn amd_gids(host: &HostGpus, gpus: &[AmdGpu]) -> Vec<u32> {
    let mut set = BTreeSet::new();
    set.extend(host.kfd.as_ref().map(|k| k.gid));
    for g in gpus {
        set.insert(g.render.gid);
        set.extend(g.card.as_ref().map(|c| c.gid));
    }
    set.extend(group_gid(&host.etc_group, "video"));
    set.extend(group_gid(&host.etc_group, "render"));
    set.remove(&0);
    set.into_iter().collect()
}

/// What the selection adds to the server container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuParts {
    pub nvidia: NvidiaGpus,
    /// AMD device nodes; empty: `/dev/kfd` and the whole `/dev/dri`.
    pub amd_devices: Vec<String>,
    pub group_add: Vec<String>,
    /// `KEY=VALUE` pairs, after the configured env (which wins: a key it sets is left out).
    pub env: Vec<String>,
}

/// `0,1,…,k−1`.
fn first(k: usize) -> String {
    (0..k).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The device request, device nodes, groups and env for `preset` and `s.gpus` on `host`.
pub fn gpu_parts(s: &ServerConfig, preset: GpuPreset, host: &HostGpus) -> GpuParts {
    let indices = s.gpus.indices();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut parts = GpuParts::default();
    match preset {
        GpuPreset::Nvidia => {
            parts.nvidia = match &s.gpus {
                GpuSelection::All => NvidiaGpus::All,
                GpuSelection::Count(n) => NvidiaGpus::Count(*n),
                GpuSelection::Ids(ids) => NvidiaGpus::Ids(ids.iter().map(u32::to_string).collect()),
            };
        }
        GpuPreset::Amd => {
            let gpus = match &indices {
                None => host.amd.clone(),
                Some(ids) => selected_amd(host, ids),
            };
            parts.group_add = amd_gids(host, &gpus).iter().map(u32::to_string).collect();
            if let Some(ids) = &indices {
                parts.amd_devices.push("/dev/kfd".into());
                for g in &gpus {
                    parts.amd_devices.push(g.render.path.clone());
                    parts
                        .amd_devices
                        .extend(g.card.as_ref().map(|c| c.path.clone()));
                }
                // A process-level choice in the configured env narrows the GPUs further;
                // ours would then contradict it, so it is left out whole.
                let chosen = [
                    "ROCR_VISIBLE_DEVICES",
                    "HIP_VISIBLE_DEVICES",
                    "CUDA_VISIBLE_DEVICES",
                ]
                .iter()
                .any(|k| s.env.contains_key(*k));
                if !chosen {
                    let visible = first(ids.len());
                    env.push(("ROCR_VISIBLE_DEVICES".into(), visible.clone()));
                    env.push(("HIP_VISIBLE_DEVICES".into(), visible));
                }
            }
        }
        GpuPreset::None => {
            // The CPU stand-in plays the selected GPUs: its smi tools list what the runtime
            // variable names, on a host with enough GPUs to have them.
            if let Some(ids) = &indices {
                let amd = s.env.get("VLLM_STANDIN_GPU").map(String::as_str) == Some("amd");
                let var = if amd {
                    "AMD_VISIBLE_DEVICES"
                } else {
                    "NVIDIA_VISIBLE_DEVICES"
                };
                env.push((var.into(), join(ids)));
                let host_gpus = ids.iter().max().map_or(1, |m| m + 1);
                env.push(("VLLM_STANDIN_GPUS".into(), host_gpus.to_string()));
            }
        }
    }
    parts.env = env_not_set(&s.env, env);
    parts
}

/// The pairs whose key the configured env does not set.
fn env_not_set(configured: &BTreeMap<String, String>, pairs: Vec<(String, String)>) -> Vec<String> {
    pairs
        .into_iter()
        .filter(|(k, _)| !configured.contains_key(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The checks that need the host, before anything is created: for AMD, the selection (or,
/// with `all`, the world size) against the render nodes found. NVIDIA is not counted here
/// (vLLM's own world-size error ends such a start); nothing is checked when no AMD GPU was
/// found (the facts may be unreadable, and vLLM then reports that no GPU is visible).
pub fn check(cfg: &Config, preset: GpuPreset, host: &HostGpus) -> Result<(), ConfigError> {
    if preset != GpuPreset::Amd || host.amd.is_empty() {
        return Ok(());
    }
    crate::config::check_on_host(cfg, host.amd.len() as u32, "AMD", &host.describe_amd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_gives_gpu_nodes_in_node_order() {
        let cpu = "cpu_cores_count 64\nsimd_count 0\ndrm_render_minor 0\n".to_string();
        let gpu = |m: u32| format!("cpu_cores_count 0\nsimd_count 304\ndrm_render_minor {m}\n");
        let nodes = vec![
            (2, gpu(129)),
            (0, cpu.clone()),
            (1, gpu(128)),
            (10, gpu(136)),
            (3, "simd_count 304\n".into()),
        ];
        assert_eq!(render_minors_from_topology(&nodes), vec![128, 129, 136]);
        assert!(render_minors_from_topology(&[(0, cpu)]).is_empty());
    }

    #[test]
    fn dri_names_and_cards() {
        let names: Vec<String> = ["card1", "renderD130", "by-path", "renderD128", "card0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(render_minors_from_dri(&names), vec![128, 130]);
        let drm: Vec<String> = ["renderD129", "card3", "controlD65"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(card_of(&drm).as_deref(), Some("card3"));
        assert_eq!(card_of(&["cardx".to_string()]), None);
    }

    #[test]
    fn gids_from_etc_group() {
        let g = "root:x:0:\nvideo:x:44:\nrenderer:x:7:\nrender:x:109:alice\n";
        assert_eq!(group_gid(g, "render"), Some(109));
        assert_eq!(group_gid(g, "video"), Some(44));
        assert_eq!(group_gid("root:x:0:\n", "render"), None);
        assert_eq!(group_gid("render:x:abc:\n", "render"), None);
    }

    #[test]
    fn render_nodes_in_words() {
        let gpu = |m: u32| AmdGpu {
            render: DeviceNode {
                path: format!("/dev/dri/renderD{m}"),
                gid: 109,
                mode: 0o660,
            },
            card: None,
        };
        let host = |minors: &[u32]| HostGpus {
            amd: minors.iter().map(|&m| gpu(m)).collect(),
            ..Default::default()
        };
        assert_eq!(
            host(&[128, 129, 130, 131]).describe_amd(),
            "/dev/dri/renderD128-131"
        );
        assert_eq!(
            host(&[128, 130]).describe_amd(),
            "/dev/dri/renderD128, /dev/dri/renderD130"
        );
        assert_eq!(host(&[128]).describe_amd(), "/dev/dri/renderD128");
    }

    #[test]
    fn group_rw_needs_membership_and_bits() {
        let n = DeviceNode {
            path: "/dev/kfd".into(),
            gid: 110,
            mode: 0o660,
        };
        assert!(n.group_rw(&[44, 110]));
        assert!(!n.group_rw(&[44]));
        let ro = DeviceNode {
            mode: 0o640,
            ..n.clone()
        };
        assert!(!ro.group_rw(&[110]));
        let world = DeviceNode {
            mode: 0o666,
            gid: 0,
            ..n
        };
        assert!(world.group_rw(&[]));
    }
}
