//! The GPU checks of `vbench doctor`: which GPUs this host has per vendor (driver, memory),
//! whether Docker can pass NVIDIA GPUs in (runtime, hook or CDI specs), whether the groups the
//! AMD preset adds may open `/dev/kfd` and the render nodes, and the server image's CUDA/ROCm
//! against the driver.
//!
//! `Facts` holds everything read from the host (tool outputs, sysfs, device nodes, the image's
//! env and labels) and is filled by one function, `Facts::read`; every parser and every
//! check is a pure function of it, unit-tested with canned outputs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, GpuMode, GpuSelection};
use crate::docker::Docker;
use crate::server::gpus::{AmdGpu, DeviceNode, HostGpus, amd_gids, group_gid};

/// How a check came out (`commands::doctor` maps it to its own status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub level: Level,
    pub detail: String,
}

fn finding(check: &str, level: Level, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.to_string(),
        level,
        detail: detail.into(),
    }
}

/// What running a host tool gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tool {
    /// Not installed (not on PATH).
    #[default]
    Absent,
    /// Ran but failed: exit status and its first output line.
    Failed(String),
    /// Its stdout.
    Output(String),
}

/// One AMD GPU as sysfs describes it (when `rocm-smi` is not installed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysfsGpu {
    /// `renderD128`.
    pub render: String,
    /// `product_name`, else the PCI device id.
    pub name: String,
    /// `mem_info_vram_total`, bytes.
    pub vram_bytes: Option<u64>,
}

/// A CDI spec file and the device kind it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdiSpec {
    pub path: String,
    pub kind: String,
}

/// The server image's GPU stack, from its config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageStack {
    pub reference: String,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// Everything the checks look at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub mode: GpuMode,
    pub selection: GpuSelection,
    /// Runtimes from `docker info`.
    pub runtimes: Vec<String>,
    /// `nvidia-container-runtime-hook` on PATH: dockerd then serves `--gpus` device requests
    /// even without an `nvidia` runtime entry.
    pub nvidia_hook: Option<String>,
    pub cdi: Vec<CdiSpec>,
    /// `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader`.
    pub nvidia_smi: Tool,
    /// `nvidia-smi` (the table; its header names the CUDA version the driver supports).
    pub nvidia_smi_table: Option<String>,
    /// `rocm-smi --showproductname --showdriverversion --showmeminfo vram --json`.
    pub rocm_smi: Tool,
    pub sysfs_amd: Vec<SysfsGpu>,
    /// `/sys/module/amdgpu/version` (the DKMS driver's; absent for the in-kernel one).
    pub amdgpu_version: Option<String>,
    pub host: HostGpus,
    /// `None`: the image is not present locally.
    pub image: Option<ImageStack>,
}

/// The NVIDIA inventory query (`nvidia-smi` on the host).
pub const NVIDIA_INVENTORY: &[&str] = &[
    "nvidia-smi",
    "--query-gpu=index,name,driver_version,memory.total",
    "--format=csv,noheader",
];

/// The AMD inventory query (`rocm-smi` on the host).
pub const ROCM_INVENTORY: &[&str] = &[
    "rocm-smi",
    "--showproductname",
    "--showdriverversion",
    "--showmeminfo",
    "vram",
    "--json",
];

const TOOL_DEADLINE: Duration = Duration::from_secs(20);

