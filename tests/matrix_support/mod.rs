//! Shared by `tests/matrix_cli.rs` and `tests/slo_cli.rs`: a unique stand-in set-up (config
//! file with its own container, network and port names; results in a temp dir; everything
//! labelled `vbench.test` and removed by a `Cleanup` guard) and the vbench binary as a child
//! process with a deadline, killed by its own pid if the test ends first.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vbench::events::Collector;

use super::common::{Cleanup, unique};

pub struct Setup {
    pub cfg_path: PathBuf,
    pub results: tempfile::TempDir,
    pub server: String,
    pub client: String,
    pub cleanup: Cleanup,
}

impl Setup {
    pub fn results(&self) -> &Path {
        self.results.path()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A configuration with the stand-in timing `knobs` (`VLLM_STANDIN_*`, a 0.5 s load unless
/// given) and `rest` (YAML: `sweeps:`, `matrix:`, … at the top level) appended.
pub fn setup(prefix: &str, knobs: &[(&str, &str)], rest: &str) -> Setup {
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
    let mut env = String::new();
    if !knobs.iter().any(|(k, _)| *k == "VLLM_STANDIN_LOAD_SECONDS") {
        env.push_str("    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\n");
    }
    for (k, v) in knobs {
        env.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let yaml = format!(
        "server:\n  container: {srv}\n  publish_port: {port}\n  startup_timeout: 60s\n  env:\n{env}client:\n  container: {cli}\nnetwork: {net}\nresults_dir: {res}\n{rest}",
        port = free_port(),
        res = results.path().display(),
    );
    let cfg_path = results.path().join("vbench.yaml");
    std::fs::write(&cfg_path, yaml).expect("write config");
    Setup {
        cfg_path,
        results,
        server: srv,
        client: cli,
        cleanup,
    }
}

/// A child vbench, killed (by its own pid) if the test ends while it still runs. Its
/// output is read as it comes (a full pipe would stall it).
pub struct Vbench {
    pub child: Child,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl Drop for Vbench {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(
    r: Option<impl std::io::Read + Send + 'static>,
) -> Option<std::thread::JoinHandle<String>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    })
}

impl Vbench {
    pub fn start(cfg: &Path, args: &[&str]) -> Vbench {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vbench"))
            .arg("-c")
            .arg(cfg)
            .args(["--output", "plain"])
            .args(args)
            .env("VBENCH_LABELS", "vbench.test=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vbench");
        let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
        Vbench { child, out, err }
    }

    /// Wait (with a deadline) and return (status, stdout, stderr).
    pub fn finish(mut self, within: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self
                    .err
                    .take()
                    .and_then(|h| h.join().ok())
                    .unwrap_or_default();
                panic!("vbench did not finish within {within:?}; its stderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        (status, join(self.out.take()), join(self.err.take()))
    }

    pub fn kill(&self) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        let rc = unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill");
    }
}

/// Run vbench to its end off the async runtime.
pub async fn run(cfg: &Path, args: &[&str], within: Duration) -> (ExitStatus, String, String) {
    let cfg = cfg.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        Vbench::start(&cfg, &a).finish(within)
    })
    .await
    .expect("join")
}

/// Every stdout line of a `--json` run, parsed.
pub fn events(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The stand-in images (built if missing or stale).
pub async fn images() {
    let d = super::common::docker().await;
    vbench::standin::ensure_images(&d, "latest", &Collector::default())
        .await
        .expect("stand-in images");
}

/// Poll `probe` every 100 ms until it returns something (deadline `within`).
pub fn wait_for<T>(within: Duration, what: &str, probe: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
