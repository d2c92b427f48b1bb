//! Fault injection, signals, stale locks and secrets (issue 11, cases 8, 9 and 11): `vbench
//! run --standin` as a child process against the real Docker Engine and the CPU stand-in
//! images, one configuration per test (unique containers, network and port; results in a temp
//! dir), everything labelled `vbench.test` and removed by a `Cleanup` guard even when an
//! assert fails. Each case checks the exit code, the message naming the cause and the next
//! step, that no result is lost, that no process is left in the client container, and that
//! `--resume` finishes the run where it is resumable.
//!
//! - Case 8, signals: a hang-up of the terminal (a closed ssh session: the pty's master
//!   closed under vbench, then the shell's own SIGHUP) stops and saves like SIGTERM; SIGHUP by
//!   `kill` is named; a second SIGINT exits at once, and the lock goes with the process.
//! - Case 9, stale locks: a SIGKILLed run's lock is taken over and explained; after a restart
//!   a lock record naming a live unrelated pid (another boot, or another start time) is stale,
//!   and a PID file in the restarted client naming an unrelated process never gets it
//!   signalled; a live run is never taken over, whatever its lock file says.
//! - Case 11, secrets: `server.api_key: ${VLLM_API_KEY}` reaches `vllm serve` and `vllm bench
//!   serve` only through their environments, and a random key per test is searched for in
//!   every file under the results directory, vbench's output and events, `docker inspect` of
//!   both containers, and the command line of every process in both; a wrong or missing key
//!   ends at once with exit 3.

mod common;

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vbench::docker::{Docker, ExecSpec};
use vbench::events::Collector;
use vbench::sweep::lock::{self, Holder, LOCK_FILE, RunLock, Staleness};
use vbench::sweep::manifest::{self, Manifest, PointStatus};
use vbench::sweep::runner;

use common::{Cleanup, unique};

// ---------------------------------------------------------------------------------------
// Set-up and the vbench child process (after tests/sweep_cli.rs)
// ---------------------------------------------------------------------------------------

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A test's stand-in set-up: config file, results directory, names to clean up.
struct Setup {
    cfg_path: PathBuf,
    results: tempfile::TempDir,
    server: String,
    client: String,
    port: u16,
    _cleanup: Cleanup,
}

/// What a test's configuration adds to the defaults.
#[derive(Default)]
struct Opts<'a> {
    /// Stand-in server knobs (`VLLM_STANDIN_*`) and other server env.
    server_env: &'a [(&'a str, &'a str)],
    /// The client's env (what `vllm bench serve` runs with).
    client_env: &'a [(&'a str, &'a str)],
    /// More lines under `server:` (two spaces of indent).
    server_lines: &'a str,
}

