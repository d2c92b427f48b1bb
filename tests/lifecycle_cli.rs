//! The lifecycle commands through the `vbench` binary with a temporary `vbench.yaml`:
//! `up`, `status --json` (max_model_len, version), `logs server -f` follows new lines,
//! `gpu --json`, `down --remove`.

mod common;
mod lifecycle_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use lifecycle_support as sup;

fn yaml(st: &sup::Stack) -> std::path::PathBuf {
    let c = &st.cfg;
    let text = format!(
        "server:\n  container: {}\n  image: {}\n  model: facebook/opt-125m\n  tensor_parallel_size: 1\n  gpu: none\n  volumes: []\n  env:\n    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\n  startup_timeout: 60s\nclient:\n  container: {}\n  image: {}\n  volumes: []\nnetwork: {}\nresults_dir: {}\n",
        c.server.container,
        c.server.image,
        c.client.container,
        c.client.image,
        c.network,
        st.results.path().display()
    );
    let p = st.results.path().join("vbench.yaml");
    std::fs::write(&p, text).expect("write vbench.yaml");
    p
}

fn vbench(cfg: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(cfg)
        .args(args)
        .env("VBENCH_LABELS", "vbench.test=1")
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run vbench")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_status_logs_follow_gpu_down() {
    let d = common::docker().await;
    sup::images(&d).await;
    let st = sup::stack("cli");
    let cfg = yaml(&st);

    let out = vbench(&cfg, &["--output", "plain", "up"]);
    assert!(
        out.status.success(),
        "up: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ready:"));

    let out = vbench(&cfg, &["status", "--json"]);
    assert!(
        out.status.success(),
        "status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    assert!(
        v["serve"]["max_model_len"].as_u64().is_some_and(|l| l > 0),
        "{v}"
    );
    assert!(
        v["serve"]["version"]
            .as_str()
            .is_some_and(|s| s.contains("standin")),
        "{v}"
    );
    assert_eq!(v["server"]["created_by_vbench"], true);

    // logs -f: a line appended to the serve log appears on stdout.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(&cfg)
        .args(["logs", "server", "-f", "--tail", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn logs -f");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let marker = format!("vbench-follow-marker-{}", std::process::id());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sup::sh(
        &d,
        &st.cfg.server.container,
        &format!("echo {marker} >> /tmp/vbench-serve.log"),
    )
    .await;
    let wait_for = |needle: String| {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200))
                && l.contains(&needle)
            {
                return true;
            }
        }
        false
    };
    let seen = wait_for(marker.clone());
    // A restarted server truncates its log: the follower starts over from the new start.
    let after = format!("{marker}-after-truncation");
    if seen {
        sup::sh(
            &d,
            &st.cfg.server.container,
            &format!(": > /tmp/vbench-serve.log; echo {after} >> /tmp/vbench-serve.log"),
        )
        .await;
    }
    let seen_after = seen && wait_for(after);
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "logs -f did not show the new line");
    assert!(seen_after, "logs -f did not follow the truncated log");

    // gpu: the stand-in server has no GPU tools for a CPU container → a valid (maybe empty) list.
    let out = vbench(&cfg, &["gpu", "--json"]);
    assert!(
        out.status.success(),
        "gpu: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("gpu --json is JSON");
    assert!(v["gpus"].is_array(), "{v}");
    // The stand-in image carries a stand-in nvidia-smi: one GPU, named as a test double.
    assert!(
        v["gpus"][0]["name"]
            .as_str()
            .is_some_and(|n| n.contains("Stand-in")),
        "{v}"
    );

    // gpu --watch: samples keep coming until stopped.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(&cfg)
        .args(["gpu", "--json", "--watch", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gpu --watch");
    let wout = watch.stdout.take().expect("stdout");
    let (wtx, wrx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(wout).lines().map_while(Result::ok) {
            if wtx.send(line).is_err() {
                break;
            }
        }
    });
    let samples = (0..2)
        .filter(|_| {
            wrx.recv_timeout(Duration::from_secs(15))
                .is_ok_and(|l| l.contains("gpu_sample"))
        })
        .count();
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(samples, 2, "gpu --watch printed fewer than 2 samples");

    // `up` brings up the server only; the client comes with the first run.
    let out = vbench(&cfg, &["logs", "client"]);
    assert!(!out.status.success(), "no client container yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    vbench::server::ensure_client(&d, &st.cfg, sup::sink().as_ref())
        .await
        .expect("client");
    let out = vbench(&cfg, &["logs", "client", "--tail", "5"]);
    assert!(
        out.status.success(),
        "logs client: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = vbench(&cfg, &["--output", "plain", "down", "--remove"]);
    assert!(
        out.status.success(),
        "down: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        d.inspect_container(&st.cfg.server.container)
            .await
            .expect("inspect")
            .is_none()
    );
}
