//! Pure container specifications: what vbench asks Docker to create for each GPU preset.
//! No I/O here, so every preset is unit-tested as data.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, EndpointSettings, HostConfig,
    NetworkingConfig, PortBinding,
};
use sha2::{Digest, Sha256};

use super::{LABEL_SPEC, Labels};

/// The entrypoint that keeps a container alive so commands can be exec'd into it. Works with
/// busybox `sh` and the Debian/Ubuntu `sh` of vLLM images; exits at once on SIGTERM/SIGINT
/// (a plain `sleep` as PID 1 would ignore them and cost the full stop grace period).
pub const KEEPALIVE: [&str; 3] = [
    "sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];

/// Only ever publish on loopback: a vLLM server has no authentication.
pub const PUBLISH_HOST_IP: &str = "127.0.0.1";

/// The GPU preset, resolved (no `auto` left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuPreset {
    /// Device request for GPUs with capability `gpu` (all, a count or ids), `--ipc=host`.
    Nvidia,
    /// `/dev/kfd` and `/dev/dri` (or the selected render nodes), the host's GIDs of those
    /// nodes in `group_add`, `--ipc=host`, seccomp=unconfined, SYS_PTRACE.
    Amd,
    /// Plain CPU.
    None,
}

/// Which GPUs the NVIDIA preset's device request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NvidiaGpus {
    /// `count: -1`, as `docker run --gpus all`.
    #[default]
    All,
    /// `count: N`, as `docker run --gpus N`: the first N.
    Count(u32),
    /// `device_ids`, as `docker run --gpus '"device=4,5"'`: indices or UUIDs.
    Ids(Vec<String>),
}

/// Everything needed to create a container vbench owns.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// User-defined network to join (DNS by container name works only there).
    pub network: Option<String>,
    /// Extra network aliases.
    pub aliases: Vec<String>,
    /// `vbench.*` labels (tests add `vbench.test`).
    pub labels: Labels,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// `src:dst[:ro]` binds or named volumes.
    pub volumes: Vec<String>,
    pub gpu: Option<GpuPreset>,
    pub shm_size: Option<u64>,
    /// Publish this container port on 127.0.0.1 only: (container_port, host_port).
    pub publish: Option<(u16, u16)>,
    /// Replace the image's entrypoint with a keep-alive so commands can be exec'd.
    pub keepalive: bool,
    /// Run an init (tini) as PID 1 so signals and zombies are handled.
    pub init: bool,
    /// Extra groups. The AMD preset's are the host's numeric GIDs: a name would be resolved in
    /// the image's `/etc/group`, which may lack it or map it to another GID.
    pub group_add: Vec<String>,
    /// NVIDIA preset: which GPUs to request.
    pub nvidia_gpus: NvidiaGpus,
    /// AMD preset: the device nodes to pass in (same path inside); empty: `/dev/kfd` and the
    /// whole `/dev/dri`.
    pub amd_devices: Vec<String>,
}

impl ContainerSpec {
    /// The Engine API create body for this spec.
    pub fn create_body(&self) -> ContainerCreateBody {
        let mut body = self.body_without_hash();
        body.labels
            .get_or_insert_with(HashMap::new)
            .insert(LABEL_SPEC.to_string(), self.spec_hash());
        body
    }

