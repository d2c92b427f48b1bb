//! Support for `tests/faults_io.rs`: a stand-in set-up whose results directory is a tmpfs
//! this test mounts (so it can be filled, or made read-only, for real), a child vbench
//! (killed by its pid if the test ends first) whose peak memory is sampled, and the checks
//! every fault case makes: no result lost, no orphan, nothing left after clean-up.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vbench::docker::{Docker, ExecSpec};
use vbench::events::Collector;
use vbench::sweep::manifest::{self, Manifest, PointStatus};
use vbench::sweep::runner;

use crate::common::{self, Cleanup, unique};

/// The result directory of the client containers (the configuration's default).
pub const CLIENT_RESULTS: &str = "/root/bench_results";

/// A tmpfs mounted on a fresh temp directory, unmounted (lazily, so a test failing with a
/// file open still cleans up) when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tmpfs {
    /// `size`: as `mount -o size=` takes it (`64m`).
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("vbt-fio-")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().to_str().expect("utf-8 path").to_string();
        sh(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &path],
        );
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Fill the file system: the filler file grows until the kernel says ENOSPC.
    pub fn fill(&self) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .expect("open the filler");
        let mut block = vec![0xabu8; 1 << 20];
        loop {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                    if block.len() == 1 {
                        break;
                    }
                    let n = block.len() / 2;
                    block.truncate(n);
                }
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
    }

    /// Give `bytes` back (rounded to pages by the kernel) by shortening the filler.
    pub fn free(&self, bytes: u64) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.filler())
            .expect("open the filler");
        let len = f.metadata().expect("stat").len();
        f.set_len(len.saturating_sub(bytes)).expect("truncate");
    }

    /// Remove the filler: the space is free again.
    pub fn empty(&self) {
        let _ = std::fs::remove_file(self.filler());
    }

    /// Remount the whole file system read-only (`ro = true`) or read-write.
    pub fn remount(&self, ro: bool) {
        let p = self.path().to_str().expect("utf-8");
        sh(
            "mount",
            &["-o", if ro { "remount,ro" } else { "remount,rw" }, p],
        );
    }

    /// Put a read-only bind of the directory over itself: every new open for writing fails
    /// with EROFS while files vbench already has open (its lock, its journal) stay writable —
    /// as a file system turning read-only under a running program behaves for new files.
    /// (`mount -o remount,ro` itself is refused while files are open for writing.)
    pub fn bind_read_only(&self) {
        let p = self.path().to_str().expect("utf-8");
        sh("mount", &["--bind", p, p]);
        sh("mount", &["-o", "remount,bind,ro", p]);
    }

    /// Take the read-only bind away again.
    pub fn unbind(&self) {
        let p = self.path().to_str().expect("utf-8");
        sh("umount", &[p]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let p = self.path().to_path_buf();
        // A bind may sit on the tmpfs: unmount until nothing is mounted there.
        for _ in 0..3 {
            let ok = Command::new("umount")
                .arg("-l")
                .arg(&p)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                break;
            }
        }
    }
}

/// A test's stand-in set-up: config file, results directory (a tmpfs), the names it cleans
/// up.
pub struct Setup {
    pub cfg_path: PathBuf,
    pub cfg_dir: tempfile::TempDir,
    pub results: Tmpfs,
    pub server: String,
    pub client: String,
    pub network: String,
    pub cleanup: Cleanup,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What a set-up differs in.
#[derive(Default)]
pub struct Spec<'a> {
    /// Stand-in knobs of the server (`VLLM_STANDIN_*`).
    pub server_env: &'a [(&'a str, &'a str)],
    /// Environment of `vllm bench serve` in the client.
    pub client_env: &'a [(&'a str, &'a str)],
    /// Extra `vllm bench serve` arguments.
    pub client_args: &'a [&'a str],
    /// The YAML of sweep `tt` (run by default).
    pub sweep: &'a str,
    /// tmpfs size (default 64m).
    pub size: Option<&'a str>,
}

fn yaml_map(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect()
}

pub fn setup(prefix: &str, spec: &Spec<'_>) -> Setup {
    let results = Tmpfs::mount(spec.size.unwrap_or("64m"));
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    let (server, client, network) = (
        unique(&format!("fio-{prefix}-srv")),
        unique(&format!("fio-{prefix}-cli")),
        unique(&format!("fio-{prefix}-net")),
    );
    let cleanup = Cleanup::new();
    cleanup.container(&server);
    cleanup.container(&client);
    cleanup.network(&network);
    let mut server_env = vec![("VLLM_STANDIN_LOAD_SECONDS", "0.5")];
    server_env.extend_from_slice(spec.server_env);
    let client_env = if spec.client_env.is_empty() {
        String::new()
    } else {
        format!("  env:\n{}", yaml_map(spec.client_env))
    };
    let client_args = if spec.client_args.is_empty() {
        String::new()
    } else {
        let items: Vec<String> = spec
            .client_args
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        format!("  extra_args: [{}]\n", items.join(", "))
    };
    let yaml = format!(
        "server:\n  container: {server}\n  publish_port: {port}\n  startup_timeout: 120s\n  env:\n{env}client:\n  container: {client}\n{client_env}{client_args}network: {network}\nresults_dir: {res}\nsweeps:\n  tt:\n{sweep}run:\n  sweeps: [tt]\n",
        port = free_port(),
        env = yaml_map(&server_env),
        res = results.path().display(),
        sweep = spec.sweep,
    );
    let cfg_path = cfg_dir.path().join("vbench.yaml");
    std::fs::write(&cfg_path, yaml).expect("write config");
    Setup {
        cfg_path,
        cfg_dir,
        results,
        server,
        client,
        network,
        cleanup,
    }
}

