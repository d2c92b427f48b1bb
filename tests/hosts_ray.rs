//! A multi-node server (`server.nodes`) end to end on two Docker Engines of this machine
//! (`hosts_support::SecondEngine`) with the CPU stand-in: a Ray head on the main engine, a
//! worker on the second, each in a host-network server container with one stand-in GPU;
//! `vllm serve` with tensor 1 × pipeline 2 across them serves the demo sweep, and `down
//! --remove` leaves nothing on either engine. A worker that never joins fails the start
//! within `nodes_timeout`, naming the node. The binary runs as a child process; everything is
//! labelled `vbench.test` and removed even when an assert fails (the second engine with all
//! it holds). Host networking shares this machine's ports, so the server and Ray ports are
//! free ones picked per test.

mod common;
mod hosts_support;
mod matrix_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cleanup, unique};
use hosts_support::SecondEngine;
use matrix_support::run;
use vbench::docker::{Docker, ExecSpec};
use vbench::standin::StandinImages;

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The main engine's address, as the hosts list names it.
fn main_docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
}

/// Two engines, a two-node configuration and what removes its containers from the main one.
struct Cluster {
    engine: SecondEngine,
    results: tempfile::TempDir,
    cfg: PathBuf,
    srv: String,
    cli: String,
    _cleanup: Cleanup,
}

impl Cluster {
    async fn new(prefix: &str, extra_env: &str, nodes_timeout: &str) -> Cluster {
        // The images of `VBENCH_STANDIN_TAG` (else `latest`), which the vbench children use too.
        let tag = vbench::standin::tag();
        vbench::standin::ensure_images(
            &common::docker().await,
            &tag,
            &vbench::events::Collector::default(),
        )
        .await
        .expect("stand-in images");
        let engine = SecondEngine::start().await;
        let im = StandinImages::for_tag(&tag);
        engine.copy_images(&[&im.server, &im.client]).await;
        let results = tempfile::tempdir().expect("tempdir");
        let (srv, cli, net) = (
            unique(&format!("{prefix}-srv")),
            unique(&format!("{prefix}-cli")),
            unique(&format!("{prefix}-net")),
        );
        let cleanup = Cleanup::new();
        cleanup.container(&srv);
        cleanup.container(&cli);
        cleanup.network(&net);
        let yaml = format!(
            "server:
  container: {srv}
  port: {port}
  startup_timeout: 60s
  tensor_parallel_size: 1
  pipeline_parallel_size: 2
  nodes: [head, worker]
  ray_port: {ray_port}
  nodes_timeout: {nodes_timeout}
  env:
    VLLM_STANDIN_LOAD_SECONDS: \"0.2\"
    VLLM_STANDIN_GPUS: \"1\"
{extra_env}client:
  container: {cli}
network: {net}
results_dir: {res}
hosts:
  - name: head
    docker_host: {main}
  - name: worker
    docker_host: {second}
",
            port = free_port(),
            ray_port = free_port(),
            res = results.path().display(),
            main = main_docker_host(),
            second = engine.docker_host,
        );
        let cfg = results.path().join("vbench.yaml");
        std::fs::write(&cfg, yaml).expect("write config");
        Cluster {
            engine,
            results,
            cfg,
            srv,
            cli,
            _cleanup: cleanup,
        }
    }

    fn results(&self) -> &Path {
        self.results.path()
    }
}

async fn capture(d: &Docker, container: &str, argv: &[&str]) -> (Option<i64>, String) {
    let spec = ExecSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (o, out, err) = d.exec_capture(container, &spec).await.expect("exec");
    (o.exit_code, format!("{out}{err}"))
}

