//! The stand-in images come from inside vbench: `build.rs` embeds the static stand-in and a
//! static busybox, so the vbench binary — run from an empty directory with no
//! `VBENCH_STANDIN_BIN` / `VBENCH_BUSYBOX` — builds working images on the real engine (under a
//! tag of the test's own, removed afterwards). The embedded stand-in is byte for byte what
//! `scripts/build-standin.sh` builds, and `VBENCH_STANDIN_BIN` still wins when set (a bad one
//! is an error, never a silent fall-back). `scripts/check-install.sh` (run by scripts/test.sh)
//! does the whole `cargo install` round trip; this file keeps `cargo test` quick.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Cleanup, docker, test_labels, unique};
use vbench::docker::{ContainerSpec, ExecSpec};
use vbench::standin::{self, binaries};

/// vbench with no stand-in variables, in an empty directory, labelling what it creates.
fn bare_vbench(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbench"));
    cmd.current_dir(dir)
        .env_remove(binaries::STANDIN_VAR)
        .env_remove(binaries::BUSYBOX_VAR)
        .env_remove(standin::TAG_VAR)
        .env("VBENCH_LABELS", "vbench.test=1");
    cmd
}

#[test]
fn the_embedded_stand_in_is_the_one_the_script_builds() {
    let embedded = binaries::embedded_standin().expect("vbench was built with the stand-in");
    let built = std::fs::read(common::standin_bin()).expect("read the script's stand-in");
    assert!(
        embedded == built.as_slice(),
        "embedded {} bytes, scripts/build-standin.sh built {} bytes: they differ",
        embedded.len(),
        built.len()
    );
    assert_eq!(standin::not_static(embedded), None);
    let busybox = binaries::embedded_busybox().expect("the build machine has busybox-static");
    assert_eq!(standin::not_static(busybox), None);
}

#[tokio::test]
async fn vbench_builds_working_images_from_what_it_carries() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let tag = unique("embedded");
    let refs = standin::StandinImages::for_tag(&tag);
    cleanup.image(&refs.server);
    cleanup.image(&refs.client);
    let empty = tempfile::tempdir().expect("tempdir");

    let out = bare_vbench(empty.path())
        .args(["--output", "plain", "images", "build", "--tag", &tag])
        .output()
        .expect("run vbench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "images build: {stderr}");
    assert!(
        stderr.contains("stand-in embedded in this vbench, busybox embedded in this vbench"),
        "the build names where its files came from: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(empty.path()).expect("ls").count(),
        0,
        "images build writes nothing to the working directory"
    );

    // The server image runs the stand-in and its shell.
    let name = unique("embedded-srv");
    cleanup.container(&name);
    d.ensure_container(&ContainerSpec {
        name: name.clone(),
        image: refs.server.clone(),
        labels: test_labels(),
        ..Default::default()
    })
    .await
    .expect("start a container of the built image");
    let mut spec = ExecSpec::argv(["sh", "-c", "vllm --version && echo shell-ok"]);
    spec.deadline = Some(Duration::from_secs(60));
    let (res, stdout, stderr) = d.exec_capture(&name, &spec).await.expect("exec");
    assert_eq!(res.exit_code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("0.33.0+standin"), "{stdout}");
    assert!(stdout.trim_end().ends_with("shell-ok"), "{stdout}");
}

#[test]
fn a_bad_standin_variable_is_an_error_not_a_fall_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("vllm");
    std::fs::write(&fake, "#!/bin/sh\necho not a stand-in\n").expect("write");
    let tag = unique("badvar");
    let out = bare_vbench(dir.path())
        .env(binaries::STANDIN_VAR, &fake)
        .args(["--output", "plain", "images", "build", "--tag", &tag])
        .output()
        .expect("run vbench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&fake.display().to_string()) && stderr.contains("not an ELF executable"),
        "{stderr}"
    );
}
