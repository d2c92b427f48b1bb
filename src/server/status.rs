//! `vbench status`: each container's state, image and digest, whether vbench created it; the
//! server process (running, redacted arguments), health, model, `max_model_len`, vLLM version
//! and the GPUs. Gathered into one serialisable report; rendered as text or JSON by the glue.

use std::fmt::Write as _;

use serde::Serialize;

use super::probe;
use crate::config::Config;
use crate::docker::Docker;
use crate::gpu::GpuSample;

#[derive(Debug, Clone, Serialize)]
pub struct ContainerReport {
    pub name: String,
    pub exists: bool,
    pub status: Option<String>,
    pub running: bool,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub image_digests: Vec<String>,
    pub created_by_vbench: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServeReport {
    pub running: bool,
    /// Redacted, as recorded at launch.
    pub args: Option<Vec<String>>,
    pub healthy: bool,
    pub health_detail: String,
    pub url_from_host: Option<String>,
    pub model: Option<String>,
    pub root: Option<String>,
    pub max_model_len: Option<u64>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub server: ContainerReport,
    pub client: ContainerReport,
    pub network: String,
    pub serve: ServeReport,
    pub gpus: Vec<GpuSample>,
    pub gpu_error: Option<String>,
}

async fn container(docker: &Docker, name: &str) -> anyhow::Result<ContainerReport> {
    let st = docker
        .inspect_container(name)
        .await
        .map_err(|e| anyhow::anyhow!("cannot inspect {name}: {e}"))?;
    let Some(st) = st else {
        return Ok(ContainerReport {
            name: name.into(),
            exists: false,
            status: None,
            running: false,
            image: None,
            image_id: None,
            image_digests: vec![],
            created_by_vbench: None,
        });
    };
    let digests = docker
        .inspect_image(&st.image_id)
        .await
        .ok()
        .flatten()
        .map(|i| i.digests)
        .unwrap_or_default();
    Ok(ContainerReport {
        name: name.into(),
        exists: true,
        status: Some(st.status.clone()),
        running: st.running,
        image: Some(st.image.clone()),
        image_id: Some(st.image_id.clone()),
        image_digests: digests,
        created_by_vbench: Some(super::created_by_vbench(&st)),
    })
}

/// Gather the whole status. Only Docker being unreachable is an error.
pub async fn gather(docker: &Docker, cfg: &Config) -> anyhow::Result<StatusReport> {
    let server = container(docker, &cfg.server.container).await?;
    let client = container(docker, &cfg.client.container).await?;
    let mut serve = ServeReport {
        running: false,
        args: None,
        healthy: false,
        health_detail: String::new(),
        url_from_host: None,
        model: None,
        root: None,
        max_model_len: None,
        version: None,
    };
    let (mut gpus, mut gpu_error) = (vec![], None);
    if server.running {
        let name = &cfg.server.container;
        let r = super::running(docker, name).await?;
        serve.running = r.alive;
        serve.args = r.args;
        if r.alive {
            match super::url_from_host(docker, cfg).await {
                Ok(url) => {
                    let ep = probe::Endpoint::new(url.clone(), super::argv::api_key(&cfg.server));
                    match probe::health(&ep, probe::PROBE_TIMEOUT).await {
                        Ok(()) => {
                            serve.healthy = true;
                            serve.health_detail = "GET /health = 200".into();
                        }
                        Err(e) => serve.health_detail = format!("GET /health: {e}"),
                    }
                    if serve.healthy {
                        if let Ok(list) = probe::models(&ep, probe::PROBE_TIMEOUT).await
                            && let Some(m) = list.into_iter().next()
                        {
                            serve.model = Some(m.id);
                            serve.root = m.root;
                            serve.max_model_len = m.max_model_len;
                        }
                        serve.version = probe::version(&ep, probe::PROBE_TIMEOUT).await.ok();
                    }
                    serve.url_from_host = Some(url);
                }
                Err(e) => serve.health_detail = format!("{e:#}"),
            }
        } else {
            serve.health_detail = "vllm serve is not running".into();
        }
        match crate::gpu::sample(docker, name).await {
            Ok(g) => gpus = g,
            Err(e) => gpu_error = Some(format!("{e:#}")),
        }
    } else {
        serve.health_detail = format!("container {} is not running", cfg.server.container);
    }
    Ok(StatusReport {
        server,
        client,
        network: cfg.network.clone(),
        serve,
        gpus,
        gpu_error,
    })
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

impl StatusReport {
    /// Human-readable text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (role, c) in [("server", &self.server), ("client", &self.client)] {
            if !c.exists {
                let _ = writeln!(s, "{role} container {}: absent", c.name);
                continue;
            }
            let _ = writeln!(
                s,
                "{role} container {}: {} | image {} ({}{}) | created by vbench: {}",
                c.name,
                c.status.as_deref().unwrap_or("?"),
                c.image.as_deref().unwrap_or("?"),
                c.image_id
                    .as_deref()
                    .map(|i| i.chars().take(19).collect::<String>())
                    .unwrap_or_default(),
                c.image_digests
                    .first()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default(),
                yes_no(c.created_by_vbench),
            );
        }
        let v = &self.serve;
        let _ = writeln!(
            s,
            "vllm serve: {}",
            if v.running { "running" } else { "not running" }
        );
        if let Some(a) = &v.args {
            let _ = writeln!(s, "  arguments: {}", a.join(" "));
        }
        let _ = writeln!(
            s,
            "  health: {} ({})",
            if v.healthy { "healthy" } else { "not healthy" },
            v.health_detail
        );
        if let Some(u) = &v.url_from_host {
            let _ = writeln!(s, "  url (host): {u}");
        }
        if let Some(m) = &v.model {
            let _ = writeln!(
                s,
                "  model: {m} (root {}) | max_model_len {} | vLLM {}",
                v.root.as_deref().unwrap_or("?"),
                v.max_model_len.map_or("?".into(), |l| l.to_string()),
                v.version.as_deref().unwrap_or("?")
            );
        }
        match (&self.gpu_error, self.server.running) {
            (Some(e), _) => {
                let _ = writeln!(s, "GPUs: {e}");
            }
            (None, true) => {
                let _ = writeln!(s, "{}", crate::gpu::render_table(&self.gpus));
            }
            (None, false) => {}
        }
        s
    }
}