fn setup(prefix: &str, o: &Opts<'_>, sweep: &str) -> Setup {
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
    let mut senv = String::from("    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\n");
    for (k, v) in o.server_env {
        senv.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let mut cenv = String::new();
    for (k, v) in o.client_env {
        cenv.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let cenv = if cenv.is_empty() {
        "  env: {}\n".to_string()
    } else {
        format!("  env:\n{cenv}")
    };
    let port = free_port();
    let yaml = format!(
        "server:\n  container: {srv}\n  publish_port: {port}\n  startup_timeout: 60s\n{lines}  env:\n{senv}client:\n  container: {cli}\n{cenv}network: {net}\nresults_dir: {res}\nsweeps:\n  tt:\n{sweep}run:\n  sweeps: [tt]\n",
        lines = o.server_lines,
        res = results.path().display(),
    );
    let cfg_path = results.path().join("vbench.yaml");
    std::fs::write(&cfg_path, yaml).expect("write config");
    Setup {
        cfg_path,
        results,
        server: srv,
        client: cli,
        port,
        _cleanup: cleanup,
    }
}

/// Two points of 60 output tokens: with `VLLM_STANDIN_TPOT_MS=100` each lasts about 6 s.
const TWO: &str =
    "    input_lens: [128]\n    output_len: 60\n    concurrency: [1, 2]\n    point_timeout: 120s\n";

/// One point of 150 output tokens: with `VLLM_STANDIN_TPOT_MS=100` about 15 s, longer than
/// the 10 s between SIGTERM and SIGKILL when a benchmark is stopped.
const LONG: &str =
    "    input_lens: [128]\n    output_len: 150\n    concurrency: [1]\n    point_timeout: 120s\n";

/// A child vbench with its output collected as it comes (so a test can wait for a line);
/// killed (by its own pid) if the test ends while it still runs.
struct Vbench {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Vbench {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(
    mut r: impl std::io::Read + Send + 'static,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    let h = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    (buf, h)
}

fn vbench_cmd(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbench"));
    cmd.arg("-c")
        .arg(cfg)
        .args(args)
        .env("VBENCH_LABELS", "vbench.test=1")
        .env_remove("VLLM_API_KEY")
        .env_remove("OPENAI_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Vbench {
    /// `args` after `-c CFG` (include `--output plain` or `--json`).
    fn start(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> Vbench {
        let mut child = vbench_cmd(cfg, args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vbench");
        let (out, h1) = collect(child.stdout.take().expect("stdout"));
        let (err, h2) = collect(child.stderr.take().expect("stderr"));
        Vbench {
            child,
            out,
            err,
            readers: vec![h1, h2],
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wait until stderr contains `needle`.
    fn wait_stderr(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "`{needle}` never appeared on stderr within {within:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        signal_pid(self.pid(), sig);
    }

    /// Wait (with a deadline) and return (status, stdout, stderr).
    fn finish(mut self, within: Duration) -> (ExitStatus, String, String) {
        let status = wait_child(&mut self.child, within);
        for h in self.readers.drain(..) {
            let _ = h.join();
        }
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (status, out, self.stderr())
    }
}

fn wait_child(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "vbench did not finish within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal_pid(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started; no memory is touched.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

fn run(
    cfg: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    within: Duration,
) -> (ExitStatus, String, String) {
    Vbench::start(cfg, args, env).finish(within)
}

fn the_run(results: &Path) -> Manifest {
    let id = manifest::find_run(results, None).expect("a run");
    Manifest::load(&manifest::runs_dir(results).join(id)).expect("manifest")
}

/// Poll the run's manifest until `pred` holds (deadline `within`).
fn wait_manifest(results: &Path, within: Duration, pred: impl Fn(&Manifest) -> bool) -> Manifest {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(id) = manifest::find_run(results, None)
            && let Ok(m) = Manifest::load(&manifest::runs_dir(results).join(id))
            && pred(&m)
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the run never reached the expected state within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Result files on the host (`tt/*.json`).
fn host_files(results: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(results.join("tt"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every point ok, each with its own result file on the host and in the manifest.
fn assert_all_ok(results: &Path, n: usize) -> Manifest {
    let m = the_run(results);
    assert_eq!(m.status, "finished", "{:#?}", m.points);
    assert_eq!(m.count(PointStatus::Ok), n, "{:#?}", m.points);
    let files = host_files(results);
    assert_eq!(files.len(), n, "{files:?}");
    for p in &m.points {
        let rel = p
            .result_file
            .as_deref()
            .expect("result file in the manifest");
        assert!(results.join(rel).is_file(), "{rel} missing on the host");
    }
    m
}

fn images(rt: &tokio::runtime::Runtime) -> Docker {
    rt.block_on(async {
        let d = common::docker().await;
        vbench::standin::ensure_images(&d, "latest", &Collector::default())
            .await
            .expect("stand-in images");
        d
    })
}

/// This file's own tag of the stand-in images. A test that needs a stand-in knob of this
/// checkout must not depend on the shared `latest`, which another checkout using the same
/// engine may rebuild from its own stand-in at any moment.
const OWN_TAG: &str = "vbt-faults-sig";

/// Create the test's client container from the stand-in client image of `OWN_TAG` (built
/// once per process), before vbench runs: vbench attaches to it as to any existing client.
fn own_client(rt: &tokio::runtime::Runtime, d: &Docker, s: &Setup) {
    static BUILT: std::sync::OnceLock<vbench::standin::StandinImages> = std::sync::OnceLock::new();
    let images = BUILT.get_or_init(|| {
        rt.block_on(vbench::standin::ensure_images(
            d,
            OWN_TAG,
            &Collector::default(),
        ))
        .expect("stand-in images under the test's own tag")
    });
    let cfg = vbench::config::load(Some(&s.cfg_path), &Default::default()).expect("config");
    let mut cfg = vbench::server::standin_config(&cfg);
    cfg.client.image = images.client.clone();
    let labels =
        vbench::docker::Labels::from([(vbench::docker::LABEL_TEST.to_string(), "1".to_string())]);
    rt.block_on(async {
        d.ensure_network(
            &cfg.network,
            &vbench::server::spec::labels(&labels, "network"),
        )
        .await
        .expect("network");
        d.ensure_container(&vbench::server::spec::client_spec(&cfg, &labels))
            .await
            .expect("client container");
    });
}

/// `sh -c SCRIPT` in `container`: (exit code, stdout).
fn sh(
    rt: &tokio::runtime::Runtime,
    d: &Docker,
    container: &str,
    script: &str,
) -> (Option<i64>, String) {
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (o, out, _) = rt
        .block_on(d.exec_capture(container, &spec))
        .expect("exec in the container");
    (o.exit_code, out)
}

/// Every process in `container`: (pid, command line). The lister marks itself `vbt-ps`.
fn processes(rt: &tokio::runtime::Runtime, d: &Docker, container: &str) -> Vec<(u32, String)> {
    const LIST: &str = r#": vbt-ps; for d in /proc/[0-9]*; do c=$(tr '\0\n' '  ' < "$d/cmdline" 2>/dev/null) || continue; [ -n "$c" ] && echo "${d#/proc/} $c"; done; exit 0"#;
    let (code, out) = sh(rt, d, container, LIST);
    assert_eq!(code, Some(0), "listing processes in {container}");
    out.lines()
        .filter_map(|l| {
            let (pid, cmd) = l.trim().split_once(' ')?;
            Some((pid.parse().ok()?, cmd.trim().to_string()))
        })
        .collect()
}

/// Processes in the client that are neither its init, its keep-alive loop nor the lister:
/// what a run left behind.
fn leftovers(rt: &tokio::runtime::Runtime, d: &Docker, container: &str) -> Vec<(u32, String)> {
    processes(rt, d, container)
        .into_iter()
        .filter(|(_, c)| {
            !(c.contains("vbt-ps")
                || c.contains("docker-init")
                || c.contains("sleep 3600 & wait")
                || c == "sleep 3600")
        })
        .collect()
}

/// Wait until vbench is stopping a benchmark in `container`: its stop (SIGTERM to the
/// process group, SIGKILL after the grace) runs there as a shell.
fn wait_stopping(rt: &tokio::runtime::Runtime, d: &Docker, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes(rt, d, container)
        .iter()
        .any(|(_, c)| c.contains("kill -TERM -") && !c.contains("vbt-ps"))
    {
        assert!(
            Instant::now() < deadline,
            "vbench never began stopping the benchmark in {container}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// No process is left in the client (an exiting agent gets a moment to go).
fn assert_no_leftovers(rt: &tokio::runtime::Runtime, d: &Docker, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leftovers(rt, d, container);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left in {container}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------
// Case 8: signals
// ---------------------------------------------------------------------------------------

/// vbench on a pseudo-terminal, as under an ssh session: it leads its own session with the
/// pty as controlling terminal, so closing the master (what sshd does when the connection
/// goes) hangs the terminal up: the kernel sends SIGHUP, and every later write fails.
struct OnTerminal {
    child: Child,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl OnTerminal {
    fn start(cfg: &Path, args: &[&str]) -> OnTerminal {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: plain libc calls on descriptors this function owns; ptsname_r writes into
        // a buffer of the given length.
        let (master, slave_path) = unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(m), 0, "grantpt");
            assert_eq!(libc::unlockpt(m), 0, "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
            let ws = libc::winsize {
                ws_row: 40,
                ws_col: 120,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            libc::ioctl(m, libc::TIOCSWINSZ, &ws);
            let path = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            (OwnedFd::from_raw_fd(m), path)
        };
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave_path)
            .expect("open the pty's slave");
        let mut cmd = vbench_cmd(cfg, args, &[]);
        cmd.env("TERM", "xterm")
            .stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start vbench on a pty");
        drop(cmd);
        // Drain the terminal (a full pty would block vbench) until told to hang up; then
        // closing the master is the hang-up.
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut file = std::fs::File::from(master);
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let mut pfd = libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                let n = unsafe { libc::poll(&mut pfd, 1, 50) };
                if n > 0 {
                    match file.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => seen.extend_from_slice(&buf[..k]),
                    }
                }
            }
            drop(file);
            seen
        });
        OnTerminal {
            child,
            stop,
            reader: Some(reader),
        }
    }

    /// Close the terminal (the ssh connection went away); returns what it showed until then.
    fn hang_up(&mut self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self.reader.take().map(|r| r.join().unwrap_or_default());
        String::from_utf8_lossy(&seen.unwrap_or_default()).into_owned()
    }
}

#[test]
fn a_closed_ssh_session_stops_the_benchmark_saves_the_run_and_resume_finishes() {
    let rt = rt();
    let d = images(&rt);
    // The client ignores SIGTERM: stopping it takes the 10 s grace before SIGKILL (the point
    // lasts longer), so the shell's second SIGHUP lands while vbench is still stopping it.
    let s = setup(
        "hup",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            client_env: &[("VLLM_STANDIN_BENCH_IGNORE_SIGTERM", "1")],
            ..Default::default()
        },
        LONG,
    );
    own_client(&rt, &d, &s);
    let results = s.results.path();
    let mut term = OnTerminal::start(&s.cfg_path, &["run", "--standin"]);
    wait_manifest(results, Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    let shown = term.hang_up();
    // The tty renderer drew on the terminal until then.
    assert!(shown.contains("tt/"), "{shown}");
    // vbench got the kernel's SIGHUP and is stopping the benchmark, which ignores SIGTERM:
    // its stop runs in the client for the 10 s grace.
    wait_stopping(&rt, &d, &s.client);
    // The shell, hung up too, sends its jobs SIGHUP: a second hang-up changes nothing.
    signal_pid(term.child.id(), libc::SIGHUP);
    let st = wait_child(&mut term.child, Duration::from_secs(90));
    assert_eq!(st.code(), Some(130), "{st:?}");
    // Saved: nothing marked running, the interrupted point pending with the next step.
    let m = the_run(results);
    assert_eq!(m.status, "interrupted", "{:#?}", m.points);
    assert_eq!(m.count(PointStatus::Running), 0);
    assert_eq!(m.points[0].status, PointStatus::Pending);
    assert!(
        m.points[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("runs again on --resume")),
        "{:?}",
        m.points[0].reason
    );
    assert_no_leftovers(&rt, &d, &s.client);
    // `--resume` finishes the run: every point, each with its file.
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin", "--resume"],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    let after = assert_all_ok(results, 1);
    assert_eq!(after.run_id, m.run_id);
    assert_no_leftovers(&rt, &d, &s.client);
}

#[test]
fn sighup_is_treated_like_sigterm_and_named() {
    let rt = rt();
    let d = images(&rt);
    let s = setup(
        "hupkill",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            ..Default::default()
        },
        TWO,
    );
    let v = Vbench::start(&s.cfg_path, &["--output", "plain", "run", "--standin"], &[]);
    let m = wait_manifest(s.results.path(), Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    v.signal(libc::SIGHUP);
    let (st, _, err) = v.finish(Duration::from_secs(60));
    assert_eq!(st.code(), Some(130), "{err}");
    assert!(
        err.contains("SIGHUP: stopping the benchmark in the client and saving the run"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "interrupted; `vbench run --resume {}` continues the run",
            m.run_id
        )),
        "{err}"
    );
    let m = the_run(s.results.path());
    assert_eq!(m.status, "interrupted");
    assert_eq!(m.count(PointStatus::Running), 0);
    assert_no_leftovers(&rt, &d, &s.client);
}

#[test]
fn a_second_sigint_exits_at_once_and_the_lock_goes_with_it() {
    let rt = rt();
    let d = images(&rt);
    let s = setup(
        "int2",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            client_env: &[("VLLM_STANDIN_BENCH_IGNORE_SIGTERM", "1")],
            ..Default::default()
        },
        "    input_lens: [128]\n    output_len: 120\n    concurrency: [1]\n    point_timeout: 120s\n",
    );
    own_client(&rt, &d, &s);
    let results = s.results.path();
    let v = Vbench::start(&s.cfg_path, &["--output", "plain", "run", "--standin"], &[]);
    let first_pid = v.pid();
    let m = wait_manifest(results, Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    v.signal(libc::SIGINT);
    // Stopping a benchmark that ignores SIGTERM takes the 10 s grace; the user insists.
    v.wait_stderr("SIGINT: stopping", Duration::from_secs(30));
    v.signal(libc::SIGINT);
    let (st, _, err) = v.finish(Duration::from_secs(60));
    assert_eq!(st.code(), Some(130), "{err}");
    assert!(err.contains("second signal (SIGINT): exiting now"), "{err}");
    // At once: vbench did not wait for the stop (the benchmark still runs in the client),
    // and the manifest still says running (resume recovers it).
    let running = rt
        .block_on(runner::bench_processes(&d, &s.client))
        .expect("ps");
    assert!(!running.is_empty(), "vbench waited for the stop");
    assert_eq!(the_run(results).points[0].status, PointStatus::Running);
    // The lock went with the process: resume is not refused (exit 6). It names the lock the
    // dead run left, stops the leftover benchmark, and finishes.
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin", "--resume"],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("pid {first_pid} is not running")),
        "{err}"
    );
    assert!(
        err.contains("a benchmark of the interrupted run is still running"),
        "{err}"
    );
    let after = assert_all_ok(results, 1);
    assert_eq!(after.run_id, m.run_id);
    assert_no_leftovers(&rt, &d, &s.client);
}

#[test]
fn a_benchmark_that_completes_while_being_stopped_is_kept() {
    let rt = rt();
    let d = images(&rt);
    // 40 tokens at 50 ms: each point ends (about 2 s) well within the 10 s a benchmark that
    // ignores SIGTERM is given before SIGKILL.
    let s = setup(
        "done2",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "50")],
            client_env: &[("VLLM_STANDIN_BENCH_IGNORE_SIGTERM", "1")],
            ..Default::default()
        },
        "    input_lens: [128]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 120s\n",
    );
    own_client(&rt, &d, &s);
    let results = s.results.path();
    let v = Vbench::start(&s.cfg_path, &["--output", "plain", "run", "--standin"], &[]);
    wait_manifest(results, Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    // The point is `running` in the manifest a moment before its benchmark starts in the
    // client; a signal in that moment stops a benchmark that never began (seen on a loaded
    // machine), which is not the case under test.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes(&rt, &d, &s.client)
        .iter()
        .any(|(_, c)| c.contains("bench serve") && !c.contains("vbt-ps"))
    {
        assert!(Instant::now() < deadline, "the benchmark never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    v.signal(libc::SIGTERM);
    let (st, _, err) = v.finish(Duration::from_secs(60));
    assert_eq!(st.code(), Some(130), "{err}");
    // The result it wrote while vbench waited is on the host and in the manifest, judged.
    let m = the_run(results);
    assert_eq!(m.status, "interrupted");
    assert_eq!(m.points[0].status, PointStatus::Ok, "{:#?}", m.points);
    assert_eq!(m.points[1].status, PointStatus::Pending);
    let files = host_files(results);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        m.points[0].result_file.as_deref(),
        Some(format!("tt/{}", files[0]).as_str())
    );
    assert_no_leftovers(&rt, &d, &s.client);
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin", "--resume"],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    let after = assert_all_ok(results, 2);
    assert_eq!(
        after.points[0].attempts, 1,
        "the kept point did not run again"
    );
}

// ---------------------------------------------------------------------------------------
// Case 9: stale locks
// ---------------------------------------------------------------------------------------

/// Start a run and SIGKILL it while its first point runs; returns (run id, vbench's pid).
fn kill_mid_point(s: &Setup) -> (String, u32) {
    let v = Vbench::start(&s.cfg_path, &["--output", "plain", "run", "--standin"], &[]);
    let pid = v.pid();
    let m = wait_manifest(s.results.path(), Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    v.signal(libc::SIGKILL);
    let (st, _, _) = v.finish(Duration::from_secs(30));
    assert_eq!(st.code(), None, "killed by a signal");
    (m.run_id, pid)
}

#[test]
fn the_lock_of_a_sigkilled_run_is_taken_over_and_the_run_resumed() {
    let rt = rt();
    let d = images(&rt);
    let s = setup(
        "kill9",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            ..Default::default()
        },
        TWO,
    );
    let results = s.results.path();
    let (run_id, pid) = kill_mid_point(&s);
    // The dead run's record is still in the file; nothing holds the lock.
    let rec = std::fs::read_to_string(results.join(LOCK_FILE)).expect("lock file");
    assert!(rec.contains(&run_id), "{rec}");
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin", "--resume"],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    let note = format!("the lock of run {run_id} (pid {pid} on ");
    assert!(
        err.contains("took over the lock")
            && err.contains(&note)
            && err.contains(&format!("pid {pid} is not running")),
        "{err}"
    );
    assert_all_ok(results, 2);
    assert_no_leftovers(&rt, &d, &s.client);
    // A run that ended normally leaves no record: the next one takes over nothing.
    assert_eq!(
        std::fs::read_to_string(results.join(LOCK_FILE)).expect("lock file"),
        ""
    );
}

/// A host process that is alive for the test and unrelated to vbench.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .arg("600")
                .spawn()
                .expect("start sleep"),
        )
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn after_a_restart_a_reused_pid_neither_holds_the_lock_nor_gets_signalled() {
    let rt = rt();
    let d = images(&rt);
    let s = setup(
        "reboot",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            ..Default::default()
        },
        TWO,
    );
    let results = s.results.path();
    let (run_id, _) = kill_mid_point(&s);
    // The machine restarts: the containers restart (the killed run's benchmark dies with
    // them), and the pids in the records may now be anyone's.
    rt.block_on(async {
        let b = bollard::Docker::connect_with_defaults().expect("bollard");
        for c in [&s.client, &s.server] {
            b.restart_container(
                c,
                None::<bollard::query_parameters::RestartContainerOptions>,
            )
            .await
            .expect("restart");
        }
    });
    // On the host, the lock record names a live process of another boot.
    let mut host_sleeper = Sleeper::start();
    let mut rec = Holder::me(&run_id);
    rec.pid = host_sleeper.pid();
    rec.boot_id = Some("00000000-0000-0000-0000-000000000000".into());
    std::fs::write(
        results.join(LOCK_FILE),
        serde_json::to_string_pretty(&rec).expect("json"),
    )
    .expect("write the lock record");
    // In the client, the benchmark's PID file names a live process group leader that has
    // nothing to do with the run (its pid reused after the restart).
    let (code, out) = sh(
        &rt,
        &d,
        &s.client,
        "setsid sleep 600 >/dev/null 2>&1 </dev/null & echo $!",
    );
    assert_eq!(code, Some(0));
    let planted: u32 = out.trim().parse().expect("pid");
    let (code, _) = sh(
        &rt,
        &d,
        &s.client,
        &format!("echo {planted} > {}", runner::pidfile(&run_id)),
    );
    assert_eq!(code, Some(0));
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin", "--resume"],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "the lock of run {run_id} (pid {} on ",
            host_sleeper.pid()
        )) && err.contains("the machine restarted since (another boot id)"),
        "{err}"
    );
    assert!(
        err.contains("restarted since the point began") && err.contains("stale PID file"),
        "{err}"
    );
    assert_all_ok(results, 2);
    // Neither unrelated process was touched.
    assert!(host_sleeper.alive());
    let (code, out) = sh(
        &rt,
        &d,
        &s.client,
        &format!("cat /proc/{planted}/cmdline | tr '\\0' ' '"),
    );
    assert_eq!(code, Some(0), "the planted process is gone");
    assert_eq!(out.trim(), "sleep 600");
    sh(&rt, &d, &s.client, &format!("kill {planted}"));
    assert_no_leftovers(&rt, &d, &s.client);
}

#[test]
fn a_record_naming_a_live_unrelated_pid_of_this_boot_is_stale() {
    // The record's pid is a live process, on this host and boot, that started at another
    // time than the holder: a reused pid. `vbench prune` takes the same lock, quickly.
    let results = tempfile::tempdir().expect("tempdir");
    let cfg = results.path().join("vbench.yaml");
    std::fs::write(&cfg, format!("results_dir: {}\n", results.path().display())).expect("cfg");
    let sleeper = Sleeper::start();
    let ticks = lock::start_ticks(sleeper.pid()).expect("the sleeper's start time");
    let mut rec = Holder::me("20250101_000000-dead");
    rec.pid = sleeper.pid();
    rec.start_ticks = Some(ticks + 1);
    std::fs::write(
        results.path().join(LOCK_FILE),
        serde_json::to_string_pretty(&rec).expect("json"),
    )
    .expect("record");
    let (st, _, err) = run(
        &cfg,
        &["--output", "plain", "prune", "--keep", "5"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "pid {} now belongs to another process (started at another time)",
            sleeper.pid()
        )),
        "{err}"
    );
    // In the library: the same record is judged a reused pid; the holder's own start time
    // would mean the process lives on without its lock.
    std::fs::write(
        results.path().join(LOCK_FILE),
        serde_json::to_string(&rec).expect("json"),
    )
    .expect("record");
    let lock = RunLock::acquire(results.path(), &Holder::me("test")).expect("taken over");
    assert_eq!(
        lock.stale.as_ref().map(|s| &s.why),
        Some(&Staleness::PidReused)
    );
    drop(lock);
    rec.start_ticks = Some(ticks);
    std::fs::write(
        results.path().join(LOCK_FILE),
        serde_json::to_string(&rec).expect("json"),
    )
    .expect("record");
    let lock = RunLock::acquire(results.path(), &Holder::me("test")).expect("taken over");
    assert_eq!(
        lock.stale.as_ref().map(|s| &s.why),
        Some(&Staleness::AliveWithoutLock)
    );
}

#[test]
fn a_live_run_is_never_taken_over_whatever_its_lock_file_says() {
    let rt = rt();
    let d = images(&rt);
    // One point of 100 tokens at 100 ms: the first run is busy for ~10 s.
    let long = "    input_lens: [128]\n    output_len: 100\n    concurrency: [1]\n    point_timeout: 120s\n";
    let s = setup(
        "live",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "100")],
            ..Default::default()
        },
        long,
    );
    let results = s.results.path();
    let first = Vbench::start(&s.cfg_path, &["--output", "plain", "run", "--standin"], &[]);
    let m = wait_manifest(results, Duration::from_secs(90), |m| {
        m.count(PointStatus::Running) == 1
    });
    let second = || {
        run(
            &s.cfg_path,
            &["--output", "plain", "run", "--standin"],
            &[],
            Duration::from_secs(60),
        )
    };
    let (st, _, err) = second();
    assert_eq!(st.code(), Some(6), "{err}");
    assert!(
        err.contains("another vbench run holds")
            && err.contains(&m.run_id)
            && err.contains(&format!("pid {}", first.pid()))
            && err.contains("wait for it to end"),
        "{err}"
    );
    // Someone rewrites the record to look stale (a dead pid of another boot): the kernel's
    // lock still says the holder lives.
    let mut fake = Holder::me(&m.run_id);
    fake.pid = u32::MAX - 7;
    fake.boot_id = Some("00000000-0000-0000-0000-000000000000".into());
    std::fs::write(
        results.join(LOCK_FILE),
        serde_json::to_string_pretty(&fake).expect("json"),
    )
    .expect("rewrite");
    let (st, _, err) = second();
    assert_eq!(st.code(), Some(6), "{err}");
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "prune", "--keep", "0"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(st.code(), Some(6), "{err}");
    assert_eq!(
        manifest::list_runs(results).len(),
        1,
        "nothing pruned, no run added"
    );
    // The holder was not disturbed: it finishes its run.
    let (st, _, err) = first.finish(Duration::from_secs(120));
    assert_eq!(st.code(), Some(0), "{err}");
    assert_all_ok(results, 1);
    assert_no_leftovers(&rt, &d, &s.client);
}

// ---------------------------------------------------------------------------------------
// Case 11: secrets
// ---------------------------------------------------------------------------------------

/// A fresh random key (std's per-process random hasher keys, nothing read from disk).
fn random_key() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut parts = Vec::new();
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        parts.push(format!("{:016x}", h.finish()));
    }
    format!("sk-vbt-{}", parts.join(""))
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                seen += 1;
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    hits.push(p);
                }
            }
        }
    }
    assert!(
        seen > 10,
        "only {seen} files searched under {}",
        dir.display()
    );
    hits
}

