//! A second Docker Engine on this machine, for the tests of named hosts and fan-out runs
//! (`tests/hosts_*.rs`; the Ray tests use it too). `SecondEngine::start` runs its own
//! `dockerd` with everything under a temporary directory — socket, data root, exec root, pid
//! file — and `--config-file` pointing at a file holding `{}`, so the machine's own daemon
//! configuration (`/etc/docker/daemon.json`) neither applies nor clashes. The storage driver
//! is the main engine's (this machine needs fuse-overlayfs).
//!
//! Networking: the engine gets a bridge of its own (`ip link add vbt-hst-XXXXXX type bridge`
//! on an unused 10.213.N.0/24) and `--iptables=false`; its user networks come from
//! 10.214.N.0/24. Never `--bridge=none`: a daemon started with it deletes the host's docker0
//! and breaks the machine's own engine. Bridged traffic passes the host's iptables
//! (`br_netfilter`), whose FORWARD policy the main engine set to DROP, and this engine adds
//! no rules of its own: two rules accept its subnets' traffic (removed on drop), or its
//! containers could not talk to each other. Containers of this engine cannot reach the
//! first engine's networks, so each host runs its own server and client. The user-network
//! bridges a stopped dockerd leaves behind are deleted on drop too.
//!
//! `start_tls` also has it listen on `tcp://127.0.0.1:<port>` with `--tlsverify` and
//! certificates made for the test with the `openssl` program (a CA, a server certificate for
//! 127.0.0.1, a client certificate in Docker's `ca.pem`/`cert.pem`/`key.pem` layout).
//!
//! The stand-in images are copied in through the API (saved from the main engine, loaded
//! here). On drop (also while unwinding from a failed assert) the daemon is stopped by its
//! PID (SIGTERM, then SIGKILL after a deadline), what it left mounted under its directory is
//! unmounted, the bridge deleted and the directory removed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vbench::docker::{Docker, LABEL_TEST, Labels};

/// How long a fresh dockerd may take to answer on its socket.
const START_DEADLINE: Duration = Duration::from_secs(90);
/// How long a stopping dockerd gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// A running second engine; stopped and cleaned up on drop.
pub struct SecondEngine {
    /// Holds the socket, data root, exec root, pid file and log (removed on drop).
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    pid: u32,
    /// `unix:///…/docker.sock`.
    pub docker_host: String,
    /// The bridge created for it (`vbt-hst-XXXXXX`, at most 15 characters as Linux wants).
    pub bridge: String,
    /// N of its subnets 10.213.N.0/24 (bridge) and 10.214.N.0/24 (user networks).
    subnet: u8,
    /// With `start_tls`: `tcp://127.0.0.1:<port>` (TLS, client certificate required) and the
    /// directory with the client's `ca.pem`, `cert.pem`, `key.pem`.
    pub tls: Option<(String, PathBuf)>,
    /// The iptables FORWARD rules added for it (removed on drop).
    rules: Vec<Vec<String>>,
}

/// `iptables ARGS`; its success.
fn iptables(args: &[String]) -> bool {
    Command::new("iptables")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `ip ARGS`, panicking with its output when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A /24 under 10.213.0.0/16 that no interface of this machine uses, and its index.
fn free_subnet() -> u8 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .expect("ip addr");
    let used = String::from_utf8_lossy(&out.stdout).to_string();
    let start = std::process::id().wrapping_mul(7) + NEXT.fetch_add(1, Ordering::Relaxed) * 13;
    (0..200u32)
        .map(|i| ((start + i) % 200 + 20) as u8)
        .find(|n| {
            !used.contains(&format!("10.213.{n}.")) && !used.contains(&format!("10.214.{n}."))
        })
        .expect("a free 10.213.N.0/24")
}

/// `openssl ARGS` in `dir`, panicking with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).expect("certs dir");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("server.ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("client.ext");
    let key = |out: &str, cert: &str, subj: &str| {
        openssl(
            dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", out, "-out", cert, "-subj", subj,
            ],
        )
    };
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=vbt-hst-ca",
        ],
    );
    for (k, csr, cert, ext, cn) in [
        (
            "server-key.pem",
            "server.csr",
            "server-cert.pem",
            "server.ext",
            "/CN=127.0.0.1",
        ),
        (
            "key.pem",
            "client.csr",
            "cert.pem",
            "client.ext",
            "/CN=vbt-hst-client",
        ),
    ] {
        key(k, csr, cn);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                cert,
                "-days",
                "1",
                "-extfile",
                ext,
            ],
        );
    }
}

/// The main engine's storage driver (this machine's needs fuse-overlayfs), asked through the
/// API.
async fn main_storage_driver() -> Option<String> {
    let d = Docker::connect(None).await.ok()?;
    d.info.storage_driver.clone()
}

impl SecondEngine {
    /// Start a second dockerd; panics (after cleaning up) when it does not answer in time.
    pub async fn start() -> SecondEngine {
        Self::start_inner(false).await
    }

    /// `start`, also listening on 127.0.0.1 over TLS with client certificates (`tls`).
    pub async fn start_tls() -> SecondEngine {
        Self::start_inner(true).await
    }

