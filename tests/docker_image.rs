//! Real-engine tests of image builds from an in-memory context (FROM scratch, no registry),
//! a failing build's error, inspect and remove.

mod common;

use common::{Cleanup, busybox_spec, docker, unique};
use vbench::docker::image::{ContextEntry, context_tar};
use vbench::docker::{ExecSpec, LABEL_TEST, Labels};

fn busybox() -> Vec<u8> {
    let path = std::env::var("VBENCH_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into());
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (apt-get install -y busybox-static)"))
}

#[tokio::test]
async fn build_from_memory_run_it_and_remove_it() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let tag = format!("vbench-test/built-{}:t", unique("img").replace("vbt-", ""));
    cleanup.image(&tag);
    let ctx = context_tar(&[
        ContextEntry::File {
            path: "Dockerfile".into(),
            data: b"FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n".to_vec(),
            mode: 0o644,
        },
        ContextEntry::Dir {
            path: "rootfs/bin/".into(),
            mode: 0o755,
        },
        ContextEntry::File {
            path: "rootfs/bin/busybox".into(),
            data: busybox(),
            mode: 0o755,
        },
        ContextEntry::Symlink {
            path: "rootfs/bin/sh".into(),
            target: "busybox".into(),
        },
        ContextEntry::Symlink {
            path: "rootfs/bin/sleep".into(),
            target: "busybox".into(),
        },
        ContextEntry::Symlink {
            path: "rootfs/bin/cat".into(),
            target: "busybox".into(),
        },
        ContextEntry::File {
            path: "rootfs/etc/motd".into(),
            data: b"built in memory\n".to_vec(),
            mode: 0o644,
        },
    ])
    .expect("context");
    let labels = Labels::from([(LABEL_TEST.to_string(), "1".to_string())]);
    assert!(d.inspect_image(&tag).await.expect("inspect").is_none());
    d.build_image(&tag, ctx, &labels).await.expect("build");
    let info = d
        .inspect_image(&tag)
        .await
        .expect("inspect")
        .expect("present after build");
    assert!(info.tags.contains(&tag), "{info:?}");
    assert_eq!(info.labels.get(LABEL_TEST).map(String::as_str), Some("1"));
    assert!(info.size > 1_000_000, "busybox is in it: {info:?}");

    let name = unique("img-run");
    cleanup.container(&name);
    let mut spec = busybox_spec(&name, None);
    spec.image = tag.clone();
    d.ensure_container(&spec)
        .await
        .expect("run the built image");
    let (o, out, _) = d
        .exec_capture(&name, &ExecSpec::argv(["cat", "/etc/motd"]))
        .await
        .expect("exec");
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(out, "built in memory\n");
    d.remove_container(&name).await.expect("remove container");

    d.remove_image(&tag).await.expect("remove image");
    assert!(d.inspect_image(&tag).await.expect("inspect").is_none());
    d.remove_image(&tag)
        .await
        .expect("removing an absent image is fine");
}

#[tokio::test]
async fn a_failing_build_reports_the_builder_error() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let tag = format!("vbench-test/broken-{}:t", unique("img").replace("vbt-", ""));
    cleanup.image(&tag);
    let ctx = context_tar(&[ContextEntry::File {
        path: "Dockerfile".into(),
        data: b"FROM scratch\nCOPY missing-file /x\n".to_vec(),
        mode: 0o644,
    }])
    .expect("context");
    let err = d
        .build_image(&tag, ctx, &Labels::new())
        .await
        .expect_err("must fail")
        .to_string();
    assert!(err.contains(&tag), "{err}");
    assert!(err.contains("missing-file"), "{err}");
    assert!(err.contains("last build output"), "{err}");
    assert!(d.inspect_image(&tag).await.expect("inspect").is_none());
}