impl Facts {
    /// Read this host's facts and the server image's (when `docker` is reachable).
    pub async fn read(cfg: &Config, docker: Option<&Docker>) -> Facts {
        let nvidia_smi = run(NVIDIA_INVENTORY).await;
        let nvidia_smi_table = match &nvidia_smi {
            Tool::Output(_) => match run(&["nvidia-smi"]).await {
                Tool::Output(t) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let image = match docker {
            Some(d) => match d.inspect_image(&cfg.server.image).await {
                Ok(Some(i)) => Some(ImageStack {
                    reference: cfg.server.image.clone(),
                    env: i.env,
                    labels: i.labels,
                }),
                _ => None,
            },
            None => None,
        };
        Facts {
            mode: cfg.server.gpu,
            selection: cfg.server.gpus.clone(),
            runtimes: docker.map(|d| d.info.runtimes.clone()).unwrap_or_default(),
            nvidia_hook: on_path("nvidia-container-runtime-hook"),
            cdi: read_cdi(&[Path::new("/etc/cdi"), Path::new("/var/run/cdi")]),
            nvidia_smi,
            nvidia_smi_table,
            rocm_smi: run(ROCM_INVENTORY).await,
            sysfs_amd: read_sysfs_amd(Path::new("/sys/class/drm")),
            amdgpu_version: std::fs::read_to_string("/sys/module/amdgpu/version")
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            host: HostGpus::read(),
            image,
        }
    }
}

/// Run a host tool with a deadline.
async fn run(argv: &[&str]) -> Tool {
    let child = tokio::process::Command::new(argv[0])
        .args(&argv[1..])
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(TOOL_DEADLINE, child).await {
        Err(_) => Tool::Failed(format!("no answer within {}s", TOOL_DEADLINE.as_secs())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Tool::Absent,
        Ok(Err(e)) => Tool::Failed(e.to_string()),
        Ok(Ok(out)) if out.status.success() => {
            Tool::Output(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Ok(Ok(out)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Tool::Failed(format!("{}: {}", out.status, first.trim()))
        }
    }
}

fn on_path(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

fn read_cdi(dirs: &[&Path]) -> Vec<CdiSpec> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<_> = rd.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["yaml", "yml", "json"].contains(&ext) {
                continue;
            }
            if let Some(kind) = std::fs::read_to_string(&p).ok().and_then(|t| cdi_kind(&t)) {
                out.push(CdiSpec {
                    path: p.display().to_string(),
                    kind,
                });
            }
        }
    }
    out
}

fn read_sysfs_amd(drm: &Path) -> Vec<SysfsGpu> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let Ok(rd) = std::fs::read_dir(drm) else {
        return vec![];
    };
    let mut entries: Vec<(String, BTreeMap<String, String>)> = rd
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.starts_with("renderD").then_some(())?;
            let dev = drm.join(&name).join("device");
            let files = ["vendor", "device", "product_name", "mem_info_vram_total"]
                .iter()
                .filter_map(|f| Some((f.to_string(), read(&dev.join(f))?)))
                .collect();
            Some((name, files))
        })
        .collect();
    entries.sort_by_key(|(n, _)| n.trim_start_matches("renderD").parse::<u32>().unwrap_or(0));
    sysfs_amd_gpus(&entries)
}

/// The AMD GPUs (PCI vendor 0x1002) among `(renderD<m>, {sysfs file: content})` entries.
pub fn sysfs_amd_gpus(entries: &[(String, BTreeMap<String, String>)]) -> Vec<SysfsGpu> {
    entries
        .iter()
        .filter(|(_, f)| f.get("vendor").map(String::as_str) == Some("0x1002"))
        .map(|(render, f)| SysfsGpu {
            render: render.clone(),
            name: f
                .get("product_name")
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    format!(
                        "AMD GPU (PCI device {})",
                        f.get("device").map_or("?", String::as_str)
                    )
                }),
            vram_bytes: f.get("mem_info_vram_total").and_then(|v| v.parse().ok()),
        })
        .collect()
}

/// The `kind` a CDI spec declares (`nvidia.com/gpu`), YAML or JSON.
pub fn cdi_kind(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim().trim_end_matches(',');
        let rest = l
            .strip_prefix("kind:")
            .or_else(|| l.strip_prefix("\"kind\":"))?;
        let v = rest.trim().trim_matches(['"', '\'']);
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// One NVIDIA GPU of the inventory query.
#[derive(Debug, Clone, PartialEq)]
pub struct NvidiaGpu {
    pub index: u32,
    pub name: String,
    pub driver: String,
    pub memory_mib: Option<f64>,
}

/// Parse `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader`
/// (`0, NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB`).
pub fn parse_nvidia_inventory(text: &str) -> Result<Vec<NvidiaGpu>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() < 4 {
                return Err(format!(
                    "nvidia-smi line {}: expected 4 comma-separated fields: {line:?}",
                    n + 1
                ));
            }
            let index = f[0].parse().map_err(|_| {
                format!(
                    "nvidia-smi line {}: GPU index {:?} is not a number",
                    n + 1,
                    f[0]
                )
            })?;
            Ok(NvidiaGpu {
                index,
                name: f[1].to_string(),
                driver: f[2].to_string(),
                memory_mib: f[3].trim_end_matches("MiB").trim().parse().ok(),
            })
        })
        .collect()
}

/// The CUDA version the driver supports, from `nvidia-smi`'s table header
/// (`… Driver Version: 550.54.15    CUDA Version: 12.4 |`).
pub fn parse_driver_cuda(table: &str) -> Option<(u32, u32)> {
    let at = table.find("CUDA Version:")?;
    let v = table[at + "CUDA Version:".len()..]
        .split_whitespace()
        .next()?;
    version(v)
}

/// `12.4`, `12.8.1` → (12, 4), (12, 8).
fn version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// The CUDA the image needs: `NVIDIA_REQUIRE_CUDA`'s `cuda>=X.Y` (what the NVIDIA runtime
/// enforces at start), else `CUDA_VERSION`'s major.minor. With the text it came from.
pub fn image_cuda(img: &ImageStack) -> Option<((u32, u32), String)> {
    let env = env_map(img);
    if let Some(req) = env.get("NVIDIA_REQUIRE_CUDA")
        && let Some(v) = req
            .split_whitespace()
            .find_map(|c| c.strip_prefix("cuda>="))
            .and_then(version)
    {
        return Some((v, format!("NVIDIA_REQUIRE_CUDA cuda>={}.{}", v.0, v.1)));
    }
    let v = env
        .get("CUDA_VERSION")
        .or_else(|| img.labels.get("com.nvidia.cuda.version"))?;
    Some((version(v)?, format!("CUDA_VERSION {v}")))
}

