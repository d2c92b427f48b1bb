//! The CPU stand-in images on the real Docker Engine: both build FROM scratch with the
//! documented layout and labels, `ensure_images` skips an unchanged build, and a client
//! container reaches a `vllm serve` exec'd into the server container by its container name
//! (busybox `wget`, then a full `vllm bench serve` run whose result file is checked).
//! Everything a test creates is labelled `vbench.test=1` and removed even on failure.

mod common;

use std::time::{Duration, Instant};

use common::*;
use vbench::docker::{ContainerSpec, ExecSpec};
use vbench::events::{Collector, Event};
use vbench::standin::{self, DESCRIPTION, LABEL_STANDIN};

async fn sh(
    d: &vbench::docker::Docker,
    container: &str,
    script: &str,
    deadline: Duration,
) -> (Option<i64>, String, String) {
    let mut spec = ExecSpec::argv(["sh", "-c", script]);
    spec.deadline = Some(deadline);
    let (out, stdout, stderr) = d
        .exec_capture(container, &spec)
        .await
        .unwrap_or_else(|e| panic!("exec {script:?} in {container}: {e}"));
    (out.exit_code, stdout, stderr)
}

#[tokio::test]
async fn images_build_and_a_client_benchmarks_the_server_by_container_name() {
    let d = docker().await.with_labels(test_labels());
    let cleanup = Cleanup::new();
    let tag = unique("img");
    let refs = standin::StandinImages::for_tag(&tag);
    cleanup.image(&refs.server);
    cleanup.image(&refs.client);

    // Build: the library finds the stand-in binary itself (VBENCH_STANDIN_BIN, else the
    // source tree's scripts/build-standin.sh) and busybox (VBENCH_BUSYBOX or /bin/busybox).
    let t = Instant::now();
    let sink = Collector::default();
    let built = standin::build_images(&d, &tag, &sink)
        .await
        .expect("build the stand-in images");
    let build_time = t.elapsed();
    assert_eq!(built, refs);
    eprintln!("built both images in {build_time:?}");
    for r in [&refs.server, &refs.client] {
        let img = d
            .inspect_image(r)
            .await
            .expect("inspect")
            .unwrap_or_else(|| panic!("{r} missing after build"));
        assert_eq!(
            img.labels.get(LABEL_STANDIN).map(String::as_str),
            Some("1"),
            "{r}: {:?}",
            img.labels
        );
        assert_eq!(
            img.labels
                .get("org.opencontainers.image.description")
                .map(String::as_str),
            Some(DESCRIPTION)
        );
        assert_eq!(
            img.labels.get("vbench.test").map(String::as_str),
            Some("1"),
            "test labels reach the image"
        );
        assert!(img.size > 1_000_000, "{r}: size {}", img.size);
    }
    let finished = |c: &Collector| {
        c.0.lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::StageFinished { .. }))
            .count()
    };
    assert_eq!(finished(&sink), 2, "two builds reported");

    // Unchanged content: ensure_images builds nothing.
    let again = Collector::default();
    assert_eq!(
        standin::ensure_images(&d, &tag, &again)
            .await
            .expect("ensure"),
        refs
    );
    assert_eq!(
        finished(&again),
        0,
        "ensure_images rebuilt unchanged images"
    );

    // A user network, a server and a client container (the images' own keep-alive CMD).
    let net = unique("img-net");
    cleanup.network(&net);
    d.ensure_network(&net, &test_labels())
        .await
        .expect("create network");
    let server = unique("img-srv");
    let client = unique("img-cli");
    cleanup.container(&server);
    cleanup.container(&client);
    for (name, image) in [(&server, &refs.server), (&client, &refs.client)] {
        let spec = ContainerSpec {
            name: name.clone(),
            image: image.clone(),
            network: Some(net.clone()),
            // The server also answers to the name users type (`vllm-server`); the network is
            // this test's own, so the alias cannot clash with anything else.
            aliases: if name == &server {
                vec!["vllm-server".to_string()]
            } else {
                vec![]
            },
            labels: test_labels(),
            ..Default::default()
        };
        d.ensure_container(&spec)
            .await
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
    }

    // Layout inside the image.
    let (code, out, err) = sh(&d, &client, "ls -ld /tmp /root/bench_results /root/.cache/huggingface && for f in nvidia-smi rocm-smi sh; do readlink /bin/$f; done && echo PATH=$PATH", Duration::from_secs(30)).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("drwxrwxrwt") && out.contains("drwxrwxrwx"),
        "{out}"
    );
    assert!(out.contains("vllm\nvllm\nbusybox\nPATH=/bin"), "{out}");

    // `vllm serve` exec'd into the server container, like the manual workflow.
    let mut serve = ExecSpec::argv([
        "sh",
        "-c",
        "VLLM_STANDIN_LOAD_SECONDS=0.5 vllm serve facebook/opt-125m --port 8000 --max-model-len 2048 > /tmp/serve.log 2>&1",
    ]);
    serve.deadline = Some(Duration::from_secs(30));
    d.exec_detached(&server, &serve)
        .await
        .expect("start vllm serve in the server container");

    // The client reaches it by container name.
    let wait = format!(
        "timeout 30 sh -c 'until wget -q -O /dev/null http://{server}:8000/health; do sleep 0.2; done' && wget -qO- http://{server}:8000/v1/models"
    );
    let (code, out, err) = sh(&d, &client, &wait, Duration::from_secs(40)).await;
    let (_, log, _) = sh(&d, &server, "cat /tmp/serve.log", Duration::from_secs(10)).await;
    assert_eq!(
        code,
        Some(0),
        "client could not reach the server by name: {out}{err}\nserver log:\n{log}"
    );
    let models: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("/v1/models body {out:?}: {e}"));
    assert_eq!(models["data"][0]["id"], "facebook/opt-125m");
    assert_eq!(models["data"][0]["max_model_len"], 2048);
    assert!(
        log.contains("CPU stand-in for vLLM") && log.contains("Application startup complete."),
        "{log}"
    );

    // A full benchmark from the client container, with the flags of the real client's
    // recorded run (fixtures/vllm-0.33/real_client_random.json), result file checked.
    let bench = "vllm bench serve --backend vllm --base-url http://vllm-server:8000 --model facebook/opt-125m \
         --dataset-name random --random-input-len 32 --random-output-len 8 --num-prompts 8 --max-concurrency 4 \
         --save-result --result-dir /root/bench_results --result-filename r.json --disable-tqdm \
         && cat /root/bench_results/r.json";
    let (code, out, err) = sh(&d, &client, bench, Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "vllm bench serve failed:\n{out}\n{err}");
    let json_start = out.rfind("\n{").map(|i| i + 1).unwrap_or(0);
    let result: serde_json::Value = serde_json::from_str(out[json_start..].trim())
        .unwrap_or_else(|e| panic!("result file: {e}\n{out}"));
    assert_eq!(result["completed"], 8, "{result}");
    assert_eq!(result["failed"], 0);
    assert_eq!(result["total_output_tokens"], 64);
    // Same keys, in the same order, as the file real vLLM 0.33 wrote for these flags.
    let real: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("vllm-0.33/real_client_random.json")).expect("read fixture"),
    )
    .expect("fixture parses");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    assert_eq!(
        keys(&result),
        keys(&real),
        "key set/order differs from real vLLM's"
    );

    // The monitor in the server container sees the server up (memory reserved).
    let (code, out, _) = sh(
        &d,
        &server,
        "nvidia-smi --query-gpu=name,memory.used --format=csv,noheader,nounits",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), "Stand-in GPU (CPU test double), 73403", "{out}");

    // The keep-alive CMD stops promptly on SIGTERM.
    let t = Instant::now();
    d.stop_container(&client, Duration::from_secs(10))
        .await
        .expect("stop client");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t.elapsed()
    );
}
