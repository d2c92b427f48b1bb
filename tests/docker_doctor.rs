//! `vbench doctor` end to end against the real engine: the JSON report's checks for a
//! present image and a running vbench-made container, and exit 3 with a failed `docker`
//! check when the engine is unreachable.

mod common;

use std::process::Command;

use common::{Cleanup, busybox_image, docker, start_busybox};

fn doctor(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("doctor")
        .arg("--json")
        .args(args)
        .current_dir(cwd)
        .env_remove("VBENCH_CONFIG")
        .output()
        .expect("run vbench doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (
        out.status.code(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status_of<'a>(report: &'a serde_json::Value, id: &str) -> (&'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == id)
        .unwrap_or_else(|| panic!("no {id} check in {report}"));
    (
        c["status"].as_str().expect("status"),
        c["detail"].as_str().expect("detail"),
    )
}

#[tokio::test]
async fn doctor_reports_engine_images_containers_and_disk() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let image = busybox_image().await;
    let server = start_busybox(&d, &cleanup, "doctor-server").await;
    let client = common::unique("doctor-absent-client");
    let dir = tempfile::tempdir().expect("tempdir");
    let results = dir.path().join("results");
    let (code, report, stderr) = doctor(
        &[
            "--server-image",
            image,
            "--client-image",
            "vbench-test/absent:never",
            "--server-container",
            &server,
            "--client-container",
            &client,
            "--results-dir",
            results.to_str().expect("utf-8 path"),
            "--gpu",
            "auto",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["engine"]["api_version"], d.info.api_version.as_str());
    let (s, detail) = status_of(&report, "docker");
    assert_eq!(s, "ok");
    assert!(detail.contains(&d.info.engine_version), "{detail}");
    assert_eq!(status_of(&report, "server_image").0, "ok");
    let (s, detail) = status_of(&report, "client_image");
    assert_eq!(s, "warn");
    assert!(detail.contains("not present"), "{detail}");
    let (s, detail) = status_of(&report, "server_container");
    assert_eq!(s, "ok");
    assert!(
        detail.contains("running") && detail.contains("created by vbench"),
        "{detail}"
    );
    let (s, detail) = status_of(&report, "client_container");
    assert_eq!(s, "ok");
    assert!(detail.contains("absent"), "{detail}");
    let (s, detail) = status_of(&report, "disk");
    assert!(s == "ok" || s == "warn", "{s}");
    assert!(detail.contains("GB free"), "{detail}");
    // This machine has no GPU runtime: a warning, not a failure.
    if !d.has_nvidia_runtime() && !std::path::Path::new("/dev/kfd").exists() {
        let (s, detail) = status_of(&report, "gpu");
        assert_eq!(s, "warn");
        assert!(detail.contains("only the CPU stand-in"), "{detail}");
    }
}

#[test]
fn doctor_fails_with_setup_code_when_the_engine_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("no-docker.sock");
    let host = format!("unix://{}", sock.display());
    let (code, report, stderr) = doctor(&["--docker-host", &host], dir.path());
    assert_eq!(code, Some(3), "{report}\n{stderr}");
    assert_eq!(report["ok"], false);
    let (s, detail) = status_of(&report, "docker");
    assert_eq!(s, "fail");
    assert!(detail.contains(&host), "{detail}");
    assert!(
        stderr.contains("cannot reach the Docker Engine"),
        "{stderr}"
    );
}
