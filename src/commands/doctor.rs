//! `vbench doctor`: check what a run needs on this machine — the Docker Engine, a GPU
//! runtime, the GPUs per vendor with the container toolkit, `/dev/kfd`'s groups and the image's
//! CUDA/ROCm (`gpu_doctor`), the configured images, the two containers, the network and free
//! disk for results — and print each check as ok/warn/fail (or one JSON object with `--json`).
//!
//! Exit 0 when the machine can run at least the CPU stand-in (warnings allowed); exit 3
//! (set-up) when a check fails, e.g. the engine is unreachable.
//!
//! `--host NAME` checks one named engine; `--all-hosts` checks every `hosts:` entry, a
//! section each (exit 28 when one is unreachable, else 3 when a check fails). The host facts
//! `gpu_doctor` reads from this machine (drivers, `/dev/kfd`) are only read for engines on
//! this machine (`unix://` addresses).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CommandError, Outcome};
use crate::cli::{Global, Overrides};
use crate::config::{Config, GpuMode};
use crate::docker::{ContainerState, Docker, Endpoint, EngineInfo};
use crate::gpu_doctor::Level;
use crate::render::Output;

/// Below this much free space for results, warn: a sweep writes a few MB, logs more.
const LOW_DISK_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Short id: `docker`, `gpu`, `server_image`, …
    pub check: String,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    pub engine: Option<EngineInfo>,
    pub checks: Vec<Check>,
}

fn check(id: &str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check: id.to_string(),
        status,
        detail: detail.into(),
    }
}

/// One host's report, for `--all-hosts`.
#[derive(Debug, Serialize)]
pub struct HostReport {
    pub host: String,
    pub docker_host: String,
    #[serde(flatten)]
    pub report: Report,
}

/// `--all-hosts`: every host's report.
#[derive(Debug, Serialize)]
pub struct HostsReport {
    /// No check failed on any host.
    pub ok: bool,
    pub hosts: Vec<HostReport>,
}

pub async fn cmd(g: &Global, all_hosts: bool, o: &Overrides) -> anyhow::Result<Outcome> {
    if all_hosts {
        return all(g, o).await;
    }
    let cfg = super::load(g, o)?;
    let endpoint = super::endpoint(g, &cfg);
    let local = is_local(&endpoint);
    let report = gather_at(&endpoint, local, &cfg).await;
    let text = if super::output(g) == Output::Json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        render(&report)
    };
    super::print_out(&text)?;
    match report.checks.iter().find(|c| c.status == Status::Fail) {
        Some(failed) => Err(CommandError::ChecksFailed {
            check: failed.check.clone(),
            detail: failed.detail.clone(),
        }
        .into()),
        None => Ok(Outcome::Done),
    }
}

