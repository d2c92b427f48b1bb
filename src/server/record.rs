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
use crate::docker::reference::ImageRef;
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
    /// The image the container was created from, as written (tag or `repo@sha256:…`).
    pub reference: String,
    /// The local image id the container runs.
    pub id: String,
    /// The image's `RepoDigests` (`repo@sha256:…`): empty for an image built locally.
    pub digests: Vec<String>,
    /// The registry digest (`sha256:…`) of the image under `reference`'s repository (else
    /// under the first repository it came from); None for an image built locally, which only
    /// has its `id`.
    pub digest: Option<String>,
    /// `reference` pins a digest (`repo@sha256:…`): the server ran exactly that image, not
    /// whatever a tag pointed at that day.
    pub pinned: bool,
}

impl ImageFacts {
    /// Facts from the reference and what the engine says of the image.
    pub fn new(reference: String, id: String, digests: Vec<String>) -> Self {
        let parsed = ImageRef::parse(&reference).ok();
        let digest = parsed
            .as_ref()
            .and_then(|r| r.digest_in(&digests))
            .or_else(|| {
                digests
                    .iter()
                    .find_map(|d| ImageRef::parse(d).ok().and_then(|r| r.digest))
            });
        ImageFacts {
            pinned: parsed.is_some_and(|r| r.digest.is_some()),
            reference,
            id,
            digests,
            digest,
        }
    }

    /// What identifies the image across runs (`ServerInfo::image_digest`): its registry digest
    /// as `repo@sha256:…` (the entry of `reference`'s repository, else the first), else the
    /// local id of an image that never came from a registry.
    pub fn identity(&self) -> String {
        ImageRef::parse(&self.reference)
            .ok()
            .and_then(|r| r.repo_digest_in(&self.digests))
            .or_else(|| self.digests.first().cloned())
            .unwrap_or_else(|| self.id.clone())
    }
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
        // The image the container runs, by id: a moving tag pulled again since may name
        // another image by now.
        let running_id = state
            .as_ref()
            .map(|s| s.image_id.clone())
            .filter(|i| !i.is_empty());
        let image_info = docker
            .inspect_image(running_id.as_deref().unwrap_or(&image_ref))
            .await
            .ok()
            .flatten();
        let id = running_id
            .or(image_info.as_ref().map(|i| i.id.clone()))
            .unwrap_or_default();
        let image = ImageFacts::new(
            image_ref,
            id,
            image_info.map(|i| i.digests).unwrap_or_default(),
        );
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
            image: ImageFacts::new("vllm/vllm-openai:latest".into(), "sha256:1".into(), vec![]),
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

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn image_identity_is_the_registry_digest_of_the_configured_repository() {
        // Pulled from two registries: the configured repository's digest is the one.
        let digests = vec![
            format!("127.0.0.1:5000/vllm/vllm-openai@{D2}"),
            format!("vllm/vllm-openai@{D1}"),
        ];
        let f = ImageFacts::new(
            "vllm/vllm-openai:latest".into(),
            "sha256:id".into(),
            digests,
        );
        assert_eq!(f.digest.as_deref(), Some(D1));
        assert_eq!(f.identity(), format!("vllm/vllm-openai@{D1}"));
        assert!(!f.pinned);
        // Pinned by digest: said so.
        let pinned = format!("127.0.0.1:5000/vllm/vllm-openai@{D2}");
        let f = ImageFacts::new(pinned.clone(), "sha256:id".into(), vec![pinned.clone()]);
        assert!(f.pinned);
        assert_eq!((f.digest.as_deref(), f.identity()), (Some(D2), pinned));
        // Built locally: no registry digest, the id identifies it.
        let f = ImageFacts::new(
            "vbench/vllm-standin-server:latest".into(),
            "sha256:id".into(),
            vec![],
        );
        assert_eq!(
            (f.digest.clone(), f.identity()),
            (None, "sha256:id".to_string())
        );
        // Retagged locally: the registry digest it came with still identifies it.
        let f = ImageFacts::new(
            "mine:1".into(),
            "sha256:id".into(),
            vec![format!("vllm/vllm-openai@{D1}")],
        );
        assert_eq!(f.digest.as_deref(), Some(D1));
        assert_eq!(f.identity(), format!("vllm/vllm-openai@{D1}"));
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
