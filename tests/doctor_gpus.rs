//! `vbench doctor`'s GPU checks on this machine, through the binary and the real engine: on
//! a host without a GPU it says so in one `gpus` warning (no nvidia-smi, no rocm-smi, no AMD
//! device, no /dev/kfd: only the stand-in can run) and still exits 0; a present server image
//! gets an `image_gpu_stack` line; `gpu: amd` on such a host fails (exit 3) with `kfd`. On a
//! host that has GPUs the inventory line of its vendor is checked instead.

mod common;

use std::process::Command;

fn doctor(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .args(["doctor", "--json"])
        .args(args)
        .current_dir(dir.path())
        .env_remove("VBENCH_CONFIG")
        .output()
        .expect("run vbench doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (out.status.code(), json)
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> Option<(&'a str, &'a str)> {
    report["checks"]
        .as_array()?
        .iter()
        .find(|c| c["check"] == id)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default(),
                c["detail"].as_str().unwrap_or_default(),
            )
        })
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

#[tokio::test]
async fn doctor_lists_gpus_or_says_there_are_none() {
    let image = common::busybox_image().await;
    let (code, report) = doctor(&["--server-image", image, "--gpu", "auto"]);
    let gpu_host =
        on_path("nvidia-smi") || on_path("rocm-smi") || std::path::Path::new("/dev/kfd").exists();
    if gpu_host {
        assert!(
            check(&report, "nvidia_gpus").is_some() || check(&report, "amd_gpus").is_some(),
            "{report:#}"
        );
    } else {
        assert_eq!(code, Some(0), "no GPU is not a failure: {report:#}");
        let (status, detail) = check(&report, "gpus").expect("a gpus check");
        assert_eq!(status, "warn");
        assert!(detail.starts_with("no GPU on this host"), "{detail}");
        assert!(
            detail.contains("only the CPU stand-in can run here"),
            "{detail}"
        );
        for absent in ["nvidia_gpus", "amd_gpus", "nvidia_toolkit", "kfd"] {
            assert!(check(&report, absent).is_none(), "{absent}: {report:#}");
        }
    }
    let (status, detail) = check(&report, "image_gpu_stack").expect("the image is present");
    assert_eq!(status, "ok");
    assert!(detail.contains("names no CUDA or ROCm version"), "{detail}");

    if !gpu_host {
        let (code, report) = doctor(&["--gpu", "amd"]);
        assert_eq!(code, Some(3), "{report:#}");
        let (status, detail) = check(&report, "kfd").expect("kfd check");
        assert_eq!(status, "fail");
        assert!(detail.contains("/dev/kfd"), "{detail}");
    }
}