    async fn start_inner(tls: bool) -> SecondEngine {
        let dir = tempfile::Builder::new()
            .prefix("vbt-hst-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let n = free_subnet();
        let bridge = format!(
            "vbt-hst-{:06x}",
            (std::process::id() << 8 | n as u32) & 0xff_ffff
        );
        ip(&["link", "add", &bridge, "type", "bridge"]);
        let mut engine = SecondEngine {
            dir: Some(dir),
            child: None,
            pid: 0,
            docker_host: String::new(),
            bridge: bridge.clone(),
            subnet: n,
            rules: vec![],
            tls: None,
        };
        for net in [format!("10.213.{n}.0/24"), format!("10.214.{n}.0/24")] {
            for dir in ["-s", "-d"] {
                let rule: Vec<String> = ["FORWARD", dir, &net, "-j", "ACCEPT"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let mut insert = vec!["-I".to_string()];
                insert.extend(rule.iter().cloned());
                assert!(iptables(&insert), "iptables {insert:?}");
                engine.rules.push(rule);
            }
        }
        ip(&["addr", "add", &format!("10.213.{n}.1/24"), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        let root = engine.root().to_path_buf();
        let config = root.join("daemon.json");
        std::fs::write(&config, "{}").expect("write daemon.json");
        let socket = root.join("docker.sock");
        engine.docker_host = format!("unix://{}", socket.display());
        let log = std::fs::File::create(root.join("dockerd.log")).expect("log file");
        let mut cmd = Command::new("dockerd");
        cmd.arg("--config-file")
            .arg(&config)
            .arg("--host")
            .arg(&engine.docker_host)
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("docker.pid"))
            .args(["--bridge", &bridge, "--iptables=false"])
            .arg("--default-address-pool")
            .arg(format!("base=10.214.{n}.0/24,size=26"));
        if let Some(driver) = main_storage_driver().await {
            cmd.args(["--storage-driver", &driver]);
        }
        if tls {
            let certs = root.join("certs");
            make_certs(&certs);
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let addr = format!("tcp://127.0.0.1:{port}");
            cmd.arg("--host")
                .arg(&addr)
                .arg("--tlsverify")
                .arg("--tlscacert")
                .arg(certs.join("ca.pem"))
                .arg("--tlscert")
                .arg(certs.join("server-cert.pem"))
                .arg("--tlskey")
                .arg(certs.join("server-key.pem"));
            engine.tls = Some((addr, certs));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        engine.pid = child.id();
        engine.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(st) = engine
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the second dockerd exited ({st}):\n{}", engine.log_tail());
            }
            if socket.exists() && Docker::connect(Some(&engine.docker_host)).await.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the second dockerd did not answer within {START_DEADLINE:?}:\n{}",
                engine.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        engine
    }

    fn root(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// The daemon's PID (to kill it mid-run).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The last lines of the daemon's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.root().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A handle on this engine, labelling what is created through it `vbench.test=1`.
    pub async fn docker(&self) -> Docker {
        Docker::connect(Some(&self.docker_host))
            .await
            .unwrap_or_else(|e| panic!("the second engine: {e}\n{}", self.log_tail()))
            .with_labels(Labels::from([(LABEL_TEST.to_string(), "1".to_string())]))
    }

    /// Copy `references` from the main engine into this one (save there, load here).
    pub async fn copy_images(&self, references: &[&str]) {
        let main = Docker::connect(None).await.expect("the main engine");
        let archive = main.save_images(references).await.expect("save images");
        self.docker()
            .await
            .load_images(archive)
            .await
            .expect("load images");
    }

    /// Kill the daemon now (SIGKILL by its PID): the engine vanishes mid-whatever.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid; no memory is touched.
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// Stop the daemon: SIGTERM, SIGKILL after `STOP_GRACE`.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        let _ = child.wait();
    }

    /// What the daemon (and its containerd, its containers) left mounted under our directory,
    /// deepest first.
    fn mounts(&self) -> Vec<PathBuf> {
        let root = self.root().to_string_lossy().to_string();
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<PathBuf> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&root))
            .map(PathBuf::from)
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        mounts.dedup();
        mounts
    }

    /// The processes of this engine's containers, which outlive a killed daemon: each sits in
    /// a cgroup named after its container's id (the ids are the directories of the data
    /// root's `containers/`). Killed by PID.
    fn kill_containers(&self) {
        let ids: Vec<String> = std::fs::read_dir(self.root().join("data/containers"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n.len() == 64)
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            return;
        }
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cgroup = std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default();
            if ids.iter().any(|id| cgroup.contains(id.as_str())) {
                // SAFETY: kill(2) on a process of one of our engine's containers.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// The containerd shims (and fuse-overlayfs mounts) this daemon started outlive it: kill
    /// them by PID (each names our directory in its command line).
    fn kill_shims(&self) {
        let root = self.root().to_string_lossy().to_string();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains(&root) && pid as u32 != std::process::id() {
                // SAFETY: kill(2) on a process started under our engine's directory.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // Never panic here: a panic while unwinding aborts the test binary.
        self.stop();
        self.kill_containers();
        self.kill_shims();
        for m in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&m).output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        // The bridges of its user networks (dockerd leaves them when it stops).
        let out = Command::new("ip")
            .args(["-o", "-4", "addr", "show"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let ours = format!(" 10.214.{}.", self.subnet);
        for line in out.lines().filter(|l| l.contains(&ours)) {
            if let Some(link) = line.split_whitespace().nth(1) {
                let _ = Command::new("ip").args(["link", "del", link]).output();
            }
        }
        for rule in std::mem::take(&mut self.rules) {
            let mut delete = vec!["-D".to_string()];
            delete.extend(rule);
            let _ = iptables(&delete);
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if dir.close().is_err() {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
}