impl Setup {
    pub fn dir(&self) -> &Path {
        self.results.path()
    }
}

/// A child vbench, killed (by its own pid) if the test ends while it still runs. Its peak
/// resident memory (`VmHWM`) is sampled while it runs.
pub struct Vbench {
    child: Child,
    peak_kib: Arc<AtomicU64>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Vbench {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `VmHWM` of `pid` in KiB (none once it has exited).
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

impl Vbench {
    /// `vbench -c CFG --output plain ARGS…`, with `env` added.
    pub fn start(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> Vbench {
        let child = Command::new(env!("CARGO_BIN_EXE_vbench"))
            .arg("-c")
            .arg(cfg)
            .args(["--output", "plain"])
            .args(args)
            .env("VBENCH_LABELS", "vbench.test=1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vbench");
        let peak_kib = Arc::new(AtomicU64::new(0));
        let pid = child.id();
        let peak = peak_kib.clone();
        // The high-water mark only grows: the last reading before the process exits is its
        // peak. Read often so that reading is close to the end.
        let sampler = std::thread::spawn(move || {
            while let Some(kib) = vm_hwm_kib(pid) {
                peak.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Vbench {
            child,
            peak_kib,
            sampler: Some(sampler),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Peak resident memory seen so far, bytes.
    pub fn peak_rss(&self) -> u64 {
        self.peak_kib.load(Ordering::Relaxed) * 1024
    }

    /// Wait (with a deadline) and return (status, stdout, stderr). Output is drained while
    /// waiting, so a chatty run never blocks on a full pipe.
    pub fn finish(self, within: Duration) -> (ExitStatus, String, String) {
        self.finish_bounded(within, u64::MAX)
    }

    /// `finish`, failing at once (vbench killed) when its peak resident memory goes over
    /// `bound` bytes, rather than waiting for a run that holds too much to end.
    pub fn finish_bounded(mut self, within: Duration, bound: u64) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let mut o = self.child.stdout.take().expect("stdout");
        let mut e = self.child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = o.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        });
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "vbench did not finish within {within:?}"
            );
            let peak = self.peak_kib.load(Ordering::Relaxed) * 1024;
            if peak > bound {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "vbench's peak RSS reached {} MiB, over the bound of {} MiB (killed)",
                    peak >> 20,
                    bound >> 20
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Some(s) = self.sampler.take() {
            let _ = s.join();
        }
        (
            status,
            out.join().unwrap_or_default(),
            err.join().unwrap_or_default(),
        )
    }

    /// `finish_bounded`, and the peak resident memory (bytes).
    pub fn finish_with_peak(
        self,
        within: Duration,
        bound: u64,
    ) -> (ExitStatus, String, String, u64) {
        let peak = self.peak_kib.clone();
        let (st, out, err) = self.finish_bounded(within, bound);
        (st, out, err, peak.load(Ordering::Relaxed) * 1024)
    }
}

/// Run vbench to its end off the async runtime.
pub async fn vbench(cfg: &Path, args: &[&str], within: Duration) -> (ExitStatus, String, String) {
    let cfg = cfg.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Vbench::start(&cfg, &args, &[]).finish(within)
    })
    .await
    .expect("join")
}

/// Start vbench in the background.
pub async fn spawn(cfg: &Path, args: &[&str]) -> Vbench {
    let cfg = cfg.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Vbench::start(&cfg, &args, &[])
    })
    .await
    .expect("join")
}

/// Wait for a background vbench.
pub async fn finish(v: Vbench, within: Duration) -> (ExitStatus, String, String) {
    tokio::task::spawn_blocking(move || v.finish(within))
        .await
        .expect("join")
}

pub fn the_run(results: &Path) -> Manifest {
    let id = manifest::find_run(results, None).expect("a run");
    Manifest::load(&manifest::runs_dir(results).join(id)).expect("manifest")
}

/// Poll until the run has `ok` finished points and one running, its benchmark running in
/// the client.
pub async fn wait_mid_point(d: &Docker, s: &Setup, ok: usize, within: Duration) -> Manifest {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(id) = manifest::find_run(s.dir(), None)
            && let Ok(m) = Manifest::load(&manifest::runs_dir(s.dir()).join(id))
            && m.count(PointStatus::Ok) >= ok
            && m.count(PointStatus::Running) == 1
            && !runner::bench_processes(d, &s.client)
                .await
                .unwrap_or_default()
                .is_empty()
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the run never had a point running after {ok} finished within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn images() {
    let d = common::docker().await;
    vbench::standin::ensure_images(&d, "latest", &Collector::default())
        .await
        .expect("stand-in images");
}

/// Every `.json` result file in the client container: path relative to the results
/// directory → bytes.
pub async fn client_results(d: &Docker, client: &str) -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    d.copy_out(client, CLIENT_RESULTS, tmp.path())
        .await
        .expect("copy the client's results out");
    let mut out = BTreeMap::new();
    let mut stack = vec![tmp.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let rel = p
                    .strip_prefix(tmp.path())
                    .expect("under tmp")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// No result lost: every result the client wrote is on the host, the same bytes, and in
/// the manifest — but for `pending`: results the fault kept off the host, which must then be
/// named by a `running` point of the manifest (where `--resume` collects them) and be absent
/// from the host, not torn. Returns how many results the client holds.
pub async fn assert_no_result_lost(d: &Docker, s: &Setup, pending: &[&str]) -> usize {
    let in_client = client_results(d, &s.client).await;
    let m = the_run(s.dir());
    let in_manifest: Vec<&str> = m
        .points
        .iter()
        .flat_map(|p| p.result_file.iter().chain(&p.superseded))
        .map(String::as_str)
        .collect();
    let awaited: Vec<String> = m
        .points
        .iter()
        .filter(|p| p.status == PointStatus::Running)
        .filter_map(|p| Some(format!("{}/{}", p.point.dir, p.file_name.as_ref()?)))
        .collect();
    for (rel, bytes) in &in_client {
        let host = s.dir().join(rel);
        if pending.contains(&rel.as_str()) {
            assert!(
                awaited.contains(rel),
                "{rel}, kept off the host, is not awaited by a running point: {awaited:?}"
            );
            assert!(!host.exists(), "{rel}: a partial copy is on the host");
            continue;
        }
        let on_host = std::fs::read(&host)
            .unwrap_or_else(|e| panic!("{rel}, written by the client, is not on the host: {e}"));
        assert_eq!(
            &on_host, bytes,
            "{rel}: the host copy differs from the client's"
        );
        assert!(
            in_manifest.contains(&rel.as_str()),
            "{rel} is not in the manifest: {in_manifest:?}"
        );
    }
    in_client.len()
}

/// Hidden temp files of `durable` left anywhere under `dir` (a torn write).
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().contains(".tmp-") {
                out.push(p);
            }
        }
    }
    out
}

