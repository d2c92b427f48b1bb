//! The stand-in's Ray: `ray start --head` / `--address` form a cluster of stand-in GPUs that
//! `ray status` and `ray list nodes` show in Ray's shape; a worker that dies leaves it; the
//! never-join knob makes a worker that starts but never registers; `vllm serve
//! --distributed-executor-backend ray` gets its tp × pp GPUs from the cluster, waits for
//! late nodes and fails with vLLM's placement-group error when the cluster stays too small.
//! Every process is our own child (killed on drop); every wait has a deadline; each test has
//! its own `RAY_TMPDIR`, so nothing touches the machine's `/tmp/ray`.

mod serve_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serve_support::{BIN, GPU_VARS, Server, spawn};

/// A private Ray directory, removed on drop.
struct RayDir(std::path::PathBuf);

impl RayDir {
    fn new(tag: &str) -> RayDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "vbt-ray-standin-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        RayDir(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for RayDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `ray start … --block` node, its output captured.
struct RayNode {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl RayNode {
    fn start(dir: &RayDir, args: &[&str], env: &[(&str, &str)]) -> RayNode {
        let mut cmd = Command::new(BIN);
        cmd.args(["ray", "start", "--block"])
            .args(args)
            .env("RAY_TMPDIR", dir.path())
            .env_remove("RAY_ADDRESS")
            .env_remove("VLLM_STANDIN_RAY_NEVER_JOIN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for v in GPU_VARS {
            cmd.env_remove(v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ray start");
        let out = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(l);
                }
            });
        }
        RayNode { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.out.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line containing {needle:?} within {within:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A head on a free port: returns the node and `127.0.0.1:PORT`.
    fn head(dir: &RayDir, gpus: &str) -> (RayNode, String) {
        let head = RayNode::start(
            dir,
            &[
                "--head",
                "--port",
                "0",
                "--node-ip-address",
                "127.0.0.1",
                "--node-name",
                "alpha",
            ],
            &[("VLLM_STANDIN_GPUS", gpus)],
        );
        let line = head.wait_for_line("ray start --address=", Duration::from_secs(20));
        let addr = line
            .split('\'')
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        (head, addr)
    }

    fn worker(dir: &RayDir, addr: &str, name: &str, env: &[(&str, &str)]) -> RayNode {
        RayNode::start(
            dir,
            &[
                "--address",
                addr,
                "--node-ip-address",
                "127.0.0.1",
                "--node-name",
                name,
            ],
            env,
        )
    }
}

impl Drop for RayNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `ray ARGS` against the cluster at `addr`; (exit code, stdout, stderr).
fn ray(dir: &RayDir, addr: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("ray").args(args).env("RAY_TMPDIR", dir.path());
    match addr {
        Some(a) => cmd.env("RAY_ADDRESS", a),
        None => cmd.env_remove("RAY_ADDRESS"),
    };
    let out = cmd.output().expect("run ray");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Node lines under `Active:` in `ray status`.
fn active_nodes(status: &str) -> Vec<String> {
    status
        .lines()
        .skip_while(|l| *l != "Active:")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .map(|l| l.trim().to_string())
        .collect()
}

/// `ray status` once the cluster has `n` active nodes (deadline 20 s).
fn status_with(dir: &RayDir, addr: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out, err) = ray(dir, Some(addr), &["status"]);
        if code == 0 && active_nodes(&out).len() == n {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "ray status never showed {n} nodes; last (exit {code}):\n{out}{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn head_and_worker_form_a_cluster_that_ray_status_lists() {
    let dir = RayDir::new("status");
    let (head, addr) = RayNode::head(&dir, "1");
    head.wait_for_line("Ray runtime started.", Duration::from_secs(5));
    assert!(head.output().contains("--block"));
    let worker = RayNode::worker(
        &dir,
        &addr,
        "beta",
        &[("VLLM_STANDIN_GPUS", "4"), ("CUDA_VISIBLE_DEVICES", "1,3")],
    );
    worker.wait_for_line("Ray runtime started.", Duration::from_secs(20));

    let status = status_with(&dir, &addr, 2);
    assert!(
        status.starts_with("======== Autoscaler status: "),
        "{status}"
    );
    for section in [
        "Node status",
        "Active:",
        "Pending:",
        "Recent failures:",
        " (no failures)",
        "Resources",
        "Total Usage:",
    ] {
        assert!(
            status.lines().any(|l| l == section),
            "{section:?} missing:\n{status}"
        );
    }
    for l in active_nodes(&status) {
        let id = l.strip_prefix("1 node_").unwrap_or_else(|| panic!("{l:?}"));
        assert_eq!(id.len(), 56, "{l}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{l}");
    }
    // 1 GPU on the head, 2 of the worker's 4 (CUDA_VISIBLE_DEVICES narrows what Ray sees).
    assert!(status.lines().any(|l| l == " 0.0/3.0 GPU"), "{status}");

    let (code, verbose, _) = ray(&dir, Some(&addr), &["status", "-v"]);
    assert_eq!(code, 0);
    let per_node: Vec<&str> = verbose
        .lines()
        .filter(|l| l.starts_with("  ") && l.ends_with(" GPU"))
        .collect();
    assert_eq!(per_node, ["  0.0/1.0 GPU", "  0.0/2.0 GPU"], "{verbose}");

    let (code, json, err) = ray(&dir, Some(&addr), &["list", "nodes", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let nodes: serde_json::Value = serde_json::from_str(&json).unwrap();
    let nodes = nodes.as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["node_name"], "alpha");
    assert_eq!(nodes[0]["is_head_node"], true);
    assert_eq!(nodes[0]["resources_total"]["GPU"], 1.0);
    assert_eq!(nodes[1]["node_name"], "beta");
    assert_eq!(nodes[1]["state"], "ALIVE");
    assert_eq!(nodes[1]["node_ip"], "127.0.0.1");
    assert_eq!(nodes[1]["resources_total"]["GPU"], 2.0);

    // `ray status` finds the cluster through the address file `ray start` wrote.
    let (code, out, err) = ray(&dir, None, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(active_nodes(&out).len(), 2, "{out}");

    // A worker that goes away leaves the cluster.
    drop(worker);
    let status = status_with(&dir, &addr, 1);
    assert!(
        status.contains(": NodeTerminated (ip: 127.0.0.1)"),
        "{status}"
    );
    assert!(status.lines().any(|l| l == " 0.0/1.0 GPU"), "{status}");
    drop(head);
}

#[test]
fn no_cluster_is_ray_s_connection_error() {
    let dir = RayDir::new("none");
    let (code, _, err) = ray(&dir, None, &["status"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("ConnectionError: Could not find any running Ray instance."),
        "{err}"
    );
}

#[test]
fn a_worker_with_the_never_join_knob_starts_but_never_registers() {
    let dir = RayDir::new("never");
    let (_head, addr) = RayNode::head(&dir, "1");
    let worker = RayNode::worker(&dir, &addr, "beta", &[("VLLM_STANDIN_RAY_NEVER_JOIN", "1")]);
    // The worker says it started; the knob's line comes after the point where a joining
    // worker has registered already, so the registry is final here.
    worker.wait_for_line("Ray runtime started.", Duration::from_secs(20));
    worker.wait_for_line("VLLM_STANDIN_RAY_NEVER_JOIN", Duration::from_secs(5));
    let (code, out, _) = ray(&dir, Some(&addr), &["status"]);
    assert_eq!(code, 0);
    assert_eq!(active_nodes(&out).len(), 1, "only the head:\n{out}");
    let (_, json, _) = ray(&dir, Some(&addr), &["list", "nodes", "--format", "json"]);
    assert!(!json.contains("\"beta\""), "{json}");
    assert!(worker.child.id() > 0);
}

fn serve_env<'a>(dir: &'a RayDir, addr: &'a str, wait: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("RAY_TMPDIR", dir.path()),
        ("RAY_ADDRESS", addr),
        ("VLLM_STANDIN_GPUS", "1"),
        ("VLLM_STANDIN_PG_WAIT_SECONDS", wait),
    ]
}

const RAY_PP2: &[&str] = &[
    "--distributed-executor-backend",
    "ray",
    "--tensor-parallel-size",
    "1",
    "--pipeline-parallel-size",
    "2",
];

#[tokio::test]
async fn serve_with_ray_uses_the_clusters_gpus_and_holds_them() {
    let dir = RayDir::new("serve");
    let (_head, addr) = RayNode::head(&dir, "1");
    let _worker = RayNode::worker(&dir, &addr, "beta", &[("VLLM_STANDIN_GPUS", "1")]);
    status_with(&dir, &addr, 2);
    // The server's own process sees one GPU: tp 1 × pp 2 fits only across the two nodes.
    let server = Server::start(RAY_PP2, &serve_env(&dir, &addr, "30")).await;
    let out = server.output();
    assert!(
        out.contains(&format!(
            "Connecting to existing Ray cluster at address: {addr}"
        )),
        "{out}"
    );
    assert!(!out.contains("World size"), "{out}");
    assert!(!out.contains("exceeds the total number"), "{out}");
    let (_, status, _) = ray(&dir, Some(&addr), &["status"]);
    assert!(
        status.lines().any(|l| l == " 2.0/2.0 GPU"),
        "the placement group holds both GPUs:\n{status}"
    );
    drop(server);
    // Released when the server is gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, status, _) = ray(&dir, Some(&addr), &["status"]);
        if status.lines().any(|l| l == " 0.0/2.0 GPU") {
            break;
        }
        assert!(Instant::now() < deadline, "GPUs never released:\n{status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_with_ray_refuses_a_cluster_with_too_few_gpus() {
    let dir = RayDir::new("few");
    let (_head, addr) = RayNode::head(&dir, "1");
    let _worker = RayNode::worker(&dir, &addr, "beta", &[("VLLM_STANDIN_GPUS", "1")]);
    status_with(&dir, &addr, 2);
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--distributed-executor-backend",
        "ray",
        "-tp",
        "1",
        "-pp",
        "3",
    ];
    let mut s = spawn(&args, &serve_env(&dir, &addr, "1"));
    let code = s.wait_exit(Duration::from_secs(30));
    let out = s.output();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("WARNING") && out.contains("The number of required GPUs exceeds the total number of available GPUs in the placement group."),
        "{out}"
    );
    assert!(
        out.contains("ValueError: Cannot provide a placement group requiring 3.0 GPUs (placement_group_specs=[{'GPU': 1.0, 'node:127.0.0.1': 0.001}, {'GPU': 1.0}, {'GPU': 1.0}]) within 1 seconds."),
        "{out}"
    );
    assert!(
        out.contains("RuntimeError: Engine core initialization failed."),
        "{out}"
    );
    assert!(!out.contains("Application startup complete."), "{out}");
}

#[tokio::test]
async fn serve_with_ray_waits_for_a_late_worker() {
    let dir = RayDir::new("late");
    let (_head, addr) = RayNode::head(&dir, "1");
    let mut s = spawn(
        &["--host", "127.0.0.1", "--port", "0"]
            .iter()
            .chain(RAY_PP2)
            .copied()
            .collect::<Vec<_>>(),
        &serve_env(&dir, &addr, "60"),
    );
    s.wait_for_line(
        "exceeds the total number of available GPUs",
        Duration::from_secs(20),
    );
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "still waiting:\n{}",
        s.output()
    );
    let _worker = RayNode::worker(&dir, &addr, "beta", &[("VLLM_STANDIN_GPUS", "1")]);
    s.wait_for_line("Application startup complete.", Duration::from_secs(30));
}

#[test]
fn without_ray_the_world_size_check_stays() {
    // The same tp × pp without the Ray backend fails on this node's GPUs, as before.
    let dir = RayDir::new("noray");
    let mut s = spawn(
        &["--host", "127.0.0.1", "--port", "0", "-tp", "1", "-pp", "2"],
        &[("RAY_TMPDIR", dir.path()), ("VLLM_STANDIN_GPUS", "1")],
    );
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(1));
    assert!(
        s.output()
            .contains("World size (2) is larger than the number of available GPUs (1)")
    );
}

/// Runs `ray stop` in its Ray directory on drop (the detached nodes are not our children).
struct StopOnDrop<'a>(&'a RayDir);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = ray(self.0, None, &["stop"]);
    }
}

#[test]
fn ray_start_without_block_returns_once_the_node_is_up_and_ray_stop_ends_it() {
    let dir = RayDir::new("detached");
    let _stop = StopOnDrop(&dir);
    let mut cmd = Command::new(BIN);
    cmd.args([
        "ray",
        "start",
        "--head",
        "--port",
        "0",
        "--node-ip-address",
        "127.0.0.1",
    ])
    .env("RAY_TMPDIR", dir.path())
    .env("VLLM_STANDIN_GPUS", "2");
    let out = cmd.output().expect("ray start");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Ray runtime started.") && text.contains("ray start --address='127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("--block"), "{text}");
    let (code, status, err) = ray(&dir, None, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(status.lines().any(|l| l == " 0.0/2.0 GPU"), "{status}");
    let (code, stopped, _) = ray(&dir, None, &["stop"]);
    assert_eq!(code, 0);
    assert_eq!(stopped.trim(), "Stopped all 1 Ray processes.");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ray(&dir, None, &["status"]).0 == 0 {
        assert!(
            Instant::now() < deadline,
            "the head still answers after ray stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