/// `--all-hosts`: each host checked with its own settings, one after the other.
async fn all(g: &Global, o: &Overrides) -> anyhow::Result<Outcome> {
    let cfg = crate::config::load(g.config.as_deref(), &super::overrides(o))?;
    if cfg.hosts.is_empty() {
        return Err(CommandError::Usage(
            "--all-hosts: the configuration has no `hosts:` list (see docs/configuration.md)"
                .into(),
        )
        .into());
    }
    let mut hosts = Vec::new();
    for h in &cfg.hosts {
        let hcfg = crate::hosts::on_host(&cfg, h);
        let endpoint = h.endpoint();
        let report = gather_at(&endpoint, is_local(&endpoint), &hcfg).await;
        hosts.push(HostReport {
            host: h.name.clone(),
            docker_host: h.docker_host.clone(),
            report,
        });
    }
    let all = HostsReport {
        ok: hosts.iter().all(|h| h.report.ok),
        hosts,
    };
    let text = if super::output(g) == Output::Json {
        format!("{}\n", serde_json::to_string_pretty(&all)?)
    } else {
        all.hosts
            .iter()
            .map(|h| format!("host {} ({})\n{}", h.host, h.docker_host, render(&h.report)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    super::print_out(&text)?;
    // An unreachable host first (its own code), then any other failed check.
    for h in &all.hosts {
        if h.report.engine.is_none()
            && let Some(c) = h.report.checks.iter().find(|c| c.check == "docker")
        {
            return Err(crate::hosts::HostError::Unreachable {
                name: h.host.clone(),
                source: crate::docker::DockerError::Other(c.detail.clone()),
            }
            .into());
        }
    }
    for h in &all.hosts {
        if let Some(failed) = h.report.checks.iter().find(|c| c.status == Status::Fail) {
            return Err(CommandError::ChecksFailed {
                check: format!("{}: {}", h.host, failed.check),
                detail: failed.detail.clone(),
            }
            .into());
        }
    }
    Ok(Outcome::Done)
}

/// An engine on this machine: its GPUs and drivers are this machine's.
fn is_local(e: &Endpoint) -> bool {
    e.host.as_deref().is_none_or(|h| h.starts_with("unix://"))
}

/// Run every check against `endpoint`. Never fails itself: an unreachable engine is a failed
/// check. `local`: the engine runs on this machine, so this machine's GPU facts are its own.
pub async fn gather_at(endpoint: &Endpoint, local: bool, cfg: &Config) -> Report {
    let mut checks = Vec::new();
    let docker = match Docker::connect_endpoint(endpoint).await {
        Ok(d) => {
            let i = &d.info;
            checks.push(check(
                "docker",
                Status::Ok,
                format!(
                    "Docker Engine {} at {} (API {} negotiated)",
                    i.engine_version, i.host, i.api_version
                ),
            ));
            Some(d)
        }
        Err(e) => {
            checks.push(check("docker", Status::Fail, e.to_string()));
            None
        }
    };
    if !local {
        if let Some(d) = &docker {
            checks.push(gpu_check(d, cfg.server.gpu, false, false));
        }
        checks.push(check(
            "gpu_host",
            Status::Warn,
            "a remote engine: its GPUs, drivers and /dev/kfd are not checked from this machine",
        ));
    } else {
        let gpu_facts = crate::gpu_doctor::Facts::read(cfg, docker.as_ref()).await;
        if let Some(d) = &docker {
            checks.push(gpu_check(
                d,
                cfg.server.gpu,
                Path::new("/dev/kfd").exists(),
                gpu_facts.nvidia_hook.is_some(),
            ));
        }
        // The GPUs per vendor, the container toolkit, /dev/kfd's groups, the image's CUDA/ROCm.
        checks.extend(
            crate::gpu_doctor::checks(&gpu_facts)
                .into_iter()
                .map(|f| Check {
                    check: f.check,
                    status: match f.level {
                        Level::Ok => Status::Ok,
                        Level::Warn => Status::Warn,
                        Level::Fail => Status::Fail,
                    },
                    detail: f.detail,
                }),
        );
    }
    if let Some(d) = &docker {
        checks.push(
            image_check(
                d,
                "server_image",
                &cfg.server.image,
                &cfg.server.container,
                cfg.pull,
            )
            .await,
        );
        checks.push(
            image_check(
                d,
                "client_image",
                &cfg.client.image,
                &cfg.client.container,
                cfg.pull,
            )
            .await,
        );
        checks.push(
            container_check(
                d,
                "server_container",
                &cfg.server.container,
                &cfg.server.image,
            )
            .await,
        );
        checks.push(
            container_check(
                d,
                "client_container",
                &cfg.client.container,
                &cfg.client.image,
            )
            .await,
        );
        checks.push(network_check(d, &cfg.network).await);
    }
    checks.push(disk_check(&cfg.results_dir));
    Report {
        ok: checks.iter().all(|c| c.status != Status::Fail),
        engine: docker.map(|d| d.info),
        checks,
    }
}

/// A GPU runtime: the NVIDIA runtime in `docker info`, or `/dev/kfd` for ROCm. `nvidia_hook`:
/// the toolkit's hook is installed, so a configured `gpu: nvidia` works without the runtime
/// entry (only `auto` needs it; the `nvidia_toolkit` check says so).
fn gpu_check(d: &Docker, mode: GpuMode, kfd: bool, nvidia_hook: bool) -> Check {
    let nvidia = d.has_nvidia_runtime();
    let runtimes = d.info.runtimes.join(", ");
    match (mode, nvidia, kfd) {
        (GpuMode::Nvidia, false, _) if !nvidia_hook => check(
            "gpu",
            Status::Fail,
            format!(
                "gpu: nvidia is configured but the engine lists no NVIDIA runtime (runtimes: {runtimes})"
            ),
        ),
        (GpuMode::Nvidia, false, _) => check(
            "gpu",
            Status::Ok,
            format!(
                "gpu: nvidia: the NVIDIA hook serves device requests (no nvidia runtime listed; runtimes: {runtimes})"
            ),
        ),
        (GpuMode::Amd, _, false) => check(
            "gpu",
            Status::Fail,
            "gpu: amd is configured but /dev/kfd does not exist on this host",
        ),
        (_, true, _) => check(
            "gpu",
            Status::Ok,
            format!("NVIDIA runtime present (runtimes: {runtimes})"),
        ),
        (_, false, true) => check(
            "gpu",
            Status::Ok,
            "/dev/kfd present: AMD ROCm devices can be passed in",
        ),
        (_, false, false) => check(
            "gpu",
            Status::Warn,
            format!(
                "no GPU runtime: only the CPU stand-in can run here (runtimes: {runtimes}; no /dev/kfd)"
            ),
        ),
    }
}

async fn image_check(
    d: &Docker,
    id: &str,
    image: &str,
    container: &str,
    pull: crate::config::PullPolicy,
) -> Check {
    match d.inspect_image(image).await {
        Ok(Some(info)) => check(
            id,
            Status::Ok,
            format!(
                "{image} present ({}, {:.1} MB)",
                short_id(&info.id),
                info.size as f64 / 1e6
            ),
        ),
        Ok(None) => {
            // Only needed when vbench has to create the container.
            let needed = match d.inspect_container(container).await {
                Ok(Some(_)) => format!("only needed to create {container}, which exists"),
                _ if pull == crate::config::PullPolicy::Never => {
                    format!("needed to create {container}, and `pull: never`: `vbench images pull`")
                }
                _ => format!("needed to create {container}; vbench will pull it"),
            };
            check(
                id,
                Status::Warn,
                format!("{image} not present locally ({needed})"),
            )
        }
        Err(e) => check(id, Status::Warn, e.to_string()),
    }
}

async fn container_check(d: &Docker, id: &str, name: &str, image: &str) -> Check {
    match d.inspect_container(name).await {
        Ok(None) => check(
            id,
            Status::Ok,
            format!("{name} absent: vbench will create it from {image}"),
        ),
        Ok(Some(st)) => {
            let status = if st.running { Status::Ok } else { Status::Warn };
            check(id, status, describe_container(&st))
        }
        Err(e) => check(id, Status::Warn, e.to_string()),
    }
}

fn describe_container(st: &ContainerState) -> String {
    let owner = if st.created_by_vbench {
        "created by vbench"
    } else {
        "not created by vbench"
    };
    if st.running {
        format!("{} running ({}, image {})", st.name, owner, st.image)
    } else {
        let code = st
            .exit_code
            .map(|c| format!(", exit code {c}"))
            .unwrap_or_default();
        let oom = if st.oom_killed { ", OOM-killed" } else { "" };
        format!(
            "{} exists but is {}{code}{oom} ({owner}); vbench will start it",
            st.name, st.status
        )
    }
}

async fn network_check(d: &Docker, network: &str) -> Check {
    match d.network_exists(network).await {
        Ok(true) => check("network", Status::Ok, format!("network {network} exists")),
        Ok(false) => check(
            "network",
            Status::Ok,
            format!("network {network} absent: vbench will create it"),
        ),
        Err(e) => check("network", Status::Warn, e.to_string()),
    }
}

fn disk_check(results_dir: &Path) -> Check {
    let probe = existing_ancestor(results_dir);
    match crate::durable::free_bytes(&probe) {
        Ok(free) => {
            let shown = format!(
                "{:.1} GB free for {} (on {})",
                free as f64 / 1e9,
                results_dir.display(),
                probe.display()
            );
            let status = if free < LOW_DISK_BYTES {
                Status::Warn
            } else {
                Status::Ok
            };
            check("disk", status, shown)
        }
        Err(e) => check(
            "disk",
            Status::Warn,
            format!("cannot read free space of {}: {e}", probe.display()),
        ),
    }
}

/// The results directory may not exist yet: measure the filesystem it will be created on.
fn existing_ancestor(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(p)
    };
    abs.ancestors()
        .find(|a| a.exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// The human list: one line per check.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!("[{tag}] {:<16} {}\n", c.check, c.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_results_dir_is_measured_on_its_parent() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let wanted = tmp.path().join("a/b/c");
        assert_eq!(existing_ancestor(&wanted), tmp.path());
    }

    #[test]
    fn render_lists_each_check() {
        let r = Report {
            ok: false,
            engine: None,
            checks: vec![
                check("docker", Status::Fail, "unreachable"),
                check("disk", Status::Ok, "9 GB"),
            ],
        };
        assert_eq!(
            render(&r),
            "[FAIL] docker           unreachable\n[ok  ] disk             9 GB\n"
        );
    }
}
