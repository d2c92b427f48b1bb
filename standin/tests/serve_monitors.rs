//! The stand-in `nvidia-smi` / `rocm-smi` follow the stand-in server's load through its state
//! file: busy while requests run, memory reserved while the server is up, idle once it stops.

mod serve_support;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::*;

fn smi(tool: &str, args: &[&str], state: &str, gpu: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg(tool)
        .args(args)
        .env("VLLM_STANDIN_STATE", state)
        .env_remove("VLLM_STANDIN_GPUS");
    match gpu {
        Some(g) => cmd.env("VLLM_STANDIN_GPU", g),
        None => cmd.env_remove("VLLM_STANDIN_GPU"),
    };
    let out = cmd.output().expect("run the monitor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const Q: &[&str] = &[
    "--query-gpu=index,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu,driver_version",
    "--format=csv,noheader,nounits",
];

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(", ").map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn monitors_follow_the_servers_load() {
    let mut s = Server::start(
        &["m", "-tp", "2", "--gpu-memory-utilization", "0.5"],
        &[("VLLM_STANDIN_TPOT_MS", "10")],
    )
    .await;
    let st = s.state_path.clone();
    // Idle but up: memory reserved, no utilisation.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, out) = smi("nvidia-smi", Q, &st, None);
    assert_eq!(code, 0, "{out}");
    let r = rows(&out);
    assert_eq!(r.len(), 2, "two GPUs for -tp 2: {out}");
    assert_eq!(r[0][1], "Stand-in GPU (CPU test double)");
    assert_eq!(
        (r[0][2].as_str(), r[0][3].as_str(), r[0][4].as_str()),
        ("0", "40780", "81559"),
        "{out}"
    );

    // Busy: six long requests running.
    let url = s.url("/v1/completions");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            post(
                &url,
                &json!({"prompt": "a b", "max_tokens": 150, "ignore_eos": true}),
            )
            .await
            .status()
        }));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, out) = smi("nvidia-smi", Q, &st, None);
    let r = rows(&out);
    let util: u32 = r[1][2].parse().unwrap();
    assert!(util >= 80, "utilization under load: {out}");
    let power: f64 = r[0][5].parse().unwrap();
    assert!(power > 100.0, "power under load: {out}");
    let (code, out) = smi(
        "rocm-smi",
        &["--showuse", "--showmemuse", "--json"],
        &st,
        Some("amd"),
    );
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["card1"]["GPU use (%)"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 80,
        "{out}"
    );
    assert_eq!(v["card0"]["GPU Memory Allocated (VRAM%)"], "50");
    // The other vendor's tool fails as on a host without its driver.
    let (code, out) = smi("nvidia-smi", Q, &st, Some("amd"));
    assert_eq!(code, 9, "{out}");
    assert!(out.contains("NVIDIA-SMI has failed"));
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }

    // Stopped: the state file is gone, the GPU shows idle.
    s.sigterm();
    assert_eq!(s.wait_exit(Duration::from_secs(3)), Some(0));
    let (_, out) = smi(
        "nvidia-smi",
        &["--query-gpu=utilization.gpu,memory.used", "--format=csv"],
        &st,
        None,
    );
    assert_eq!(out, "utilization.gpu [%], memory.used [MiB]\n0 %, 1 MiB\n");
}
