//! The containers vbench creates for the server and the client: GPU preset resolution
//! (`auto`: NVIDIA runtime → nvidia, `/dev/kfd` → amd, else none) and the `ContainerSpec`s,
//! with the GPU selection's parts from `gpus`. Pure functions, apart from the two host facts
//! read in `detect`; the device facts come in as `HostGpus`.

use std::collections::BTreeMap;

use super::gpus::{HostGpus, gpu_parts};
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
/// signals and zombies, GPU preset with the selected GPUs (`server.gpus` on `host`), HF cache
/// volume, env, shm, port published on 127.0.0.1.
pub fn server_spec(cfg: &Config, gpu: GpuPreset, host: &HostGpus, extra: &Labels) -> ContainerSpec {
    let s = &cfg.server;
    let parts = gpu_parts(s, gpu, host);
    let mut env = env_pairs(&s.env);
    env.extend(parts.env);
    ContainerSpec {
        name: s.container.clone(),
        image: s.image.clone(),
        network: Some(cfg.network.clone()),
        aliases: vec![],
        labels: labels(extra, "server"),
        env,
        volumes: s.volumes.clone(),
        gpu: Some(gpu),
        shm_size: s.shm_size,
        publish: s.publish_port.map(|host| (s.port, host)),
        keepalive: true,
        init: true,
        group_add: parts.group_add,
        nvidia_gpus: parts.nvidia,
        amd_devices: parts.amd_devices,
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
        ..Default::default()
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
    fn server_spec_publishes_only_when_asked_and_skips_empty_env() {
        let mut cfg = Config::default();
        cfg.server.env.insert("HF_TOKEN".into(), String::new());
        cfg.server.env.insert("A".into(), "1".into());
        let s = server_spec(&cfg, GpuPreset::None, &HostGpus::default(), &Labels::new());
        assert_eq!(s.publish, None);
        assert_eq!(s.env, vec!["A=1".to_string()]);
        assert!(s.keepalive && s.init);
        assert_eq!(
            s.labels.get(LABEL_MANAGED).map(String::as_str),
            Some("true")
        );
        cfg.server.publish_port = Some(18000);
        assert_eq!(
            server_spec(&cfg, GpuPreset::None, &HostGpus::default(), &Labels::new()).publish,
            Some((8000, 18000))
        );
    }
    // Snapshots of the server container per vendor and selection: the whole create body, on
    // a canned host (4 AMD GPUs whose card nodes are card1..card4 — card0 is another device —
    // render nodes and /dev/kfd owned by `render` 109, cards by `video` 44).

    use crate::config::GpuSelection;
    use crate::docker::spec::assert_body_json;
    use crate::server::gpus::{AmdGpu, DeviceNode};

    fn node(path: &str, gid: u32) -> DeviceNode {
        DeviceNode {
            path: path.into(),
            gid,
            mode: 0o660,
        }
    }

    fn host() -> HostGpus {
        HostGpus {
            etc_group: "root:x:0:\nvideo:x:44:\nrender:x:109:\n".into(),
            kfd: Some(node("/dev/kfd", 109)),
            amd: (0..4)
                .map(|i| AmdGpu {
                    render: node(&format!("/dev/dri/renderD{}", 128 + i), 109),
                    card: Some(node(&format!("/dev/dri/card{}", i + 1), 44)),
                })
                .collect(),
        }
    }

    fn cfg(gpus: GpuSelection, env: &[(&str, &str)]) -> Config {
        let mut c = Config::default();
        c.server.gpus = gpus;
        c.server.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.server.volumes = vec![];
        c
    }

    /// The body with `env` and the HostConfig's GPU fields (`gpu_host`, JSON members).
    fn expected(env: &str, gpu_host: &str) -> String {
        format!(
            r#"{{
            "Image": "vllm/vllm-openai:latest",
            {env}
            "Labels": {{"vbench.managed": "true", "vbench.role": "server", "vbench.spec": "<hash>"}},
            "Entrypoint": ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
            "HostConfig": {{
                "NetworkMode": "vllm-bench",
                "Init": true,
                "ShmSize": 17179869184
                {gpu_host}
            }},
            "NetworkingConfig": {{"EndpointsConfig": {{"vllm-bench": {{}}}}}}
        }}"#
        )
    }

    fn snap(c: &Config, preset: GpuPreset, env: &str, gpu_host: &str) {
        let spec = server_spec(c, preset, &host(), &Labels::new());
        assert_body_json(&spec, &expected(env, gpu_host));
    }

    #[test]
    fn snapshot_nvidia_all_count_ids() {
        let ipc = r#", "IpcMode": "host""#;
        snap(
            &cfg(GpuSelection::All, &[]),
            GpuPreset::Nvidia,
            "",
            &format!(r#"{ipc}, "DeviceRequests": [{{"Count": -1, "Capabilities": [["gpu"]]}}]"#),
        );
        snap(
            &cfg(GpuSelection::Count(4), &[]),
            GpuPreset::Nvidia,
            "",
            &format!(r#"{ipc}, "DeviceRequests": [{{"Count": 4, "Capabilities": [["gpu"]]}}]"#),
        );
        snap(
            &cfg(GpuSelection::Ids(vec![4, 5, 6, 7]), &[]),
            GpuPreset::Nvidia,
            "",
            &format!(
                r#"{ipc}, "DeviceRequests": [{{"DeviceIDs": ["4", "5", "6", "7"], "Capabilities": [["gpu"]]}}]"#
            ),
        );
    }

    const AMD_COMMON: &str =
        r#", "IpcMode": "host", "SecurityOpt": ["seccomp=unconfined"], "CapAdd": ["SYS_PTRACE"]"#;

    fn dev(p: &str) -> String {
        format!(r#"{{"PathOnHost": "{p}", "PathInContainer": "{p}", "CgroupPermissions": "rwm"}}"#)
    }

    #[test]
    fn snapshot_amd_all_numeric_gids_and_whole_dri() {
        snap(
            &cfg(GpuSelection::All, &[]),
            GpuPreset::Amd,
            "",
            &format!(
                r#"{AMD_COMMON}, "GroupAdd": ["44", "109"], "Devices": [{}, {}]"#,
                dev("/dev/kfd"),
                dev("/dev/dri")
            ),
        );
    }

    #[test]
    fn snapshot_amd_count_first_n_nodes() {
        snap(
            &cfg(GpuSelection::Count(2), &[]),
            GpuPreset::Amd,
            r#""Env": ["ROCR_VISIBLE_DEVICES=0,1", "HIP_VISIBLE_DEVICES=0,1"],"#,
            &format!(
                r#"{AMD_COMMON}, "GroupAdd": ["44", "109"], "Devices": [{}, {}, {}, {}, {}]"#,
                dev("/dev/kfd"),
                dev("/dev/dri/renderD128"),
                dev("/dev/dri/card1"),
                dev("/dev/dri/renderD129"),
                dev("/dev/dri/card2")
            ),
        );
    }

    #[test]
    fn snapshot_amd_ids_only_their_nodes() {
        snap(
            &cfg(GpuSelection::Ids(vec![3, 1]), &[]),
            GpuPreset::Amd,
            r#""Env": ["ROCR_VISIBLE_DEVICES=0,1", "HIP_VISIBLE_DEVICES=0,1"],"#,
            &format!(
                r#"{AMD_COMMON}, "GroupAdd": ["44", "109"], "Devices": [{}, {}, {}, {}, {}]"#,
                dev("/dev/kfd"),
                dev("/dev/dri/renderD131"),
                dev("/dev/dri/card4"),
                dev("/dev/dri/renderD129"),
                dev("/dev/dri/card2")
            ),
        );
    }

    #[test]
    fn amd_gids_are_the_hosts_whatever_the_names() {
        // kfd and render nodes owned by 993 (no name for it in /etc/group), video 39, no
        // render group: the owners' GIDs and video's, never a name.
        let mut h = host();
        h.etc_group = "root:x:0:\nvideo:x:39:\n".into();
        h.kfd = Some(node("/dev/kfd", 993));
        for g in &mut h.amd {
            g.render.gid = 993;
            g.card = None;
        }
        let spec = server_spec(
            &cfg(GpuSelection::Ids(vec![2]), &[]),
            GpuPreset::Amd,
            &h,
            &Labels::new(),
        );
        assert_eq!(spec.group_add, ["39", "993"]);
        assert_eq!(spec.amd_devices, ["/dev/kfd", "/dev/dri/renderD130"]);
        // Root-owned nodes add no group 0.
        h.kfd = Some(node("/dev/kfd", 0));
        let spec = server_spec(
            &cfg(GpuSelection::All, &[]),
            GpuPreset::Amd,
            &h,
            &Labels::new(),
        );
        assert_eq!(spec.group_add, ["39", "993"]);
        // Unknown host (nothing readable): the usual render node names, no groups.
        let spec = server_spec(
            &cfg(GpuSelection::Count(1), &[]),
            GpuPreset::Amd,
            &HostGpus::default(),
            &Labels::new(),
        );
        assert!(spec.group_add.is_empty());
        assert_eq!(spec.amd_devices, ["/dev/kfd", "/dev/dri/renderD128"]);
    }

    #[test]
    fn snapshot_none_with_a_selection_sets_the_standin_env() {
        snap(
            &cfg(GpuSelection::Ids(vec![4, 5, 6, 7]), &[]),
            GpuPreset::None,
            r#""Env": ["NVIDIA_VISIBLE_DEVICES=4,5,6,7", "VLLM_STANDIN_GPUS=8"],"#,
            "",
        );
        // The AMD stand-in, playing a bigger host than the selection needs.
        snap(
            &cfg(
                GpuSelection::Count(2),
                &[("VLLM_STANDIN_GPU", "amd"), ("VLLM_STANDIN_GPUS", "16")],
            ),
            GpuPreset::None,
            r#""Env": ["VLLM_STANDIN_GPU=amd", "VLLM_STANDIN_GPUS=16", "AMD_VISIBLE_DEVICES=0,1"],"#,
            "",
        );
        // `all`: nothing added.
        snap(&cfg(GpuSelection::All, &[]), GpuPreset::None, "", "");
    }

    #[test]
    fn configured_env_wins_over_the_selection() {
        let c = cfg(
            GpuSelection::Count(2),
            &[
                ("ROCR_VISIBLE_DEVICES", "1"),
                ("NVIDIA_VISIBLE_DEVICES", "x"),
            ],
        );
        let amd = server_spec(&c, GpuPreset::Amd, &host(), &Labels::new());
        assert_eq!(
            amd.env,
            ["NVIDIA_VISIBLE_DEVICES=x", "ROCR_VISIBLE_DEVICES=1"],
            "the configured process choice stands alone"
        );
        let none = server_spec(&c, GpuPreset::None, &host(), &Labels::new());
        assert_eq!(
            none.env,
            [
                "NVIDIA_VISIBLE_DEVICES=x",
                "ROCR_VISIBLE_DEVICES=1",
                "VLLM_STANDIN_GPUS=2"
            ]
        );
    }
}