fn json_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_serve_the_demo_sweep_with_pipeline_parallelism_across_the_engines() {
    let c = Cluster::new("ray-two", "", "60s").await;
    let (st, out, err) = run(&c.cfg, &["--json", "demo"], Duration::from_secs(300)).await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    // The demo sweep's six points, each a result file.
    assert_eq!(json_files(&c.results().join("demo")), 6, "{out}");

    let main = common::docker().await;
    let second = c.engine.docker().await;
    // A server container on each engine, on the host network.
    for (d, name) in [(&main, "main"), (&second, "second")] {
        let s = d
            .inspect_container(&c.srv)
            .await
            .expect("inspect")
            .unwrap_or_else(|| panic!("no server container on the {name} engine"));
        assert!(s.running, "{name}: {s:?}");
        assert_eq!(s.networks, ["host"], "{name}");
    }
    // The head's Ray lists both nodes by host name, one stand-in GPU each, both held by the
    // server's placement group (tensor 1 × pipeline 2).
    let (code, list) = capture(&main, &c.srv, &["ray", "list", "nodes", "--format", "json"]).await;
    assert_eq!(code, Some(0), "{list}");
    let nodes: serde_json::Value = serde_json::from_str(&list).expect(&list);
    let nodes = nodes.as_array().expect("a list");
    let names: Vec<&str> = nodes
        .iter()
        .map(|n| n["node_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["head", "worker"], "{list}");
    assert!(
        nodes
            .iter()
            .all(|n| n["state"] == "ALIVE" && n["resources_total"]["GPU"] == 1.0),
        "{list}"
    );
    let (_, status) = capture(&main, &c.srv, &["ray", "status"]).await;
    assert!(status.lines().any(|l| l == " 2.0/2.0 GPU"), "{status}");
    // The worker's Ray process runs on the second engine.
    let (_, ray_log) = capture(&second, &c.srv, &["cat", "/tmp/vbench-ray.log"]).await;
    assert!(ray_log.contains("Ray runtime started."), "{ray_log}");
    // vllm serve ran on the head with Ray and both parallel sizes.
    let (_, args) = capture(&main, &c.srv, &["cat", "/tmp/vbench-serve.args"]).await;
    let args: Vec<String> = serde_json::from_str(&args).expect(&args);
    let joined = args.join(" ");
    for want in [
        "--tensor-parallel-size 1",
        "--pipeline-parallel-size 2",
        "--distributed-executor-backend ray",
    ] {
        assert!(joined.contains(want), "{joined}");
    }
    let (_, log) = capture(&main, &c.srv, &["cat", "/tmp/vbench-serve.log"]).await;
    assert!(log.contains("Connecting to existing Ray cluster"), "{log}");
    assert!(!log.contains("exceeds the total number"), "{log}");
    // The client ran on the head's host, on the host network.
    let client = main
        .inspect_container(&c.cli)
        .await
        .expect("inspect")
        .expect("the client container on the head's engine");
    assert_eq!(client.networks, ["host"]);
    assert!(
        second
            .inspect_container(&c.cli)
            .await
            .expect("inspect")
            .is_none(),
        "a client container on the worker's engine"
    );

    let (st, out, err) = run(&c.cfg, &["down", "--remove"], Duration::from_secs(180)).await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    for (d, name) in [(&main, "main"), (&second, "second")] {
        for container in [&c.srv, &c.cli] {
            assert!(
                d.inspect_container(container)
                    .await
                    .expect("inspect")
                    .is_none(),
                "{container} left on the {name} engine"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_never_joins_fails_the_start_naming_the_node() {
    // Only `ray start --address` reads the knob: the head starts, the worker never registers.
    let c = Cluster::new(
        "ray-never",
        "    VLLM_STANDIN_RAY_NEVER_JOIN: \"1\"\n",
        "4s",
    )
    .await;
    let (st, out, err) = run(&c.cfg, &["up", "--standin"], Duration::from_secs(180)).await;
    assert_eq!(st.code(), Some(17), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("Ray node worker never joined the head on head within server.nodes_timeout (4s): 1 of 2 nodes"),
        "{err}"
    );
    // The worker's own Ray log comes with it.
    assert!(err.contains("VLLM_STANDIN_RAY_NEVER_JOIN"), "{err}");
    // No server was started on the head.
    let main = common::docker().await;
    let (_, pid) = capture(
        &main,
        &c.srv,
        &[
            "sh",
            "-c",
            "cat /tmp/vbench-serve.pid 2>/dev/null || echo none",
        ],
    )
    .await;
    assert_eq!(pid.trim(), "none");

    let (st, out, err) = run(&c.cfg, &["down", "--remove"], Duration::from_secs(180)).await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let second = c.engine.docker().await;
    for d in [&main, &second] {
        assert!(
            d.inspect_container(&c.srv)
                .await
                .expect("inspect")
                .is_none()
        );
    }
}
