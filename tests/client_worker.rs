//! The REAL vLLM 0.33 benchmark client, in a client container, driven by `vbench run`: once
//! through the persistent worker (vLLM imported once, points as in-process calls) and once as
//! a process per point, against the CPU stand-in server. Both runs must produce results the
//! same client would write: same keys, same requests, same token totals.
//!
//! The client container is a Debian 12 image built locally with debootstrap
//! (`scripts/build-debian-image.sh`, `VBENCH_DEBIAN_IMAGE`), with the cached venv
//! (`scripts/setup-real-client.sh`, `VBENCH_VLLM_VENV`) and its base Python mounted read-only at
//! the same paths, and the tiny tokenizer from `tests/fixtures/real-client`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vbench::events::Collector;
use vbench::sweep::manifest::{self, Manifest, PointStatus};

use common::{Cleanup, unique};

const DEFAULT_VENV: &str = "/var/cache/vbench/vllm-0.33.0-venv";
const DEFAULT_IMAGE: &str = "vbench-test/debian:bookworm";

fn venv() -> PathBuf {
    let venv = std::env::var_os("VBENCH_VLLM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV));
    assert!(
        venv.join("bin/vllm").is_file(),
        "the real vLLM 0.33 client is not installed at {} (VBENCH_VLLM_VENV, default {DEFAULT_VENV}): \
         run scripts/setup-real-client.sh (scripts/test.sh does)",
        venv.display()
    );
    venv
}

/// The venv's base interpreter prefix (its `python3` is a symlink into it): mounted too, so
/// the venv works inside the container unchanged.
fn base_prefix(venv: &Path) -> String {
    let out = Command::new(venv.join("bin/python3"))
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn debian_image() -> String {
    let image = std::env::var("VBENCH_DEBIAN_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.into());
    let ok = Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the Debian client image {image} is missing: run scripts/build-debian-image.sh (scripts/test.sh does)"
    );
    image
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Names {
    srv: String,
    cli: String,
    net: String,
    port: u16,
}

fn config(n: &Names, results: &Path, image: &str, venv: &Path, base: &str) -> PathBuf {
    let fixtures = common::fixture("real-client");
    let venv = venv.display();
    let yaml = format!(
        r#"server:
  container: {srv}
  image: vbench/vllm-standin-server:latest
  model: facebook/opt-125m
  tensor_parallel_size: 1
  gpu: none
  shm_size: null
  volumes: []
  publish_port: {port}
  startup_timeout: 60s
  env:
    VLLM_STANDIN_LOAD_SECONDS: "0.5"
client:
  container: {cli}
  image: {image}
  tokenizer: /fixtures/tiny-tokenizer
  volumes:
    - {venv}:{venv}:ro
    - {base}:{base}:ro
    - {fixtures}:/fixtures:ro
  env:
    PATH: {venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    VLLM_TARGET_DEVICE: cpu
    HF_HUB_OFFLINE: "1"
    TRANSFORMERS_OFFLINE: "1"
    NO_COLOR: "1"
  extra_args: [--save-detailed]
network: {net}
results_dir: {res}
sweeps:
  tt:
    input_lens: [64]
    output_len: 8
    concurrency: [1, 3]
    point_timeout: 180s
run:
  sweeps: [tt]
"#,
        srv = n.srv,
        cli = n.cli,
        net = n.net,
        port = n.port,
        fixtures = fixtures.display(),
        res = results.display(),
    );
    let path = results.join("vbench.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// `vbench run` as a user runs it, with a deadline; returns (exit code, stdout, stderr).
fn run(cfg: &Path, extra: &[&str], within: Duration) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(cfg)
        .args(["--output", "plain", "run"])
        .args(extra)
        .env("VBENCH_LABELS", "vbench.test=1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vbench");
    let deadline = Instant::now() + within;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "vbench run did not finish within {within:?}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn the_run(results: &Path) -> Manifest {
    let id = manifest::find_run(results, None).expect("a run");
    Manifest::load(&manifest::runs_dir(results).join(id)).expect("manifest")
}

/// Each point's host copy of its result file, by concurrency.
fn results_by_level(results: &Path, m: &Manifest) -> Vec<(u64, serde_json::Value)> {
    let mut v: Vec<(u64, serde_json::Value)> = m
        .points
        .iter()
        .map(|p| {
            assert_eq!(p.status, PointStatus::Ok, "{p:?}");
            let rel = p.result_file.as_deref().expect("result file");
            let text = std::fs::read_to_string(results.join(rel)).expect("host result");
            (
                p.point.concurrency,
                serde_json::from_str(&text).expect("json"),
            )
        })
        .collect();
    v.sort_by_key(|(c, _)| *c);
    v
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| !k.starts_with("vbench_"))
        .cloned()
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_and_process_runs_of_the_real_client_agree() {
    let venv = venv();
    let base = base_prefix(&venv);
    let image = debian_image();
    {
        let d = common::docker().await;
        vbench::standin::ensure_images(&d, "latest", &Collector::default())
            .await
            .expect("stand-in images");
    }
    let n = Names {
        srv: unique("cw-srv"),
        cli: unique("cw-cli"),
        net: unique("cw-net"),
        port: free_port(),
    };
    let cleanup = Cleanup::new();
    cleanup.container(&n.srv);
    cleanup.container(&n.cli);
    cleanup.network(&n.net);

    // Worker (the default for a client with vLLM installed): vLLM is imported once.
    let dir_w = tempfile::tempdir().expect("tempdir");
    let cfg_w = config(&n, dir_w.path(), &image, &venv, &base);
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(&cfg_w, &["--client-mode", "auto"], Duration::from_secs(300))
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}\n{err}");
    let mw = the_run(dir_w.path());
    let mode = mw.client_mode.clone().unwrap_or_default();
    assert!(
        mode.starts_with("worker (vllm=0.33.0"),
        "expected the worker, got {mode:?}\n{out}\n{err}"
    );
    assert_eq!(mw.count(PointStatus::Ok), 2, "{out}\n{err}");

    // The same sweep with a process per point, against the same (reused) server.
    let dir_p = tempfile::tempdir().expect("tempdir");
    let cfg_p = config(&n, dir_p.path(), &image, &venv, &base);
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(
            &cfg_p,
            &["--client-mode", "process"],
            Duration::from_secs(300),
        )
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}\n{err}");
    let mp = the_run(dir_p.path());
    assert_eq!(mp.client_mode.as_deref(), Some("process"), "{out}\n{err}");

    let rw = results_by_level(dir_w.path(), &mw);
    let rp = results_by_level(dir_p.path(), &mp);
    assert_eq!(rw.len(), 2);
    assert_eq!(rp.len(), 2);
    for ((cw, w), (cp, p)) in rw.iter().zip(&rp) {
        assert_eq!(cw, cp);
        // The real client wrote both: the same schema, down to the detailed per-request keys.
        assert_eq!(keys(w), keys(p), "keys differ at concurrency {cw}");
        assert!(
            w.get("input_lens").is_some(),
            "--save-detailed reached the client"
        );
        for k in [
            "completed",
            "failed",
            "total_input_tokens",
            "total_output_tokens",
            "num_prompts",
            "max_concurrency",
            "input_lens",
            "output_lens",
        ] {
            assert_eq!(w.get(k), p.get(k), "{k} differs at concurrency {cw}");
        }
        assert_eq!(w["completed"], w["num_prompts"], "every request completed");
        assert_eq!(w["max_concurrency"].as_u64(), Some(*cw));
        // The stand-in generates exactly max_tokens: 8 per request.
        let n = w["completed"].as_u64().unwrap();
        assert_eq!(w["total_output_tokens"].as_u64(), Some(8 * n));
    }
}
