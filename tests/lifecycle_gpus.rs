//! GPU selection end to end on the CPU stand-in (real engine): `gpus: [4, 5]` with
//! tensor-parallel 2 on a stand-in host of 8 GPUs (`VLLM_STANDIN_GPUS: "8"` in `server.env`,
//! how a test plays a bigger host). The server container gets `NVIDIA_VISIBLE_DEVICES=4,5`, so
//! the stand-in's `nvidia-smi` lists exactly physical GPUs 4 and 5 (renumbered 0 and 1, their
//! own UUIDs), and the server holds memory on both. The same with the AMD stand-in and a count:
//! `rocm-smi` lists the first two. And a selection smaller than the tensor-parallel size stops
//! `vbench up` with exit code 2 before anything starts.

mod common;
mod lifecycle_support;

use std::process::Command;

use lifecycle_support as sup;
use vbench::config::GpuSelection;
use vbench::server::{self, DownOptions, UpOptions};

/// The stand-in's UUID of physical GPU `p`.
fn uuid(p: u32) -> String {
    format!(
        "GPU-5a4d0000-0000-4000-8000-{:012x}",
        0x5747_0000u64 + u64::from(p)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standin_serves_on_exactly_the_selected_gpus() {
    let d = common::docker().await;
    sup::images(&d).await;

    // NVIDIA wording, GPUs 4 and 5 of 8.
    let mut st = sup::stack("gpus-nv");
    st.cfg.server.gpus = GpuSelection::Ids(vec![4, 5]);
    st.cfg.server.tensor_parallel_size = 2;
    st.cfg
        .server
        .env
        .insert("VLLM_STANDIN_GPUS".into(), "8".into());
    let cfg = &st.cfg;
    let info = server::up(&d, cfg, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect("up");
    let c = &cfg.server.container;
    let state = d
        .inspect_container(c)
        .await
        .expect("inspect")
        .expect("exists");
    assert_eq!(info.gpus.len(), 2, "{info:?} {state:?}");
    let (code, out) = sup::sh(
        &d,
        c,
        "nvidia-smi --query-gpu=index,uuid,memory.used --format=csv,noheader,nounits",
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split(',').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for (row, physical) in rows.iter().zip([4, 5]) {
        assert_eq!(row[1], uuid(physical), "{out}");
        let used: f64 = row[2].parse().expect("memory.used");
        assert!(used > 1.0, "tp 2: the server holds memory on both: {out}");
    }
    assert_eq!(rows[0][0], "0", "renumbered inside the container: {out}");
    server::down(&d, cfg, &DownOptions::default(), sup::sink().as_ref())
        .await
        .expect("down");

    // AMD wording, the first two GPUs (the host size follows the selection: 2).
    let mut st = sup::stack("gpus-amd");
    st.cfg.server.gpus = GpuSelection::Count(2);
    st.cfg.server.tensor_parallel_size = 1;
    st.cfg
        .server
        .env
        .insert("VLLM_STANDIN_GPU".into(), "amd".into());
    let cfg = &st.cfg;
    server::up(&d, cfg, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect("up (amd)");
    let (code, out) = sup::sh(
        &d,
        &cfg.server.container,
        "echo $AMD_VISIBLE_DEVICES $VLLM_STANDIN_GPUS; rocm-smi --showuse --json",
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("0,1 2\n"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(out.lines().nth(1).unwrap_or_default()).expect("rocm-smi json");
    let cards: Vec<&String> = json
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| k.starts_with("card"))
        .collect();
    assert_eq!(cards, ["card0", "card1"], "{out}");
    server::down(&d, cfg, &DownOptions::default(), sup::sink().as_ref())
        .await
        .expect("down (amd)");
}

#[test]
fn too_few_gpus_for_the_tensor_parallel_size_stops_up_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An unreachable engine: the error must come from the configuration, not from Docker.
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .args(["up", "--standin", "--gpus", "4,5", "--tp", "4"])
        .args(["--docker-host", "unix:///nonexistent/docker.sock"])
        .current_dir(dir.path())
        .env_remove("VBENCH_CONFIG")
        .output()
        .expect("run vbench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--gpus: server.gpus: `4,5` selects 2 GPUs, but tensor_parallel_size 4 needs 4"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("server.tensor_parallel_size = 4 is set by --tp"),
        "{stderr}"
    );
}