/// `docker inspect` of `container`, all of it, as JSON text.
fn inspect_json(rt: &tokio::runtime::Runtime, container: &str) -> String {
    rt.block_on(async {
        let b = bollard::Docker::connect_with_defaults().expect("bollard");
        let r = b.inspect_container(container, None).await.expect("inspect");
        serde_json::to_string(&r).expect("json")
    })
}

/// Samples the client's processes while a run goes on: every command line seen, and the
/// `OPENAI_API_KEY` of every `vllm bench serve` seen (read from its environment).
struct ClientSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<String>, Vec<String>)>,
}

impl ClientSampler {
    fn start(client: String) -> ClientSampler {
        const SAMPLE: &str = r#": vbt-ps; for d in /proc/[0-9]*; do c=$(tr '\0\n' '  ' < "$d/cmdline" 2>/dev/null) || continue; [ -n "$c" ] || continue; echo "P $c"; case $c in *"bench serve"*) tr '\0' '\n' < "$d/environ" 2>/dev/null | grep '^OPENAI_API_KEY=' | sed 's/^/E /';; esac; done; exit 0"#;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let d = rt.block_on(common::docker());
            let (mut cmdlines, mut keys) = (Vec::new(), Vec::new());
            while !s.load(Ordering::Relaxed) {
                let spec = ExecSpec {
                    argv: vec!["sh".into(), "-c".into(), SAMPLE.into()],
                    deadline: Some(Duration::from_secs(30)),
                    ..Default::default()
                };
                if let Ok((_, out, _)) = rt.block_on(d.exec_capture(&client, &spec)) {
                    for l in out.lines() {
                        if let Some(c) = l.strip_prefix("P ") {
                            cmdlines.push(c.to_string());
                        } else if let Some(e) = l.strip_prefix("E ") {
                            keys.push(e.to_string());
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (cmdlines, keys)
        });
        ClientSampler { stop, handle }
    }

    fn finish(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("sampler")
    }
}

async fn get(url: &str, key: Option<&str>) -> u16 {
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut r = c.get(url);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().await.expect("request").status().as_u16()
}

#[test]
fn an_api_key_reaches_server_and_client_only_through_their_environments() {
    let rt = rt();
    let d = images(&rt);
    let key = random_key();
    // Points long enough (~2 s) for the sampler to see the benchmark's process.
    let s = setup(
        "key",
        &Opts {
            server_env: &[("VLLM_STANDIN_TPOT_MS", "50")],
            server_lines: "  api_key: ${VLLM_API_KEY:-}\n",
            ..Default::default()
        },
        "    input_lens: [128]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 120s\n",
    );
    let results = s.results.path();
    let sampler = ClientSampler::start(s.client.clone());
    let (st, out, err) = run(
        &s.cfg_path,
        &["--json", "run", "--standin"],
        &[("VLLM_API_KEY", &key)],
        Duration::from_secs(180),
    );
    let (client_cmdlines, client_keys) = sampler.finish();
    // The client authenticated: every request of both points completed against a server
    // that refuses requests without the key.
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_all_ok(results, 2);
    // The server enforces the key like vLLM: /v1/* needs the bearer; /health and /metrics
    // are open.
    let base = format!("http://127.0.0.1:{}", s.port);
    rt.block_on(async {
        assert_eq!(get(&format!("{base}/v1/models"), None).await, 401);
        assert_eq!(
            get(&format!("{base}/v1/models"), Some("wrong-key")).await,
            401
        );
        assert_eq!(get(&format!("{base}/v1/models"), Some(&key)).await, 200);
        assert_eq!(get(&format!("{base}/health"), None).await, 200);
        assert_eq!(get(&format!("{base}/metrics"), None).await, 200);
    });
    // The /metrics scrapes went on (they need no key): each point has server telemetry.
    let m = the_run(results);
    for p in &m.points {
        let t = p.telemetry.as_ref().expect("telemetry");
        assert!(t.contains_key("vllm.running"), "{t:?}");
    }
    // The key reached the benchmark through its environment, and never its command line.
    assert!(
        client_cmdlines.iter().any(|c| c.contains("bench serve")),
        "the sampler never saw the benchmark"
    );
    assert!(!client_keys.is_empty(), "no benchmark environment read");
    assert!(
        client_keys
            .iter()
            .all(|k| *k == format!("OPENAI_API_KEY={key}")),
        "{client_keys:?}"
    );
    let leaked: Vec<&String> = client_cmdlines
        .iter()
        .filter(|c| c.contains(&key))
        .collect();
    assert!(
        leaked.is_empty(),
        "key on a client command line: {leaked:?}"
    );
    // `vllm serve` has it as VLLM_API_KEY in its environment; no command line in the
    // server container has it (neither /proc nor ps).
    let (code, env_out) = sh(
        &rt,
        &d,
        &s.server,
        r#"for d in /proc/[0-9]*; do case $(tr '\0\n' '  ' < "$d/cmdline" 2>/dev/null) in "vllm serve"*) tr '\0' '\n' < "$d/environ" | grep '^VLLM_API_KEY=';; esac; done; exit 0"#,
    );
    assert_eq!(code, Some(0));
    assert_eq!(env_out.trim(), format!("VLLM_API_KEY={key}"), "{env_out}");
    for c in [&s.server, &s.client] {
        for (pid, cmd) in processes(&rt, &d, c) {
            assert!(
                !cmd.contains(&key),
                "key on {c}'s command line (pid {pid}): {cmd}"
            );
        }
        let (_, ps) = sh(&rt, &d, c, "ps -o args");
        assert!(ps.contains("sleep") && !ps.contains(&key), "{ps}");
        // `docker inspect`: not in the configuration, labels, command, nor even Env.
        let inspect = inspect_json(&rt, c);
        assert!(inspect.contains("vbench.test"), "{inspect}");
        assert!(!inspect.contains(&key), "key in docker inspect of {c}");
    }
    // The server's own log in its container.
    let (_, log) = sh(&rt, &d, &s.server, "cat /tmp/vbench-serve.log");
    assert!(log.contains("Application startup complete") && !log.contains(&key));
    // vbench's output and events, and every file it wrote.
    assert!(
        out.lines().count() > 5 && !out.contains(&key),
        "key in the events"
    );
    assert!(!err.contains(&key), "key on stderr");
    assert_eq!(files_containing(results, &key), Vec::<PathBuf>::new());
    // The other commands that read the configuration or probe the server.
    for args in [&["config"][..], &["status"][..], &["--json", "status"][..]] {
        let (st, out, err) = run(
            &s.cfg_path,
            args,
            &[("VLLM_API_KEY", &key)],
            Duration::from_secs(60),
        );
        assert_eq!(st.code(), Some(0), "{args:?}: {err}");
        assert!(!out.contains(&key) && !err.contains(&key), "{args:?}");
        if args == ["config"] {
            assert!(out.contains("api_key") && out.contains("***"), "{out}");
        }
    }
    assert_no_leftovers(&rt, &d, &s.client);
}

#[test]
fn a_wrong_or_missing_api_key_ends_at_once_with_exit_3_and_the_server_is_kept() {
    let rt = rt();
    let d = images(&rt);
    let key = random_key();
    let wrong = random_key();
    let s = setup(
        "badkey",
        &Opts {
            server_lines: "  api_key: ${VLLM_API_KEY:-}\n",
            ..Default::default()
        },
        "    input_lens: [128]\n    output_len: 8\n    concurrency: [1]\n    point_timeout: 60s\n",
    );
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "up", "--standin"],
        &[("VLLM_API_KEY", &key)],
        Duration::from_secs(120),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    // The server runs with one key; vbench is given another: refused at once (not after the
    // 60 s stage deadline), exit 3, the cause and the next step named, and no key shown.
    let t = Instant::now();
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin"],
        &[("VLLM_API_KEY", &wrong)],
        Duration::from_secs(120),
    );
    assert_eq!(st.code(), Some(3), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(50),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        err.contains("the server refused vbench's API key (GET /v1/models: HTTP 401)")
            && err.contains("set server.api_key to that key")
            && err.contains("vbench down"),
        "{err}"
    );
    assert!(!err.contains(&key) && !err.contains(&wrong), "{err}");
    // No key at all.
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin"],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(st.code(), Some(3), "{err}");
    assert!(err.contains("vbench has none: set server.api_key"), "{err}");
    // Nothing was started or recorded for the refused runs, and the running server was kept.
    assert!(manifest::list_runs(s.results.path()).is_empty());
    let base = format!("http://127.0.0.1:{}", s.port);
    rt.block_on(async {
        assert_eq!(get(&format!("{base}/v1/models"), Some(&key)).await, 200);
    });
    assert_eq!(
        files_containing_any(s.results.path(), &[&key, &wrong]),
        Vec::<PathBuf>::new()
    );
    // The refusal came before the client was needed: nothing was created there.
    assert!(
        rt.block_on(d.inspect_container(&s.client))
            .expect("inspect")
            .is_none()
    );
    // With the right key the same configuration runs.
    let (st, _, err) = run(
        &s.cfg_path,
        &["--output", "plain", "run", "--standin"],
        &[("VLLM_API_KEY", &key)],
        Duration::from_secs(120),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    assert_all_ok(s.results.path(), 1);
    assert_no_leftovers(&rt, &d, &s.client);
}

fn files_containing_any(dir: &Path, needles: &[&str]) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for n in needles {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if std::fs::read(&p)
                    .is_ok_and(|b| b.windows(n.len()).any(|w| w == n.as_bytes()))
                {
                    all.push(p);
                }
            }
        }
    }
    all
}