    /// A stable hash of the spec, stored as `vbench.spec` for drift detection.
    pub fn spec_hash(&self) -> String {
        let value =
            serde_json::to_value(self.body_without_hash()).unwrap_or(serde_json::Value::Null);
        let mut canonical = String::new();
        write_canonical(&value, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Everything but the `vbench.spec` label (which is derived from the rest).
    fn body_without_hash(&self) -> ContainerCreateBody {
        let mut labels: HashMap<String, String> = self
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != LABEL_SPEC)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.remove(LABEL_SPEC);

        let mut host = HostConfig {
            binds: non_empty(self.volumes.clone()),
            network_mode: self.network.clone(),
            init: self.init.then_some(true),
            shm_size: self.shm_size.map(|s| s as i64),
            group_add: non_empty(self.group_add.clone()),
            ..Default::default()
        };
        match self.gpu {
            Some(GpuPreset::Nvidia) => {
                // What `docker run --gpus …` sends: no driver named, the daemon picks the one
                // that offers the `gpu` capability (the NVIDIA toolkit's). Count and ids are
                // exclusive in the API.
                let (count, device_ids) = match &self.nvidia_gpus {
                    NvidiaGpus::All => (Some(-1), None),
                    NvidiaGpus::Count(n) => (Some(i64::from(*n)), None),
                    NvidiaGpus::Ids(ids) => (None, Some(ids.clone())),
                };
                host.device_requests = Some(vec![DeviceRequest {
                    count,
                    device_ids,
                    capabilities: Some(vec![vec!["gpu".into()]]),
                    ..Default::default()
                }]);
                host.ipc_mode = Some("host".into());
            }
            Some(GpuPreset::Amd) => {
                let dev = |p: &str| DeviceMapping {
                    path_on_host: Some(p.into()),
                    path_in_container: Some(p.into()),
                    cgroup_permissions: Some("rwm".into()),
                };
                host.devices = Some(if self.amd_devices.is_empty() {
                    vec![dev("/dev/kfd"), dev("/dev/dri")]
                } else {
                    self.amd_devices.iter().map(|p| dev(p)).collect()
                });
                host.ipc_mode = Some("host".into());
                host.security_opt = Some(vec!["seccomp=unconfined".into()]);
                host.cap_add = Some(vec!["SYS_PTRACE".into()]);
            }
            Some(GpuPreset::None) | None => {}
        }

        let mut exposed_ports = None;
        if let Some((container_port, host_port)) = self.publish {
            let key = format!("{container_port}/tcp");
            // Host port 0 means "let Docker pick": an empty HostPort asks for that.
            let host_port = if host_port == 0 {
                String::new()
            } else {
                host_port.to_string()
            };
            host.port_bindings = Some(HashMap::from([(
                key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(PUBLISH_HOST_IP.into()),
                    host_port: Some(host_port),
                }]),
            )]));
            exposed_ports = Some(vec![key]);
        }

        let networking_config = self.network.as_ref().map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: non_empty(self.aliases.clone()),
                    ..Default::default()
                },
            )])),
        });

        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: non_empty(self.env.clone()),
            labels: Some(labels),
            entrypoint: self
                .keepalive
                .then(|| KEEPALIVE.iter().map(|s| s.to_string()).collect()),
            exposed_ports,
            host_config: Some(host),
            networking_config,
            ..Default::default()
        }
    }
}

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    if v.is_empty() { None } else { Some(v) }
}

