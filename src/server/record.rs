//! The server record: one JSON file per `vbench up` under `<results_dir>/server/`, saying
//! exactly what served the benchmark (image and digest, vLLM version, redacted serve argv,
//! GPUs, host kernel, vbench version and commit). Sweep results carry no provenance of their
//! own, so this file is it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use super::ServerInfo;
use crate::config::Config;
use crate::docker::{Docker, GpuPreset};
use crate::gpu::GpuSample;

/// A UTC timestamp for file names: `20261128T133000Z`.
pub fn stamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageFacts {
    pub reference: String,
    pub id: String,
    pub digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GpuFacts {
    pub preset: GpuPreset,
    pub count: usize,
    pub model: Option<String>,
    pub driver: Option<String>,
    pub samples: Vec<GpuSample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub kernel: Option<String>,
    pub os: Option<String>,
    pub docker_engine: String,
    pub docker_api: String,
    pub ncpu: Option<i64>,
    pub mem_total: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRecord {
    pub written_at: String,
    pub vbench_version: String,
    pub vbench_commit: String,
    pub container: String,
    pub container_created_by_vbench: Option<bool>,
    pub image: ImageFacts,
    pub vllm_version: String,
    pub model_id: String,
    pub root: String,
    pub max_model_len: u64,
    /// Redacted.
    pub serve_argv: Vec<String>,
    pub url_in_network: String,
    pub reused: bool,
    pub startup_seconds: f64,
    pub host_log: PathBuf,
    pub gpu: GpuFacts,
    pub host: HostFacts,
}

/// vbench's git commit: `VBENCH_GIT_COMMIT`, else `git rev-parse HEAD` in the source checkout
/// vbench was built from (when it is still there), else `unknown`.
pub fn git_commit() -> String {
    if let Ok(c) = std::env::var("VBENCH_GIT_COMMIT")
        && !c.trim().is_empty()
    {
        return c.trim().to_string();
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    std::process::Command::new("git")
        .args(["-C", dir, "rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

impl ServerRecord {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        docker: &Docker,
        cfg: &Config,
        info: &ServerInfo,
        argv: &[String],
        preset: GpuPreset,
        gpus: Vec<GpuSample>,
        host_log: &Path,
        startup: Duration,
    ) -> Self {
        let server = &cfg.server.container;
        let state = docker.inspect_container(server).await.ok().flatten();
        let image_ref = state
            .as_ref()
            .map_or(cfg.server.image.clone(), |s| s.image.clone());
        let image_info = docker.inspect_image(&image_ref).await.ok().flatten();
        let image = ImageFacts {
            reference: image_ref,
            id: state
                .as_ref()
                .map(|s| s.image_id.clone())
                .or(image_info.as_ref().map(|i| i.id.clone()))
                .unwrap_or_default(),
            digests: image_info.map(|i| i.digests).unwrap_or_default(),
        };
        let e = &docker.info;
        ServerRecord {
            written_at: jiff::Timestamp::now().to_string(),
            vbench_version: env!("CARGO_PKG_VERSION").to_string(),
            vbench_commit: git_commit(),
            container: server.clone(),
            container_created_by_vbench: state.as_ref().map(super::created_by_vbench),
            image,
            vllm_version: info.version.clone(),
            model_id: info.model_id.clone(),
            root: info.root.clone(),
            max_model_len: info.max_model_len,
            serve_argv: argv.to_vec(),
            url_in_network: info.url_in_network.clone(),
            reused: info.reused,
            startup_seconds: startup.as_secs_f64(),
            host_log: host_log.to_path_buf(),
            gpu: GpuFacts {
                preset,
                count: gpus.len(),
                model: gpus.first().map(|g| g.name.clone()),
                driver: gpus.iter().find_map(|g| g.driver.clone()),
                samples: gpus,
            },
            host: HostFacts {
                kernel: e.kernel_version.clone(),
                os: e.os.clone(),
                docker_engine: e.engine_version.clone(),
                docker_api: e.api_version.clone(),
                ncpu: e.ncpu,
                mem_total: e.mem_total,
            },
        }
    }

    /// Write `<results_dir>/server/server-<ts>.json` durably (see [`crate::durable`]: never a
    /// half-written record) and return its path.
    pub fn write(&self, results_dir: &Path) -> anyhow::Result<PathBuf> {
        let dir = results_dir.join("server");
        let text = serde_json::to_string_pretty(self).context("cannot encode the server record")?;
        let ts = stamp();
        // Two `up`s in one second must not overwrite each other: the no-clobber write refuses
        // a taken name, even one taken meanwhile, and the next is tried.
        let mut n = 0u32;
        loop {
            let path = match n {
                0 => dir.join(format!("server-{ts}.json")),
                n => dir.join(format!("server-{ts}-{n}.json")),
            };
            if crate::durable::write_new(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?
            {
                return Ok(path);
            }
            n += 1;
        }
    }
}

/// The newest record under `<results_dir>/server/`, if any.
pub fn latest(results_dir: &Path) -> Option<(PathBuf, serde_json::Value)> {
    let dir = results_dir.join("server");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let p = files.pop()?;
    let v = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
    Some((p, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ServerRecord {
        ServerRecord {
            written_at: "2026-01-01T00:00:00Z".into(),
            vbench_version: "0".into(),
            vbench_commit: "c".into(),
            container: "vllm-server".into(),
            container_created_by_vbench: Some(true),
            image: ImageFacts {
                reference: "vllm/vllm-openai:latest".into(),
                id: "sha256:1".into(),
                digests: vec![],
            },
            vllm_version: "0.11.0".into(),
            model_id: "m".into(),
            root: "m".into(),
            max_model_len: 4096,
            serve_argv: vec!["vllm".into(), "serve".into()],
            url_in_network: "http://vllm-server:8000".into(),
            reused: false,
            startup_seconds: 1.0,
            host_log: PathBuf::from("logs/server.log"),
            gpu: GpuFacts {
                preset: GpuPreset::None,
                count: 0,
                model: None,
                driver: None,
                samples: vec![],
            },
            host: HostFacts {
                kernel: None,
                os: None,
                docker_engine: "28".into(),
                docker_api: "1.51".into(),
                ncpu: None,
                mem_total: None,
            },
        }
    }

    #[test]
    fn records_written_in_one_second_keep_each_other() {
        let d = tempfile::tempdir().expect("tempdir");
        let r = record();
        let paths: Vec<PathBuf> = (0..3).map(|_| r.write(d.path()).expect("write")).collect();
        let mut names: Vec<String> = std::fs::read_dir(d.path().join("server"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // Three files, no temp files: none overwrote another (they share a second, so they
        // share a stamp, and only the no-clobber write tells them apart).
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("server-") && n.ends_with(".json"))
        );
        for p in &paths {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
            assert_eq!(v["model_id"], "m");
        }
        assert_eq!(latest(d.path()).map(|(p, _)| p.is_file()), Some(true));
    }
}