/// The ROCm version the image names (`ROCM_VERSION` in its env, else a label naming it).
pub fn image_rocm(img: &ImageStack) -> Option<String> {
    let env = env_map(img);
    env.get("ROCM_VERSION").cloned().or_else(|| {
        img.labels
            .iter()
            .find(|(k, _)| {
                let k = k.to_ascii_lowercase();
                k.contains("rocm") && k.contains("version")
            })
            .map(|(_, v)| v.clone())
    })
}

fn env_map(img: &ImageStack) -> BTreeMap<String, String> {
    img.env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `crw-rw----`.
fn mode_string(mode: u32) -> String {
    let mut s = String::from("c");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `109 (render)`, or the number alone when `/etc/group` has no name for it.
fn gid_name(etc_group: &str, gid: u32) -> String {
    let name = etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next()?;
        (f.next()?.trim().parse::<u32>().ok()? == gid).then(|| name.to_string())
    });
    match name {
        Some(n) => format!("{gid} ({n})"),
        None => gid.to_string(),
    }
}

fn mib(m: f64) -> String {
    format!("{m:.0} MiB")
}

/// Every GPU check, from the facts.
pub fn checks(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let nvidia = nvidia_inventory(f, &mut out);
    let amd = amd_inventory(f, &mut out);
    if !nvidia && !amd {
        let tool = |t: &Tool, name: &str| match t {
            Tool::Absent => format!("{name} not found"),
            Tool::Failed(e) => format!("{name} failed ({e})"),
            Tool::Output(_) => format!("{name} listed no GPU"),
        };
        out.push(finding(
            "gpus",
            Level::Warn,
            format!(
                "no GPU on this host ({}, {}, no AMD GPU in /sys/class/drm, no /dev/kfd): only the CPU stand-in can run here (`vbench demo`, `vbench up --standin`)",
                tool(&f.nvidia_smi, "nvidia-smi"),
                tool(&f.rocm_smi, "rocm-smi"),
            ),
        ));
    }
    if nvidia || f.mode == GpuMode::Nvidia {
        out.push(nvidia_toolkit(f, nvidia));
    }
    if f.host.kfd.is_some() || amd || f.mode == GpuMode::Amd {
        out.push(kfd_access(f));
    }
    if let Some(img) = &f.image {
        out.push(image_stack(f, img));
    }
    out
}

/// `nvidia_gpus`; true when at least one NVIDIA GPU was listed.
fn nvidia_inventory(f: &Facts, out: &mut Vec<Finding>) -> bool {
    match &f.nvidia_smi {
        Tool::Absent => {
            if f.mode == GpuMode::Nvidia {
                out.push(finding(
                    "nvidia_gpus",
                    Level::Warn,
                    "gpu: nvidia is configured but nvidia-smi is not installed on this host",
                ));
            }
            false
        }
        Tool::Failed(e) => {
            out.push(finding(
                "nvidia_gpus",
                Level::Warn,
                format!("nvidia-smi failed: {e}"),
            ));
            false
        }
        Tool::Output(text) => match parse_nvidia_inventory(text) {
            Err(e) => {
                out.push(finding("nvidia_gpus", Level::Warn, e));
                false
            }
            Ok(gpus) if gpus.is_empty() => false,
            Ok(gpus) => {
                let driver = &gpus[0].driver;
                let cuda = f
                    .nvidia_smi_table
                    .as_deref()
                    .and_then(parse_driver_cuda)
                    .map(|(a, b)| format!(", supports CUDA up to {a}.{b}"))
                    .unwrap_or_default();
                let list: Vec<String> = gpus
                    .iter()
                    .map(|g| {
                        let mem = g.memory_mib.map(mib).unwrap_or_else(|| "? MiB".into());
                        format!("{} {} {mem}", g.index, g.name)
                    })
                    .collect();
                out.push(finding(
                    "nvidia_gpus",
                    Level::Ok,
                    format!(
                        "{} NVIDIA GPU{}, driver {driver}{cuda}: {}",
                        gpus.len(),
                        if gpus.len() == 1 { "" } else { "s" },
                        list.join("; ")
                    ),
                ));
                true
            }
        },
    }
}