/// JSON with object keys sorted at every level, so the hash does not depend on HashMap order.
fn write_canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Test helper (also for the server's GPU snapshots): `spec`'s create body equals `expected`,
/// compared as JSON values (map order inside bollard's models does not matter), with the
/// `vbench.spec` label checked against `spec_hash` and shown as `<hash>`.
#[cfg(test)]
pub(crate) fn assert_body_json(spec: &ContainerSpec, expected: &str) {
    let mut got = serde_json::to_value(spec.create_body()).expect("serialise");
    let hash = got["Labels"]["vbench.spec"]
        .as_str()
        .expect("spec label")
        .to_string();
    assert_eq!(hash, spec.spec_hash());
    assert_eq!(hash.len(), 64);
    got["Labels"]["vbench.spec"] = serde_json::Value::String("<hash>".into());
    let want: serde_json::Value = serde_json::from_str(expected).expect("expected JSON parses");
    assert_eq!(
        got,
        want,
        "got:\n{}",
        serde_json::to_string_pretty(&got).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(gpu: GpuPreset) -> ContainerSpec {
        ContainerSpec {
            name: "vllm-server".into(),
            image: "vllm/vllm-openai:latest".into(),
            network: Some("vllm-bench".into()),
            aliases: vec!["server".into()],
            labels: Labels::from([("vbench.managed".to_string(), "true".to_string())]),
            env: vec!["HF_TOKEN=x".into()],
            volumes: vec!["/root/.cache/huggingface:/root/.cache/huggingface".into()],
            gpu: Some(gpu),
            shm_size: Some(16 << 30),
            publish: Some((8000, 0)),
            keepalive: true,
            init: true,
            ..Default::default()
        }
    }

    fn assert_json(spec: &ContainerSpec, expected: &str) {
        assert_body_json(spec, expected);
    }

    const COMMON_HEAD: &str = r#""Image": "vllm/vllm-openai:latest",
        "Env": ["HF_TOKEN=x"],
        "Labels": {"vbench.managed": "true", "vbench.spec": "<hash>"},
        "Entrypoint": ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
        "ExposedPorts": {"8000/tcp": {}},
        "NetworkingConfig": {"EndpointsConfig": {"vllm-bench": {"Aliases": ["server"]}}}"#;

    #[test]
    fn nvidia_preset() {
        let expected = format!(
            r#"{{ {COMMON_HEAD},
            "HostConfig": {{
                "Binds": ["/root/.cache/huggingface:/root/.cache/huggingface"],
                "NetworkMode": "vllm-bench",
                "PortBindings": {{"8000/tcp": [{{"HostIp": "127.0.0.1", "HostPort": ""}}]}},
                "Init": true,
                "ShmSize": 17179869184,
                "IpcMode": "host",
                "DeviceRequests": [{{"Count": -1, "Capabilities": [["gpu"]]}}]
            }} }}"#
        );
        assert_json(&base(GpuPreset::Nvidia), &expected);
    }

    #[test]
    fn amd_preset() {
        let mut spec = base(GpuPreset::Amd);
        spec.group_add = vec!["44".into(), "105".into()];
        let expected = format!(
            r#"{{ {COMMON_HEAD},
            "HostConfig": {{
                "Binds": ["/root/.cache/huggingface:/root/.cache/huggingface"],
                "NetworkMode": "vllm-bench",
                "PortBindings": {{"8000/tcp": [{{"HostIp": "127.0.0.1", "HostPort": ""}}]}},
                "Init": true,
                "ShmSize": 17179869184,
                "IpcMode": "host",
                "GroupAdd": ["44", "105"],
                "Devices": [
                    {{"PathOnHost": "/dev/kfd", "PathInContainer": "/dev/kfd", "CgroupPermissions": "rwm"}},
                    {{"PathOnHost": "/dev/dri", "PathInContainer": "/dev/dri", "CgroupPermissions": "rwm"}}
                ],
                "SecurityOpt": ["seccomp=unconfined"],
                "CapAdd": ["SYS_PTRACE"]
            }} }}"#
        );
        assert_json(&spec, &expected);
    }

    #[test]
    fn no_gpu_preset() {
        let expected = format!(
            r#"{{ {COMMON_HEAD},
            "HostConfig": {{
                "Binds": ["/root/.cache/huggingface:/root/.cache/huggingface"],
                "NetworkMode": "vllm-bench",
                "PortBindings": {{"8000/tcp": [{{"HostIp": "127.0.0.1", "HostPort": ""}}]}},
                "Init": true,
                "ShmSize": 17179869184
            }} }}"#
        );
        assert_json(&base(GpuPreset::None), &expected);
    }

    #[test]
    fn minimal_spec_has_no_extras() {
        let spec = ContainerSpec {
            name: "c".into(),
            image: "busybox".into(),
            ..Default::default()
        };
        assert_json(
            &spec,
            r#"{"Image": "busybox", "Labels": {"vbench.spec": "<hash>"}, "HostConfig": {}}"#,
        );
    }

    #[test]
    fn fixed_host_port_is_loopback_only() {
        let mut spec = base(GpuPreset::None);
        spec.publish = Some((8000, 18000));
        let v = serde_json::to_value(spec.create_body()).expect("serialise");
        assert_eq!(
            v["HostConfig"]["PortBindings"]["8000/tcp"],
            serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": "18000"}])
        );
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = base(GpuPreset::Nvidia);
        // Many rounds: HashMap iteration order varies, the hash must not.
        for _ in 0..20 {
            assert_eq!(a.spec_hash(), base(GpuPreset::Nvidia).spec_hash());
        }
        let mut b = base(GpuPreset::Nvidia);
        b.image = "vllm/vllm-openai:v0.33.0".into();
        assert_ne!(a.spec_hash(), b.spec_hash());
        let mut c = base(GpuPreset::Nvidia);
        c.labels.insert(LABEL_SPEC.into(), "stale".into());
        assert_eq!(
            a.spec_hash(),
            c.spec_hash(),
            "the spec label never feeds its own hash"
        );
    }

    #[test]
    fn nvidia_count_and_ids_are_exclusive() {
        let mut spec = base(GpuPreset::Nvidia);
        spec.nvidia_gpus = NvidiaGpus::Count(2);
        let v = serde_json::to_value(spec.create_body()).expect("serialise");
        assert_eq!(
            v["HostConfig"]["DeviceRequests"],
            serde_json::json!([{"Count": 2, "Capabilities": [["gpu"]]}])
        );
        spec.nvidia_gpus = NvidiaGpus::Ids(vec!["4".into(), "5".into()]);
        let v = serde_json::to_value(spec.create_body()).expect("serialise");
        assert_eq!(
            v["HostConfig"]["DeviceRequests"],
            serde_json::json!([{"DeviceIDs": ["4", "5"], "Capabilities": [["gpu"]]}])
        );
    }

    #[test]
    fn amd_explicit_devices_replace_kfd_and_dri() {
        let mut spec = base(GpuPreset::Amd);
        spec.amd_devices = vec!["/dev/kfd".into(), "/dev/dri/renderD129".into()];
        let v = serde_json::to_value(spec.create_body()).expect("serialise");
        let paths: Vec<&str> = v["HostConfig"]["Devices"]
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| d["PathOnHost"].as_str().expect("path"))
            .collect();
        assert_eq!(paths, ["/dev/kfd", "/dev/dri/renderD129"]);
        // The selection is part of the spec: another one is drift.
        let mut other = spec.clone();
        other.amd_devices[1] = "/dev/dri/renderD130".into();
        assert_ne!(spec.spec_hash(), other.spec_hash());
    }
}