#[test]
fn the_channel_agent_never_puts_the_environment_on_a_command_line() {
    // The agent on the host, with an `env` first on PATH that records its own argv: what
    // `ps` would show while it runs.
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = dir.path().join("vbench-agent.sh");
    std::fs::write(&agent, vbench::channel::SH_AGENT).expect("agent");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let log = dir.path().join("env-argv.log");
    let real_env = ["/usr/bin/env", "/bin/env"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("an env binary");
    let fake = bin.join("env");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$VBT_ENV_LOG\"\nexec {real_env} \"$@\"\n"),
    )
    .expect("fake env");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let key = random_key();
    let frames = vbench::channel::protocol::request(
        1,
        &[
            "printenv".to_string(),
            "OPENAI_API_KEY".into(),
            "A.B".into(),
        ],
        &[format!("OPENAI_API_KEY={key}"), "A.B=dotted".into()],
        None,
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("sh")
        .arg(&agent)
        .env("PATH", path)
        .env("VBT_ENV_LOG", &log)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(frames.as_bytes()).expect("frames");
    stdin.write_all(b"QUIT\n").expect("quit");
    drop(stdin);
    let out = child.wait_with_output().expect("agent output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("L 1 {key}\nL 1 dotted\n")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let argv = std::fs::read_to_string(&log).expect("env ran");
    assert!(argv.contains("printenv OPENAI_API_KEY A.B"), "{argv}");
    assert!(
        !argv.contains(&key),
        "the key was on env's command line: {argv}"
    );
    // A name sh cannot export still reaches the command, through env.
    assert!(argv.contains("A.B=dotted"), "{argv}");
}