/// `amd_gpus` from `rocm-smi`, else sysfs; true when at least one AMD GPU was found.
fn amd_inventory(f: &Facts, out: &mut Vec<Finding>) -> bool {
    let from_smi = match &f.rocm_smi {
        Tool::Output(text) => crate::gpu::parse_rocm_json(text, "rocm-smi (host)").ok(),
        _ => None,
    };
    let count_word = |n: usize| format!("{n} AMD GPU{}", if n == 1 { "" } else { "s" });
    if let Some(gpus) = from_smi.filter(|g| !g.is_empty()) {
        let driver = gpus[0]
            .driver
            .clone()
            .or_else(|| f.amdgpu_version.clone())
            .unwrap_or_else(|| "unknown".into());
        let list: Vec<String> = gpus
            .iter()
            .map(|g| {
                let mem = g.mem_total_mib.map(mib).unwrap_or_else(|| "? MiB".into());
                format!("{} {} {mem}", g.index, g.name)
            })
            .collect();
        out.push(finding(
            "amd_gpus",
            Level::Ok,
            format!(
                "{}, driver {driver} (rocm-smi): {}",
                count_word(gpus.len()),
                list.join("; ")
            ),
        ));
        return true;
    }
    if !f.sysfs_amd.is_empty() {
        let driver = f
            .amdgpu_version
            .clone()
            .map(|v| format!("amdgpu {v}"))
            .unwrap_or_else(|| "the in-kernel amdgpu".into());
        let list: Vec<String> = f
            .sysfs_amd
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mem = g
                    .vram_bytes
                    .map(|b| mib(b as f64 / 1048576.0))
                    .unwrap_or_else(|| "? MiB".into());
                format!("{i} {} {mem} ({})", g.name, g.render)
            })
            .collect();
        let why = match &f.rocm_smi {
            Tool::Absent => "rocm-smi not installed".to_string(),
            Tool::Failed(e) => format!("rocm-smi failed: {e}"),
            Tool::Output(_) => "rocm-smi output unreadable".to_string(),
        };
        out.push(finding(
            "amd_gpus",
            Level::Ok,
            format!(
                "{}, driver {driver} (from /sys/class/drm; {why}): {}",
                count_word(f.sysfs_amd.len()),
                list.join("; ")
            ),
        ));
        return true;
    }
    if let Tool::Failed(e) = &f.rocm_smi {
        out.push(finding(
            "amd_gpus",
            Level::Warn,
            format!("rocm-smi failed: {e}"),
        ));
    }
    false
}

/// `nvidia_toolkit`: how (whether) Docker can pass NVIDIA GPUs in.
fn nvidia_toolkit(f: &Facts, gpus_found: bool) -> Finding {
    let runtime = f.runtimes.iter().find(|r| r.contains("nvidia"));
    let cdi: Vec<&CdiSpec> = f
        .cdi
        .iter()
        .filter(|c| c.kind.starts_with("nvidia.com/"))
        .collect();
    let cdi_text = cdi
        .iter()
        .map(|c| format!("{} ({})", c.path, c.kind))
        .collect::<Vec<_>>()
        .join(", ");
    match (runtime, &f.nvidia_hook) {
        (Some(r), _) => {
            let extra = if cdi.is_empty() {
                String::new()
            } else {
                format!("; CDI specs: {cdi_text}")
            };
            finding(
                "nvidia_toolkit",
                Level::Ok,
                format!(
                    "the engine lists the `{r}` runtime: GPUs are passed in by device request{extra}"
                ),
            )
        }
        (None, Some(hook)) => finding(
            "nvidia_toolkit",
            // The device request works, but `gpu: auto` looks for the runtime entry.
            if f.mode == GpuMode::Nvidia {
                Level::Ok
            } else {
                Level::Warn
            },
            format!(
                "{hook} is installed, so the engine serves GPU device requests, but `docker info` lists no nvidia runtime: `gpu: auto` will not pick nvidia here; set `gpu: nvidia` (or `nvidia-ctk runtime configure --runtime=docker`)"
            ),
        ),
        (None, None) => {
            let level = if f.mode == GpuMode::Nvidia {
                Level::Fail
            } else {
                Level::Warn
            };
            let what = if gpus_found {
                "NVIDIA GPUs are present but Docker cannot pass them in"
            } else {
                "gpu: nvidia is configured but Docker cannot pass NVIDIA GPUs in"
            };
            let cdi_note = if cdi.is_empty() {
                "no CDI spec in /etc/cdi or /var/run/cdi".to_string()
            } else {
                format!(
                    "CDI specs {cdi_text} exist, but vbench asks for GPUs as `--gpus` does, which needs the toolkit's hook"
                )
            };
            finding(
                "nvidia_toolkit",
                level,
                format!(
                    "{what}: no nvidia runtime in `docker info`, no nvidia-container-runtime-hook, {cdi_note}; install the NVIDIA Container Toolkit and run `nvidia-ctk runtime configure --runtime=docker`"
                ),
            )
        }
    }
}

/// The AMD GPUs the selection passes in (all the host's for `all`).
fn selected_amd(f: &Facts) -> Vec<AmdGpu> {
    match f.selection.indices() {
        None => f.host.amd.clone(),
        Some(ids) => ids
            .iter()
            .filter_map(|&i| f.host.amd.get(i as usize).cloned())
            .collect(),
    }
}

