//! The AMD group fix against the real engine: the AMD server spec's `group_add` holds the
//! host's numeric GIDs, which the engine accepts even for an image with no `/etc/group` at all
//! (the test busybox image), and the process inside carries them (`id -G`); the same container
//! with the group *name* `render` is refused by the engine ("Unable to find group render").
//!
//! This machine may have no GPU: without `/dev/kfd` the host facts get a stand-in kfd and
//! render node (GIDs no image names), and the device mappings become harmless `/dev/null` and
//! `/dev/zero` — the point is the groups, not the devices. On an AMD host the real nodes are
//! passed in.

mod common;

use std::time::Duration;

use common::{Cleanup, busybox_image, docker, test_labels, unique};
use vbench::config::{Config, GpuSelection};
use vbench::docker::{ContainerSpec, ExecSpec, GpuPreset};
use vbench::server::gpus::{AmdGpu, DeviceNode, HostGpus};
use vbench::server::spec::server_spec;

/// This host's facts; without an AMD GPU, a kfd and one render node owned by GIDs 4242 and
/// 4243 (beside the real `/etc/group`, so its `video`/`render` GIDs count as on a GPU host).
fn host_facts() -> (HostGpus, bool) {
    let mut host = HostGpus::read();
    let real = host.kfd.is_some() && !host.amd.is_empty();
    if !real {
        let node = |path: &str, gid| DeviceNode {
            path: path.into(),
            gid,
            mode: 0o660,
        };
        host.kfd = Some(node("/dev/kfd", 4242));
        host.amd = vec![AmdGpu {
            render: node("/dev/dri/renderD128", 4243),
            card: None,
        }];
    }
    (host, real)
}

/// The AMD server spec for GPU 0 on `host`, as a busybox keep-alive container.
fn amd_spec(host: &HostGpus, real: bool, name: &str) -> ContainerSpec {
    let mut cfg = Config::default();
    cfg.server.gpus = GpuSelection::Count(1);
    cfg.server.env.clear();
    let mut spec = server_spec(&cfg, GpuPreset::Amd, host, &test_labels());
    spec.name = name.to_string();
    spec.image = common::BUSYBOX_IMAGE.to_string();
    spec.network = None;
    spec.volumes.clear();
    spec.labels = test_labels();
    if !real {
        spec.amd_devices = vec!["/dev/null".into(), "/dev/zero".into()];
    }
    spec
}

async fn sh(d: &vbench::docker::Docker, container: &str, script: &str) -> (Option<i64>, String) {
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let (outcome, out, err) = d.exec_capture(container, &spec).await.expect("exec");
    (outcome.exit_code, format!("{out}{err}"))
}

#[tokio::test]
async fn numeric_gids_are_accepted_where_the_group_name_is_refused() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    busybox_image().await;
    let (host, real) = host_facts();

    let name = unique("amd-gids");
    cleanup.container(&name);
    let spec = amd_spec(&host, real, &name);
    assert!(!spec.group_add.is_empty(), "{:?}", spec.group_add);
    assert!(
        spec.group_add
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_digit())),
        "numeric GIDs only: {:?}",
        spec.group_add
    );
    if !real {
        for gid in ["4242", "4243"] {
            assert!(
                spec.group_add.iter().any(|g| g == gid),
                "{:?}",
                spec.group_add
            );
        }
    }
    d.ensure_container(&spec)
        .await
        .unwrap_or_else(|e| panic!("numeric group_add {:?} refused: {e}", spec.group_add));

    // The premise: the image has no /etc/group, so no group name could resolve in it.
    let (code, out) = sh(&d, &name, "cat /etc/group").await;
    assert_ne!(code, Some(0), "the test image must lack /etc/group: {out}");
    let (code, out) = sh(&d, &name, "id -G").await;
    assert_eq!(code, Some(0), "{out}");
    let ids: Vec<&str> = out.split_whitespace().collect();
    for gid in &spec.group_add {
        assert!(ids.contains(&gid.as_str()), "id -G = {out:?}, want {gid}");
    }

    // The same container with the name the vLLM docs use: the engine refuses to start it.
    let named = unique("amd-group-name");
    cleanup.container(&named);
    let mut by_name = amd_spec(&host, real, &named);
    by_name.group_add = vec!["render".into()];
    let e = d
        .ensure_container(&by_name)
        .await
        .expect_err("a group name the image lacks must be refused");
    let msg = e.to_string();
    assert!(msg.contains("Unable to find group render"), "{msg}");
}
