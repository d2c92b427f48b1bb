//! GPU count and selection: the stand-in host has `VLLM_STANDIN_GPUS` GPUs; the monitors list
//! the container's (`NVIDIA_VISIBLE_DEVICES` / `AMD_VISIBLE_DEVICES`) renumbered 0..k−1 with
//! each physical GPU's UUID and bus id, and ignore the process-level variables as the real
//! tools do; `vllm serve` runs on the first tp × pp GPUs its process sees
//! (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`, `HIP_VISIBLE_DEVICES`) and fails like vLLM
//! when there are fewer.

mod serve_support;

use std::time::Duration;

use serde_json::{Value, json};
use serve_support::*;

const Q: &[&str] = &[
    "--query-gpu=index,uuid,pci.bus_id,count,memory.used,utilization.gpu",
    "--format=csv,noheader,nounits",
];

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(", ").map(str::to_string).collect())
        .collect()
}

fn no_server() -> String {
    std::env::temp_dir()
        .join(format!("vbt-no-standin-server-{}.json", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn monitors_list_the_containers_gpus_with_physical_identities() {
    let st = no_server();
    let (code, all, _) = smi_env("nvidia-smi", Q, &st, &[("VLLM_STANDIN_GPUS", "8")]);
    assert_eq!(code, 0);
    let all = rows(&all);
    assert_eq!(all.len(), 8);

    let sel = [
        ("VLLM_STANDIN_GPUS", "8"),
        ("NVIDIA_VISIBLE_DEVICES", "6,1,4"),
    ];
    let (code, out, err) = smi_env("nvidia-smi", Q, &st, &sel);
    assert_eq!(code, 0, "{err}");
    let r = rows(&out);
    assert_eq!(r.len(), 3, "{out}");
    for (i, phys) in [1usize, 4, 6].iter().enumerate() {
        assert_eq!(r[i][0], i.to_string(), "renumbered inside the container");
        assert_eq!(r[i][1], all[*phys][1], "UUID of physical GPU {phys}");
        assert_eq!(r[i][2], all[*phys][2], "bus id of physical GPU {phys}");
        assert_eq!(r[i][3], "3", "count");
    }
    // -L agrees; -i addresses the container's indices.
    let (_, l, _) = smi_env("nvidia-smi", &["-L"], &st, &sel);
    assert_eq!(
        l.lines().nth(2).unwrap(),
        format!(
            "GPU 2: Stand-in GPU (CPU test double) (UUID: {})",
            all[6][1]
        )
    );
    let (_, one, _) = smi_env("nvidia-smi", &[Q[0], Q[1], "-i", "1"], &st, &sel);
    assert_eq!(rows(&one), vec![r[1].clone()]);
    // A UUID names a GPU as well as its index does.
    let (_, by_uuid, _) = smi_env(
        "nvidia-smi",
        Q,
        &st,
        &[
            ("VLLM_STANDIN_GPUS", "8"),
            ("NVIDIA_VISIBLE_DEVICES", &all[5][1]),
        ],
    );
    assert_eq!(rows(&by_uuid)[0][2], all[5][2]);

    // Real nvidia-smi ignores CUDA_VISIBLE_DEVICES: still the container's three GPUs.
    let mut with_cuda = sel.to_vec();
    with_cuda.push(("CUDA_VISIBLE_DEVICES", "0"));
    let (_, out, _) = smi_env("nvidia-smi", Q, &st, &with_cuda);
    assert_eq!(rows(&out).len(), 3);

    let (code, out, _) = smi_env(
        "nvidia-smi",
        Q,
        &st,
        &[
            ("VLLM_STANDIN_GPUS", "8"),
            ("NVIDIA_VISIBLE_DEVICES", "none"),
        ],
    );
    assert_eq!((code, out.as_str()), (6, "No devices were found\n"));
    for bad in [
        [
            ("VLLM_STANDIN_GPUS", "8"),
            ("NVIDIA_VISIBLE_DEVICES", "0,8"),
        ],
        [
            ("VLLM_STANDIN_GPUS", "0"),
            ("NVIDIA_VISIBLE_DEVICES", "all"),
        ],
        [
            ("VLLM_STANDIN_GPUS", "two"),
            ("NVIDIA_VISIBLE_DEVICES", "all"),
        ],
    ] {
        let (code, _, err) = smi_env("nvidia-smi", Q, &st, &bad);
        assert_eq!(code, 2, "{bad:?}");
        assert!(err.contains("invalid knob"), "{bad:?}: {err}");
    }

    // AMD: the container's GPUs come from AMD_VISIBLE_DEVICES; ROCR/HIP do not filter rocm-smi.
    let amd = [
        ("VLLM_STANDIN_GPU", "amd"),
        ("VLLM_STANDIN_GPUS", "4"),
        ("AMD_VISIBLE_DEVICES", "0,3"),
        ("ROCR_VISIBLE_DEVICES", "1"),
    ];
    let args = ["--showbus", "--showuniqueid", "--json"];
    let (code, out, err) = smi_env("rocm-smi", &args, &st, &amd);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let cards = v.as_object().unwrap();
    assert_eq!(cards.len(), 2, "{out}");
    assert_eq!(v["card0"]["PCI Bus"], "0000:18:00.0");
    assert_eq!(v["card1"]["PCI Bus"], "0000:1B:00.0", "physical GPU 3");
    assert_ne!(v["card0"]["Unique ID"], v["card1"]["Unique ID"]);
}

#[tokio::test]
async fn the_server_runs_on_the_gpus_its_process_sees() {
    // Host of 8, container gets 2,3,5,7; the process sees (container) 3 then 1 → physical 7, 3.
    let env = [
        ("VLLM_STANDIN_GPUS", "8"),
        ("NVIDIA_VISIBLE_DEVICES", "2,3,5,7"),
        ("CUDA_VISIBLE_DEVICES", "3,1"),
        ("VLLM_STANDIN_TPOT_MS", "10"),
    ];
    let s = Server::start(&["m", "-tp", "2", "--gpu-memory-utilization", "0.5"], &env).await;
    let monitor_env = &env[..2];
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, out, err) = smi_env("nvidia-smi", Q, &s.state_path, monitor_env);
    assert_eq!(code, 0, "{err}");
    let r = rows(&out);
    assert_eq!(r.len(), 4, "the monitor lists the container's GPUs: {out}");
    let mem: Vec<&str> = r.iter().map(|row| row[4].as_str()).collect();
    assert_eq!(
        mem,
        ["1", "40780", "1", "40780"],
        "held on physical 3 and 7"
    );

    let url = s.url("/v1/completions");
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                post(
                    &url,
                    &json!({"prompt": "a b", "max_tokens": 60, "ignore_eos": true}),
                )
                .await
                .status()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, out, _) = smi_env("nvidia-smi", Q, &s.state_path, monitor_env);
    let util: Vec<u32> = rows(&out).iter().map(|r| r[5].parse().unwrap()).collect();
    assert!(
        util[0] == 0 && util[2] == 0 && util[1] >= 80 && util[3] >= 80,
        "only the server's GPUs are busy: {out}"
    );
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn amd_process_variables_pick_the_servers_gpu() {
    // ROCR keeps physical 1,2,3; HIP's index 2 of those is physical 3.
    let env = [
        ("VLLM_STANDIN_GPU", "amd"),
        ("VLLM_STANDIN_GPUS", "4"),
        ("ROCR_VISIBLE_DEVICES", "1,2,3"),
        ("HIP_VISIBLE_DEVICES", "2"),
    ];
    let s = Server::start(&["m"], &env).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, out, err) = smi_env(
        "rocm-smi",
        &["--showmemuse", "--json"],
        &s.state_path,
        &env[..2],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let held: Vec<&str> = (0..4)
        .map(|i| {
            v[format!("card{i}")]["GPU Memory Allocated (VRAM%)"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(held, ["0", "0", "0", "89"], "{out}");
}

#[tokio::test]
async fn too_few_visible_gpus_fail_like_vllm() {
    /// (serve arguments, environment, expected signature)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            &["m", "-tp", "4"],
            &[
                ("VLLM_STANDIN_GPUS", "8"),
                ("NVIDIA_VISIBLE_DEVICES", "0,1"),
            ],
            "Value error, World size (4) is larger than the number of available GPUs (2) in this node.",
        ),
        (
            &["m", "-tp", "2", "-pp", "2"],
            &[
                ("VLLM_STANDIN_GPUS", "8"),
                ("CUDA_VISIBLE_DEVICES", "0,1,2"),
            ],
            "Value error, World size (4) is larger than the number of available GPUs (3) in this node.",
        ),
        (
            &["m", "-tp", "2"],
            &[("VLLM_STANDIN_GPUS", "1")],
            "World size (2) is larger than the number of available GPUs (1) in this node.",
        ),
        (
            &["m"],
            &[("CUDA_VISIBLE_DEVICES", "")],
            "RuntimeError: Failed to infer device type",
        ),
    ];
    for (args, env, sig) in cases {
        let mut all = vec!["--host", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(args);
        let mut s = spawn(&all, env);
        assert_eq!(
            s.wait_exit(Duration::from_secs(10)),
            Some(1),
            "{args:?} {env:?}: {}",
            s.output()
        );
        let out = s.output();
        assert!(
            out.contains(sig),
            "{args:?} {env:?}: want {sig:?} in\n{out}"
        );
        assert!(
            !out.contains("Application startup complete."),
            "fails before the engine: {out}"
        );
    }
    // Without VLLM_STANDIN_GPUS the host has just enough GPUs for tp × pp.
    let s = Server::start(&["m", "-tp", "2", "-pp", "2"], &[]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, out, _) = smi_env("nvidia-smi", Q, &s.state_path, &[]);
    assert_eq!(rows(&out).len(), 4, "{out}");
    // An impossible selection is an invalid knob, before anything starts.
    let mut s = spawn(
        &["m", "--port", "0"],
        &[("VLLM_STANDIN_GPUS", "2"), ("NVIDIA_VISIBLE_DEVICES", "5")],
    );
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(2));
    assert!(
        s.output()
            .contains("invalid knob NVIDIA_VISIBLE_DEVICES=\"5\": unknown device"),
        "{}",
        s.output()
    );
}