/// `kfd`: `/dev/kfd` and the selected render nodes readable and writable by the GIDs the AMD
/// preset adds (root in the container can open them anyway; a non-root user in the image
/// needs the group).
fn kfd_access(f: &Facts) -> Finding {
    let Some(kfd) = &f.host.kfd else {
        return finding(
            "kfd",
            Level::Fail,
            "gpu: amd needs /dev/kfd, which this host does not have (is the amdgpu driver loaded?)",
        );
    };
    let gpus = selected_amd(f);
    let gids = amd_gids(&f.host, &gpus);
    let gid_list = gids
        .iter()
        .map(|g| gid_name(&f.host.etc_group, *g))
        .collect::<Vec<_>>()
        .join(", ");
    let describe = |n: &DeviceNode| {
        format!(
            "{} {} group {}",
            n.path,
            mode_string(n.mode),
            gid_name(&f.host.etc_group, n.gid)
        )
    };
    let mut nodes = vec![kfd.clone()];
    nodes.extend(gpus.iter().map(|g| g.render.clone()));
    let denied: Vec<String> = nodes
        .iter()
        .filter(|n| !n.group_rw(&gids))
        .map(describe)
        .collect();
    if denied.is_empty() {
        let renders = if gpus.is_empty() {
            "no render node found".to_string()
        } else {
            format!(
                "{} render node{}",
                gpus.len(),
                if gpus.len() == 1 { "" } else { "s" }
            )
        };
        finding(
            "kfd",
            Level::Ok,
            format!(
                "{} and {renders}: readable and writable by the groups the container gets ({gid_list})",
                describe(kfd)
            ),
        )
    } else {
        let video_render = ["video", "render"]
            .iter()
            .filter(|n| group_gid(&f.host.etc_group, n).is_none())
            .copied()
            .collect::<Vec<_>>();
        let missing = if video_render.is_empty() {
            String::new()
        } else {
            format!(" (/etc/group has no {})", video_render.join(" or "))
        };
        finding(
            "kfd",
            Level::Warn,
            format!(
                "not readable and writable by the groups the container gets ({gid_list}){missing}: {}; a root process in the container can still open them, a non-root user cannot",
                denied.join("; ")
            ),
        )
    }
}

