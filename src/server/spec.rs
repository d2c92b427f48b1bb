//! The containers vbench creates for the server and the client: GPU preset resolution
//! (`auto`: NVIDIA runtime → nvidia, `/dev/kfd` → amd, else none), the AMD `render` group, and
//! the `ContainerSpec`s. Pure functions, apart from the two host facts read in `detect`.

use std::collections::BTreeMap;

use crate::config::{Config, GpuMode};
use crate::docker::{ContainerSpec, Docker, GpuPreset, LABEL_MANAGED, LABEL_ROLE, Labels};

/// Resolve the configured mode against what the host offers.
pub fn resolve_gpu(mode: GpuMode, nvidia_runtime: bool, kfd_present: bool) -> GpuPreset {
    match mode {
        GpuMode::Nvidia => GpuPreset::Nvidia,
        GpuMode::Amd => GpuPreset::Amd,
        GpuMode::None => GpuPreset::None,
        GpuMode::Auto if nvidia_runtime => GpuPreset::Nvidia,
        GpuMode::Auto if kfd_present => GpuPreset::Amd,
        GpuMode::Auto => GpuPreset::None,
    }
}

/// The host GID of the `render` group from `/etc/group` text, if it exists. Numeric, because a
/// group *name* in `group_add` is looked up in the container's `/etc/group`, and what the
/// device nodes need is the host's GID.
pub fn render_gid(etc_group: &str) -> Option<String> {
    etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == "render").then_some(())?;
        let _password = f.next()?;
        let gid = f.next()?.trim();
        gid.parse::<u32>().ok().map(|g| g.to_string())
    })
}

/// The preset for this host and configuration.
pub fn detect(docker: &Docker, cfg: &Config) -> GpuPreset {
    resolve_gpu(
        cfg.server.gpu,
        docker.has_nvidia_runtime(),
        std::path::Path::new("/dev/kfd").exists(),
    )
}

/// `KEY=VALUE` pairs; empty values are left out (an unset `${HF_TOKEN:-}` must not set
/// `HF_TOKEN=` and hide a token the image might provide).
pub fn env_pairs(env: &BTreeMap<String, String>) -> Vec<String> {
    env.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Labels for what vbench creates: the handle's extra labels, managed and role.
pub fn labels(extra: &Labels, role: &str) -> Labels {
    let mut l = extra.clone();
    l.insert(LABEL_MANAGED.to_string(), "true".to_string());
    l.insert(LABEL_ROLE.to_string(), role.to_string());
    l
}

/// The server container: keep-alive entrypoint (vbench execs `vllm serve` into it), init for
/// signals and zombies, GPU preset, HF cache volume, env, shm, port published on 127.0.0.1.
pub fn server_spec(cfg: &Config, gpu: GpuPreset, etc_group: &str, extra: &Labels) -> ContainerSpec {
    let s = &cfg.server;
    let group_add = match gpu {
        GpuPreset::Amd => render_gid(etc_group).into_iter().collect(),
        _ => vec![],
    };
    ContainerSpec {
        name: s.container.clone(),
        image: s.image.clone(),
        network: Some(cfg.network.clone()),
        aliases: vec![],
        labels: labels(extra, "server"),
        env: env_pairs(&s.env),
        volumes: s.volumes.clone(),
        gpu: Some(gpu),
        shm_size: s.shm_size,
        publish: s.publish_port.map(|host| (s.port, host)),
        keepalive: true,
        init: true,
        group_add,
    }
}

/// The client container: same network, no GPU, keep-alive, its own env and volumes.
pub fn client_spec(cfg: &Config, extra: &Labels) -> ContainerSpec {
    let c = &cfg.client;
    ContainerSpec {
        name: c.container.clone(),
        image: c.image.clone(),
        network: Some(cfg.network.clone()),
        aliases: vec![],
        labels: labels(extra, "client"),
        env: env_pairs(&c.env),
        volumes: c.volumes.clone(),
        gpu: Some(GpuPreset::None),
        shm_size: None,
        publish: None,
        keepalive: true,
        init: true,
        group_add: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_nvidia_then_amd_then_none() {
        assert_eq!(resolve_gpu(GpuMode::Auto, true, true), GpuPreset::Nvidia);
        assert_eq!(resolve_gpu(GpuMode::Auto, false, true), GpuPreset::Amd);
        assert_eq!(resolve_gpu(GpuMode::Auto, false, false), GpuPreset::None);
        assert_eq!(resolve_gpu(GpuMode::None, true, true), GpuPreset::None);
        assert_eq!(resolve_gpu(GpuMode::Amd, true, false), GpuPreset::Amd);
    }

    #[test]
    fn render_gid_from_etc_group() {
        let g = "root:x:0:\nvideo:x:44:\nrenderer:x:7:\nrender:x:109:alice\n";
        assert_eq!(render_gid(g), Some("109".into()));
        assert_eq!(render_gid("root:x:0:\nvideo:x:44:\n"), None);
    }

    #[test]
    fn amd_spec_adds_render_gid_and_others_do_not() {
        let cfg = Config::default();
        let g = "render:x:109:\n";
        assert_eq!(
            server_spec(&cfg, GpuPreset::Amd, g, &Labels::new()).group_add,
            vec!["109".to_string()]
        );
        assert!(
            server_spec(&cfg, GpuPreset::Nvidia, g, &Labels::new())
                .group_add
                .is_empty()
        );
    }

    #[test]
    fn server_spec_publishes_only_when_asked_and_skips_empty_env() {
        let mut cfg = Config::default();
        cfg.server.env.insert("HF_TOKEN".into(), String::new());
        cfg.server.env.insert("A".into(), "1".into());
        let s = server_spec(&cfg, GpuPreset::None, "", &Labels::new());
        assert_eq!(s.publish, None);
        assert_eq!(s.env, vec!["A=1".to_string()]);
        assert!(s.keepalive && s.init);
        assert_eq!(
            s.labels.get(LABEL_MANAGED).map(String::as_str),
            Some("true")
        );
        cfg.server.publish_port = Some(18000);
        assert_eq!(
            server_spec(&cfg, GpuPreset::None, "", &Labels::new()).publish,
            Some((8000, 18000))
        );
    }
}