/// `pid args` of every process in `container`, but the listing itself.
async fn processes(d: &Docker, container: &str) -> Vec<String> {
    let spec = ExecSpec {
        argv: vec!["ps".into(), "-o".into(), "pid,args".into()],
        deadline: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let (o, out, err) = d.exec_capture(container, &spec).await.expect("ps");
    assert_eq!(o.exit_code, Some(0), "ps in {container}: {err}");
    out.lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.ends_with("ps -o pid,args"))
        .collect()
}

/// What a container may run between runs: its init and keep-alive; the server container
/// also its `vllm serve` (with the launcher and the tracking wrapper around it).
fn expected(line: &str, server: bool) -> bool {
    let keepalive = line.contains("docker-init")
        || line.contains("trap 'exit 0' TERM INT")
        || line.ends_with("sleep 3600");
    keepalive || (server && (line.contains("vllm serve") || line.contains("vbench-serve")))
}

async fn leftovers(d: &Docker, s: &Setup) -> Vec<String> {
    let mut left = Vec::new();
    for (c, server) in [(&s.server, true), (&s.client, false)] {
        let st = d.inspect_container(c).await.expect("inspect");
        if !st.is_some_and(|st| st.running) {
            continue;
        }
        for p in processes(d, c).await {
            if !expected(&p, server) {
                left.push(format!("{c}: process {p}"));
            }
        }
        for e in d.running_execs(c).await.expect("execs") {
            let ours = e.starts_with("ps -o") || (server && e.contains("vbench-serve"));
            if !ours {
                left.push(format!("{c}: exec {e}"));
            }
        }
    }
    left
}

/// No orphan: nothing left running in either container (polled: an agent told to quit
/// takes a moment to exit).
pub async fn assert_no_orphan(d: &Docker, s: &Setup) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = leftovers(d, s).await;
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left running: {left:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// After clean-up no container or network of the test is left.
pub async fn assert_cleaned_up(d: &Docker, s: Setup) {
    let Setup {
        server,
        client,
        network,
        cleanup,
        results,
        ..
    } = s;
    drop(cleanup);
    for c in [&server, &client] {
        assert!(
            d.inspect_container(c).await.expect("inspect").is_none(),
            "container {c} left"
        );
    }
    assert!(
        !d.network_exists(&network).await.expect("inspect network"),
        "network {network} left"
    );
    drop(results);
}

/// The one error line: it names `cause` and the `next` step; nothing else is an error.
pub fn assert_one_message(err: &str, cause: &str, next: &str) -> String {
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(lines.len(), 1, "one error message:\n{err}");
    assert!(
        lines[0].contains(cause),
        "names the cause ({cause}): {}",
        lines[0]
    );
    assert!(
        lines[0].contains(next),
        "names the next step ({next}): {}",
        lines[0]
    );
    lines[0].to_string()
}