/// `image_gpu_stack`: the server image's CUDA or ROCm against the host's driver.
fn image_stack(f: &Facts, img: &ImageStack) -> Finding {
    let id = "image_gpu_stack";
    let r = &img.reference;
    if img.labels.get("vbench.standin").map(String::as_str) == Some("1") {
        return finding(
            id,
            Level::Ok,
            format!("{r} is the CPU stand-in: no CUDA or ROCm"),
        );
    }
    let driver_cuda = f.nvidia_smi_table.as_deref().and_then(parse_driver_cuda);
    if let Some((need, said)) = image_cuda(img) {
        let env = env_map(img);
        return match driver_cuda {
            None => finding(
                id,
                Level::Ok,
                format!(
                    "{r} needs CUDA {}.{} ({said}); no NVIDIA driver on this host to compare with",
                    need.0, need.1
                ),
            ),
            Some(have) if have >= need => finding(
                id,
                Level::Ok,
                format!(
                    "{r} needs CUDA {}.{} ({said}); the driver supports up to {}.{}",
                    need.0, need.1, have.0, have.1
                ),
            ),
            Some(have) => {
                // The NVIDIA runtime enforces NVIDIA_REQUIRE_CUDA at start unless disabled.
                let enforced = env.contains_key("NVIDIA_REQUIRE_CUDA")
                    && !env.contains_key("NVIDIA_DISABLE_REQUIRE");
                finding(
                    id,
                    if enforced { Level::Fail } else { Level::Warn },
                    format!(
                        "{r} needs CUDA {}.{} ({said}) but the driver supports up to {}.{}: {}; update the driver or use an image built for CUDA {}.{}",
                        need.0,
                        need.1,
                        have.0,
                        have.1,
                        if enforced {
                            "the NVIDIA runtime will refuse to start the container (unsatisfied condition)"
                        } else {
                            "vLLM will fail to initialise CUDA unless the image carries the forward-compatibility libraries"
                        },
                        have.0,
                        have.1
                    ),
                )
            }
        };
    }
    if let Some(rocm) = image_rocm(img) {
        let host = f
            .amdgpu_version
            .as_ref()
            .map(|v| format!("amdgpu driver {v}"))
            .or_else(|| match &f.rocm_smi {
                Tool::Output(t) => crate::gpu::parse_rocm_json(t, "")
                    .ok()
                    .and_then(|g| g.first().and_then(|g| g.driver.clone()))
                    .map(|d| format!("driver {d}")),
                _ => None,
            });
        return finding(
            id,
            Level::Ok,
            match host {
                Some(h) => format!(
                    "{r} has ROCm {rocm}; the host runs {h} (AMD's compatibility matrix says which pairs are supported)"
                ),
                None => format!("{r} has ROCm {rocm}; no AMD driver on this host to compare with"),
            },
        );
    }
    finding(
        id,
        Level::Ok,
        format!(
            "{r} names no CUDA or ROCm version in its env or labels (CUDA_VERSION, NVIDIA_REQUIRE_CUDA, ROCM_VERSION): nothing to compare"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NV_CSV: &str = "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB\n1, NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB\n";
    const NV_TABLE: &str = "Mon Jan  5 10:00:00 2026\n+-----------------------------------------------------------------------------------------+\n| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |\n|-----------------------------------------+------------------------+----------------------+\n";
    // rocm-smi 6.x `--showproductname --showdriverversion --showmeminfo vram --json`.
    const ROCM_JSON: &str = r#"{"card0": {"VRAM Total Memory (B)": "206141652992", "VRAM Total Used Memory (B)": "284565504", "Card Series": "AMD Instinct MI300X", "Card Model": "0x74a1", "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]", "Card SKU": "M3000100", "Subsystem ID": "0x74a1", "Device Rev": "0x00", "Node ID": "2", "GUID": "28851", "GFX Version": "gfx942"}, "card1": {"VRAM Total Memory (B)": "206141652992", "VRAM Total Used Memory (B)": "284565504", "Card Series": "AMD Instinct MI300X", "Card Model": "0x74a1"}, "system": {"Driver version": "6.10.5"}}"#;

    fn node(path: &str, gid: u32, mode: u32) -> DeviceNode {
        DeviceNode {
            path: path.into(),
            gid,
            mode,
        }
    }

    fn amd_host(kfd_mode: u32) -> HostGpus {
        HostGpus {
            etc_group: "root:x:0:\nvideo:x:44:\nrender:x:109:\n".into(),
            kfd: Some(node("/dev/kfd", 109, kfd_mode)),
            amd: (0..2)
                .map(|i| AmdGpu {
                    render: node(&format!("/dev/dri/renderD{}", 128 + i), 109, 0o660),
                    card: None,
                })
                .collect(),
        }
    }

    fn ids(fs: &[Finding]) -> Vec<(&str, Level)> {
        fs.iter().map(|f| (f.check.as_str(), f.level)).collect()
    }

    fn get<'a>(fs: &'a [Finding], id: &str) -> &'a Finding {
        fs.iter()
            .find(|f| f.check == id)
            .unwrap_or_else(|| panic!("no {id} in {fs:?}"))
    }

    #[test]
    fn parsers_read_canned_outputs() {
        let g = parse_nvidia_inventory(NV_CSV).expect("parses");
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].index, 1);
        assert_eq!(g[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(g[0].driver, "550.54.15");
        assert_eq!(g[0].memory_mib, Some(81559.0));
        assert!(
            parse_nvidia_inventory("0, A100\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert_eq!(parse_driver_cuda(NV_TABLE), Some((12, 4)));
        assert_eq!(parse_driver_cuda("no header"), None);
        assert_eq!(
            cdi_kind("---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n").as_deref(),
            Some("nvidia.com/gpu")
        );
        assert_eq!(
            cdi_kind("{\n  \"cdiVersion\": \"0.6.0\",\n  \"kind\": \"amd.com/gpu\",\n").as_deref(),
            Some("amd.com/gpu")
        );
        let img = ImageStack {
            reference: "vllm/vllm-openai:latest".into(),
            env: vec![
                "PATH=/usr/bin".into(),
                "CUDA_VERSION=12.8.1".into(),
                "NVIDIA_REQUIRE_CUDA=cuda>=12.8 brand=tesla,driver>=470,driver<471".into(),
            ],
            labels: BTreeMap::new(),
        };
        assert_eq!(image_cuda(&img).map(|c| c.0), Some((12, 8)));
        let only_version = ImageStack {
            env: vec!["CUDA_VERSION=12.6.3".into()],
            ..img.clone()
        };
        assert_eq!(
            image_cuda(&only_version),
            Some(((12, 6), "CUDA_VERSION 12.6.3".to_string()))
        );
        let rocm = ImageStack {
            env: vec!["ROCM_VERSION=6.4.1".into()],
            ..Default::default()
        };
        assert_eq!(image_rocm(&rocm).as_deref(), Some("6.4.1"));
        assert_eq!(image_cuda(&rocm), None);
        let sysfs = sysfs_amd_gpus(&[
            (
                "renderD128".into(),
                BTreeMap::from([
                    ("vendor".into(), "0x1002".into()),
                    ("device".into(), "0x74a1".into()),
                    ("mem_info_vram_total".into(), "206141652992".into()),
                ]),
            ),
            (
                "renderD129".into(),
                BTreeMap::from([("vendor".into(), "0x8086".into())]),
            ),
        ]);
        assert_eq!(
            sysfs,
            [SysfsGpu {
                render: "renderD128".into(),
                name: "AMD GPU (PCI device 0x74a1)".into(),
                vram_bytes: Some(206141652992),
            }]
        );
        assert_eq!(mode_string(0o660), "crw-rw----");
        assert_eq!(gid_name("render:x:109:\n", 109), "109 (render)");
        assert_eq!(gid_name("", 7), "7");
    }

    #[test]
    fn no_gpu_host_says_so_and_only_warns() {
        let f = Facts::default();
        let fs = checks(&f);
        assert_eq!(ids(&fs), [("gpus", Level::Warn)]);
        let d = &fs[0].detail;
        assert!(d.contains("no GPU on this host"), "{d}");
        assert!(
            d.contains("nvidia-smi not found") && d.contains("rocm-smi not found"),
            "{d}"
        );
        assert!(d.contains("only the CPU stand-in can run here"), "{d}");
        // With the stand-in image: said, still no failure.
        let f = Facts {
            image: Some(ImageStack {
                reference: "vbench/vllm-standin-server:latest".into(),
                labels: BTreeMap::from([("vbench.standin".into(), "1".into())]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let fs = checks(&f);
        assert_eq!(
            ids(&fs),
            [("gpus", Level::Warn), ("image_gpu_stack", Level::Ok)]
        );
        assert!(get(&fs, "image_gpu_stack").detail.contains("CPU stand-in"));
    }

    #[test]
    fn nvidia_host_with_runtime_and_a_matching_image() {
        let f = Facts {
            runtimes: vec!["nvidia".into(), "runc".into()],
            nvidia_smi: Tool::Output(NV_CSV.into()),
            nvidia_smi_table: Some(NV_TABLE.into()),
            image: Some(ImageStack {
                reference: "vllm/vllm-openai:v0.9".into(),
                env: vec!["NVIDIA_REQUIRE_CUDA=cuda>=12.4".into()],
                labels: BTreeMap::new(),
            }),
            ..Default::default()
        };
        let fs = checks(&f);
        assert_eq!(
            ids(&fs),
            [
                ("nvidia_gpus", Level::Ok),
                ("nvidia_toolkit", Level::Ok),
                ("image_gpu_stack", Level::Ok)
            ]
        );
        assert_eq!(
            get(&fs, "nvidia_gpus").detail,
            "2 NVIDIA GPUs, driver 550.54.15, supports CUDA up to 12.4: 0 NVIDIA H100 80GB HBM3 81559 MiB; 1 NVIDIA H100 80GB HBM3 81559 MiB"
        );
        assert!(
            get(&fs, "nvidia_toolkit")
                .detail
                .contains("`nvidia` runtime")
        );
        assert!(get(&fs, "image_gpu_stack").detail.contains(
            "needs CUDA 12.4 (NVIDIA_REQUIRE_CUDA cuda>=12.4); the driver supports up to 12.4"
        ));
    }

    #[test]
    fn an_image_newer_than_the_driver_fails_when_enforced() {
        let mut f = Facts {
            runtimes: vec!["nvidia".into()],
            nvidia_smi: Tool::Output(NV_CSV.into()),
            nvidia_smi_table: Some(NV_TABLE.into()),
            image: Some(ImageStack {
                reference: "vllm/vllm-openai:latest".into(),
                env: vec![
                    "CUDA_VERSION=12.8.1".into(),
                    "NVIDIA_REQUIRE_CUDA=cuda>=12.8 brand=tesla,driver>=535,driver<536".into(),
                ],
                labels: BTreeMap::new(),
            }),
            ..Default::default()
        };
        let fs = checks(&f);
        let c = get(&fs, "image_gpu_stack");
        assert_eq!(c.level, Level::Fail, "{c:?}");
        assert!(
            c.detail.contains("needs CUDA 12.8") && c.detail.contains("up to 12.4"),
            "{c:?}"
        );
        assert!(c.detail.contains("refuse to start"), "{c:?}");
        // Only CUDA_VERSION (nothing the runtime enforces): a warning.
        if let Some(img) = &mut f.image {
            img.env = vec!["CUDA_VERSION=12.8.1".into()];
        }
        assert_eq!(get(&checks(&f), "image_gpu_stack").level, Level::Warn);
    }

    #[test]
    fn nvidia_gpus_without_a_toolkit() {
        let base = Facts {
            nvidia_smi: Tool::Output(NV_CSV.into()),
            ..Default::default()
        };
        let c = nvidia_toolkit(&base, true);
        assert_eq!(c.level, Level::Warn, "auto falls back: {c:?}");
        assert!(
            c.detail
                .contains("NVIDIA GPUs are present but Docker cannot pass them in"),
            "{c:?}"
        );
        assert!(c.detail.contains("nvidia-ctk runtime configure"), "{c:?}");
        let configured = Facts {
            mode: GpuMode::Nvidia,
            ..base.clone()
        };
        assert_eq!(nvidia_toolkit(&configured, true).level, Level::Fail);
        let hook = Facts {
            nvidia_hook: Some("/usr/bin/nvidia-container-runtime-hook".into()),
            ..base.clone()
        };
        let c = nvidia_toolkit(&hook, true);
        assert_eq!(c.level, Level::Warn);
        assert!(
            c.detail.contains("`gpu: auto` will not pick nvidia"),
            "{c:?}"
        );
        let cdi = Facts {
            cdi: vec![CdiSpec {
                path: "/etc/cdi/nvidia.yaml".into(),
                kind: "nvidia.com/gpu".into(),
            }],
            ..base
        };
        assert!(
            nvidia_toolkit(&cdi, true)
                .detail
                .contains("/etc/cdi/nvidia.yaml (nvidia.com/gpu)")
        );
        // A broken driver: nvidia-smi's own words.
        let broken = Facts {
            nvidia_smi: Tool::Failed("exit status: 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.".into()),
            ..Default::default()
        };
        let fs = checks(&broken);
        assert_eq!(
            ids(&fs),
            [("nvidia_gpus", Level::Warn), ("gpus", Level::Warn)]
        );
        assert!(
            get(&fs, "gpus")
                .detail
                .contains("nvidia-smi failed (exit status: 9")
        );
    }

    #[test]
    fn amd_host_from_rocm_smi_with_kfd_permissions() {
        let f = Facts {
            rocm_smi: Tool::Output(ROCM_JSON.into()),
            host: amd_host(0o660),
            image: Some(ImageStack {
                reference: "vllm/vllm-openai-rocm:latest".into(),
                env: vec!["ROCM_VERSION=6.4.1".into()],
                labels: BTreeMap::new(),
            }),
            ..Default::default()
        };
        let fs = checks(&f);
        assert_eq!(
            ids(&fs),
            [
                ("amd_gpus", Level::Ok),
                ("kfd", Level::Ok),
                ("image_gpu_stack", Level::Ok)
            ]
        );
        assert_eq!(
            get(&fs, "amd_gpus").detail,
            "2 AMD GPUs, driver 6.10.5 (rocm-smi): 0 AMD Instinct MI300X 196592 MiB; 1 AMD Instinct MI300X 196592 MiB"
        );
        assert_eq!(
            get(&fs, "kfd").detail,
            "/dev/kfd crw-rw---- group 109 (render) and 2 render nodes: readable and writable by the groups the container gets (44 (video), 109 (render))"
        );
        assert!(
            get(&fs, "image_gpu_stack")
                .detail
                .contains("has ROCm 6.4.1; the host runs driver 6.10.5")
        );
    }

    #[test]
    fn kfd_only_root_can_open_is_a_warning() {
        let mut host = amd_host(0o600);
        host.kfd = Some(node("/dev/kfd", 0, 0o600));
        host.etc_group = "root:x:0:\n".into();
        let f = Facts {
            host,
            sysfs_amd: vec![SysfsGpu {
                render: "renderD128".into(),
                name: "AMD Instinct MI300X".into(),
                vram_bytes: Some(206141652992),
            }],
            amdgpu_version: Some("6.10.5".into()),
            ..Default::default()
        };
        let fs = checks(&f);
        let a = get(&fs, "amd_gpus");
        assert!(
            a.detail
                .contains("from /sys/class/drm; rocm-smi not installed"),
            "{a:?}"
        );
        assert!(a.detail.contains("driver amdgpu 6.10.5"), "{a:?}");
        let k = get(&fs, "kfd");
        assert_eq!(k.level, Level::Warn, "{k:?}");
        assert!(
            k.detail.contains("/dev/kfd crw------- group 0 (root)"),
            "{k:?}"
        );
        assert!(
            k.detail.contains("/etc/group has no video or render"),
            "{k:?}"
        );
        assert!(k.detail.contains("a non-root user cannot"), "{k:?}");
        // The selection narrows which render nodes count.
        let mut one = f.clone();
        one.host = amd_host(0o660);
        one.host.amd[1].render.mode = 0o600;
        one.selection = GpuSelection::Ids(vec![0]);
        assert_eq!(get(&checks(&one), "kfd").level, Level::Ok);
        one.selection = GpuSelection::All;
        let k = checks(&one);
        let k = get(&k, "kfd");
        assert_eq!(k.level, Level::Warn);
        assert!(k.detail.contains("/dev/dri/renderD129 crw-------"), "{k:?}");
    }

    #[test]
    fn amd_configured_without_kfd_fails() {
        let f = Facts {
            mode: GpuMode::Amd,
            ..Default::default()
        };
        let fs = checks(&f);
        let k = get(&fs, "kfd");
        assert_eq!(k.level, Level::Fail);
        assert!(k.detail.contains("does not have"), "{k:?}");
    }
}
