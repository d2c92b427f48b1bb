//! Infrastructure faults mid-run, end to end: `vbench run --standin` as a child process against
//! the real Docker Engine, a fault injected while a point runs, then `--resume`.
//!
//! - the client container killed, or stopped (exit 21);
//! - the Docker Engine lost: vbench talks to the engine through a unix-socket proxy this test
//!   owns, which it cuts (listener and every open connection closed) and later restores
//!   (exit 22);
//! - the client disconnected from the run's network while the server serves (exit 23, not
//!   the dead server's 4);
//! - the server hanging mid-point (`VLLM_STANDIN_HANG_AFTER_REQUESTS`): the point deadline
//!   stops the benchmark, vbench stops the hung server (exit 4).
//!
//! Each case asserts the exit code; one message naming the cause and the `--resume` command;
//! no result lost (every result file the client wrote is on the host, byte for byte, and in
//! the manifest); no orphan (no process beyond the keep-alive and the server in either
//! container, no exec running, and after clean-up no container or network); and that
//! `--resume` then finishes the run.

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vbench::docker::{Docker, ExecSpec};
use vbench::events::Collector;
use vbench::sweep::manifest::{self, Manifest, PointStatus};
use vbench::sweep::runner;

use common::{Cleanup, unique};

/// The result directory of the client containers (the configuration's default).
const CLIENT_RESULTS: &str = "/root/bench_results";

/// A test's stand-in set-up: config file, results directory, the names it cleans up.
struct Setup {
    cfg_path: PathBuf,
    results: tempfile::TempDir,
    server: String,
    client: String,
    network: String,
    cleanup: Cleanup,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `server_env`: stand-in knobs (`VLLM_STANDIN_*`). `sweep`: the YAML of sweep `tt`.
fn setup(prefix: &str, server_env: &[(&str, &str)], sweep: &str) -> Setup {
    let results = tempfile::tempdir().expect("tempdir");
    let (server, client, network) = (
        unique(&format!("{prefix}-srv")),
        unique(&format!("{prefix}-cli")),
        unique(&format!("{prefix}-net")),
    );
    let cleanup = Cleanup::new();
    cleanup.container(&server);
    cleanup.container(&client);
    cleanup.network(&network);
    let mut env = String::from("    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\n");
    for (k, v) in server_env {
        env.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    let yaml = format!(
        "server:\n  container: {server}\n  publish_port: {port}\n  startup_timeout: 60s\n  env:\n{env}client:\n  container: {client}\nnetwork: {network}\nresults_dir: {res}\nsweeps:\n  tt:\n{sweep}run:\n  sweeps: [tt]\n",
        port = free_port(),
        res = results.path().display(),
    );
    let cfg_path = results.path().join("vbench.yaml");
    std::fs::write(&cfg_path, yaml).expect("write config");
    Setup {
        cfg_path,
        results,
        server,
        client,
        network,
        cleanup,
    }
}

/// Four points of one request each, 40 output tokens: with a 100 ms decode step a point
/// runs for seconds, long enough to be hit mid-point.
const FOUR_POINTS: &str = "    input_lens: [128, 256]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 60s\n";

/// A child vbench, killed (by its own pid) if the test ends while it still runs.
struct Vbench(Child);

impl Drop for Vbench {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Vbench {
    /// `vbench -c CFG --output plain ARGS…`, with `env` added.
    fn start(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> Vbench {
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
        Vbench(child)
    }

    /// Wait (with a deadline) and return (status, stdout, stderr).
    fn finish(mut self, within: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.0.try_wait().expect("wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "vbench did not finish within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, out, err)
    }
}

/// Run vbench to its end off the async runtime (the engine proxy lives on it).
async fn vbench(
    cfg: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    within: Duration,
) -> (ExitStatus, String, String) {
    let cfg = cfg.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Vbench::start(&cfg, &args, &env).finish(within)
    })
    .await
    .expect("join")
}

fn the_run(results: &Path) -> Manifest {
    let id = manifest::find_run(results, None).expect("a run");
    Manifest::load(&manifest::runs_dir(results).join(id)).expect("manifest")
}

/// Poll until `pred` holds (deadline `within`): the run's manifest, and the client.
async fn wait_mid_point(d: &Docker, s: &Setup, within: Duration) -> Manifest {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(id) = manifest::find_run(s.results.path(), None)
            && let Ok(m) = Manifest::load(&manifest::runs_dir(s.results.path()).join(id))
            && m.count(PointStatus::Ok) >= 1
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
            "the run never had a point running after a finished one within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn images() {
    let d = common::docker().await;
    vbench::standin::ensure_images(&d, "latest", &Collector::default())
        .await
        .expect("stand-in images");
}

/// The one line that says what happened and how to go on: it names `cause` and the
/// `--resume` command of the run.
fn assert_one_message(err: &str, cause: &str, run_id: &str) {
    let resume = format!("vbench run --resume {run_id}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(&resume)).collect();
    assert_eq!(lines.len(), 1, "one message names `{resume}`:\n{err}");
    assert!(
        lines[0].contains(cause),
        "the message names the cause ({cause}): {}",
        lines[0]
    );
    assert!(!err.contains("error:"), "no error besides it:\n{err}");
}

/// Every `.json` result file in the client container (stopped or not): path relative to the
/// results directory → bytes.
async fn client_results(d: &Docker, client: &str) -> BTreeMap<String, Vec<u8>> {
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

/// No result lost: every result the client wrote is on the host, the same bytes, and the
/// result of a point in the manifest. Returns how many there are.
async fn assert_no_result_lost(d: &Docker, s: &Setup) -> usize {
    let in_client = client_results(d, &s.client).await;
    let m = the_run(s.results.path());
    let in_manifest: Vec<&str> = m
        .points
        .iter()
        .flat_map(|p| p.result_file.iter().chain(&p.superseded))
        .map(String::as_str)
        .collect();
    for (rel, bytes) in &in_client {
        let host = std::fs::read(s.results.path().join(rel))
            .unwrap_or_else(|e| panic!("{rel}, written by the client, is not on the host: {e}"));
        assert_eq!(
            &host, bytes,
            "{rel}: the host copy differs from the client's"
        );
        assert!(
            in_manifest.contains(&rel.as_str()),
            "{rel} is not in the manifest: {in_manifest:?}"
        );
    }
    in_client.len()
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

/// What runs beyond the keep-alive and the server in either container, and the execs
/// still running there (the server's launcher aside).
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
async fn assert_no_orphan(d: &Docker, s: &Setup) {
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
async fn assert_cleaned_up(d: &Docker, s: Setup) {
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

/// `--resume` finishes the run: exit 0, every point ok, each with one result file; the
/// point hit by the fault ran again (`attempts` 2) and the points before it did not.
async fn resume_finishes(
    d: &Docker,
    s: &Setup,
    before: &Manifest,
    hit: usize,
    env: &[(&str, &str)],
) {
    let (st, _, err) = vbench(
        &s.cfg_path,
        &["run", "--standin", "--resume"],
        env,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(st.code(), Some(0), "the resume: {err}");
    let after = the_run(s.results.path());
    assert_eq!(after.run_id, before.run_id, "the resume continued the run");
    assert_eq!(after.status, "finished");
    assert_eq!(
        after.count(PointStatus::Ok),
        after.points.len(),
        "{:#?}",
        after.points
    );
    for (b, a) in before.points.iter().zip(&after.points) {
        if b.status == PointStatus::Ok {
            assert_eq!(a.attempts, b.attempts, "{} ran again", a.point.id);
        }
    }
    assert!(
        after.points[hit].attempts <= 2,
        "{:?}",
        after.points[hit].attempts
    );
    assert_eq!(
        assert_no_result_lost(d, s).await,
        after.points.len(),
        "one result per point in the client"
    );
    assert_no_orphan(d, s).await;
}

/// Index of the point that was running when the fault was injected.
fn running_point(m: &Manifest) -> usize {
    m.points
        .iter()
        .position(|p| p.status == PointStatus::Running)
        .expect("a running point")
}

/// Case 3: the client container killed (or stopped) while a point runs.
async fn client_lost_mid_point(prefix: &str, kill: bool) {
    images().await;
    let d = common::docker().await;
    let s = setup(prefix, &[("VLLM_STANDIN_TPOT_MS", "100")], FOUR_POINTS);
    let child = {
        let cfg = s.cfg_path.clone();
        tokio::task::spawn_blocking(move || Vbench::start(&cfg, &["run", "--standin"], &[]))
            .await
            .expect("join")
    };
    let mid = wait_mid_point(&d, &s, Duration::from_secs(120)).await;
    let hit = running_point(&mid);
    if kill {
        d.kill_container(&s.client, "SIGKILL").await.expect("kill");
    } else {
        d.stop_container(&s.client, Duration::from_secs(10))
            .await
            .expect("stop");
    }
    let (st, _, err) = tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(120)))
        .await
        .expect("join");
    assert_eq!(st.code(), Some(21), "{err}");
    let m = the_run(s.results.path());
    assert_one_message(
        &err,
        &format!(
            "the client container died or was stopped mid-run: container {}",
            s.client
        ),
        &m.run_id,
    );
    assert_eq!(m.status, "client_lost");
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert_eq!(m.points[hit].status, PointStatus::Pending);
    let reason = m.points[hit].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains(&format!("container {} stopped", s.client))
            && reason.contains("runs again on --resume"),
        "{reason}"
    );
    if kill {
        assert!(reason.contains("killed"), "{reason}");
    }
    assert!(m.points[..hit].iter().all(|p| p.status == PointStatus::Ok));
    assert_eq!(assert_no_result_lost(&d, &s).await, hit);
    assert_no_orphan(&d, &s).await;
    // The resume starts the client container again and runs the point again.
    resume_finishes(&d, &s, &m, hit, &[]).await;
    assert_eq!(the_run(s.results.path()).points[hit].attempts, 2);
    assert_cleaned_up(&d, s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_container_killed_mid_point_exits_21_and_resume_runs_the_point_again() {
    client_lost_mid_point("killcli", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_container_stopped_mid_point_exits_21_and_resume_runs_the_point_again() {
    client_lost_mid_point("stopcli", false).await;
}

/// A unix-socket proxy in front of the Docker Engine that the test can cut (listener and
/// every open connection closed: the engine is gone for whoever used the proxy) and restore.
struct EngineProxy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    live: Mutex<Option<Live>>,
}

struct Live {
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// The engine's own socket (`DOCKER_HOST` when it names a unix socket).
fn engine_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

impl EngineProxy {
    fn start() -> EngineProxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = EngineProxy {
            path: dir.path().join("engine.sock"),
            _dir: dir,
            live: Mutex::new(None),
        };
        p.restore();
        p
    }

    /// `unix://<socket>` for `DOCKER_HOST`.
    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Listen (again): each connection is forwarded to the engine's socket.
    fn restore(&self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = tokio::net::UnixListener::bind(&self.path).expect("bind the proxy");
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let kept = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut engine) = tokio::net::UnixStream::connect(engine_socket()).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut engine).await;
                    }
                });
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(task);
            }
        });
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(Live { accept, conns });
    }

    /// Close the listener and every open connection; connecting is then refused.
    async fn cut(&self) {
        let Some(live) = self.live.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        live.accept.abort();
        let _ = live.accept.await;
        let conns: Vec<_> =
            std::mem::take(&mut *live.conns.lock().unwrap_or_else(|e| e.into_inner()));
        for c in &conns {
            c.abort();
        }
        for c in conns {
            let _ = c.await;
        }
    }
}

/// Case 4: the Docker Engine lost mid-point, found again.
#[tokio::test(flavor = "multi_thread")]
async fn docker_engine_lost_mid_run_exits_22_and_resume_finishes_once_it_answers() {
    images().await;
    let d = common::docker().await;
    let s = setup("engine", &[("VLLM_STANDIN_TPOT_MS", "100")], FOUR_POINTS);
    let proxy = EngineProxy::start();
    let host = proxy.host();
    let child = {
        let (cfg, host) = (s.cfg_path.clone(), host.clone());
        tokio::task::spawn_blocking(move || {
            Vbench::start(&cfg, &["run", "--standin"], &[("DOCKER_HOST", &host)])
        })
        .await
        .expect("join")
    };
    let mid = wait_mid_point(&d, &s, Duration::from_secs(120)).await;
    let hit = running_point(&mid);
    proxy.cut().await;
    let (st, _, err) = tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(180)))
        .await
        .expect("join");
    assert_eq!(st.code(), Some(22), "{err}");
    let m = the_run(s.results.path());
    assert_one_message(
        &err,
        &format!("lost the Docker Engine mid-run: the Docker Engine at {host} does not answer"),
        &m.run_id,
    );
    assert_eq!(m.status, "engine_lost");
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    // What became of the point's benchmark is learnt on resume.
    assert_eq!(m.points[hit].status, PointStatus::Running);
    assert!(
        m.points[hit]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("the Docker Engine was lost during this point"),
        "{:?}",
        m.points[hit].reason
    );
    assert!(m.points[..hit].iter().all(|p| p.status == PointStatus::Ok));
    // While the engine is away, resuming fails at once as set-up (nothing ran).
    let (st, _, err) = vbench(
        &s.cfg_path,
        &["run", "--standin", "--resume"],
        &[("DOCKER_HOST", &host)],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(st.code(), Some(3), "{err}");
    assert_eq!(
        the_run(s.results.path()),
        m,
        "a failed resume changes nothing"
    );
    proxy.restore();
    resume_finishes(&d, &s, &m, hit, &[("DOCKER_HOST", &host)]).await;
    assert_cleaned_up(&d, s).await;
}

/// Case 5: the client cut from the run's network mid-point, the server serving.
#[tokio::test(flavor = "multi_thread")]
async fn network_cut_mid_point_exits_23_not_4_and_resume_reconnects_and_finishes() {
    images().await;
    let d = common::docker().await;
    // In-flight requests of a cut client hang: the point deadline ends the point.
    let sweep = "    input_lens: [128, 256]\n    output_len: 40\n    concurrency: [1, 2]\n    point_timeout: 20s\n";
    let s = setup("netcut", &[("VLLM_STANDIN_TPOT_MS", "100")], sweep);
    let child = {
        let cfg = s.cfg_path.clone();
        tokio::task::spawn_blocking(move || Vbench::start(&cfg, &["run", "--standin"], &[]))
            .await
            .expect("join")
    };
    let mid = wait_mid_point(&d, &s, Duration::from_secs(120)).await;
    let hit = running_point(&mid);
    d.disconnect_network(&s.client, &s.network)
        .await
        .expect("disconnect");
    let (st, _, err) = tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(180)))
        .await
        .expect("join");
    assert_eq!(st.code(), Some(23), "{err}");
    let m = the_run(s.results.path());
    assert_one_message(
        &err,
        "the client cannot reach the server, which answers on the host (a network problem, not the server)",
        &m.run_id,
    );
    assert!(
        err.contains(&format!(
            "container {} is not connected to network {}",
            s.client, s.network
        )),
        "{err}"
    );
    assert!(!err.contains("server stopped serving"), "{err}");
    assert_eq!(m.status, "server_unreachable");
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert_eq!(m.points[hit].status, PointStatus::Pending);
    assert!(
        m.points[hit]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("the client could not reach the server"),
        "{:?}",
        m.points[hit].reason
    );
    assert_eq!(assert_no_result_lost(&d, &s).await, hit);
    assert_no_orphan(&d, &s).await;
    // The resume connects the client to the run's network again and finishes.
    resume_finishes(&d, &s, &m, hit, &[]).await;
    let st = d.inspect_container(&s.client).await.expect("inspect");
    assert!(st.expect("client").networks.contains(&s.network));
    assert_cleaned_up(&d, s).await;
}

/// Case 6: the server hangs mid-point.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_hung_mid_point_is_stopped_by_the_point_deadline_exit_4_and_resume_finishes() {
    images().await;
    let d = common::docker().await;
    // Two requests per point, one after the other. Completed requests: 1 = `up`'s readiness
    // test, 2–3 point 1, 4–5 point 2, 6 the first of point 3; then the server hangs, the
    // second request of point 3 with it. The resumed run's fresh server completes 5: it
    // finishes before it would hang.
    let sweep = "    input_lens: [128, 256, 384, 512]\n    output_len: 16\n    concurrency: [1]\n    prompts_per_concurrency: 2\n    point_timeout: 15s\n";
    let s = setup("hang", &[("VLLM_STANDIN_HANG_AFTER_REQUESTS", "6")], sweep);
    let (st, _, err) = vbench(
        &s.cfg_path,
        &["run", "--standin"],
        &[],
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(st.code(), Some(4), "{err}");
    let m = the_run(s.results.path());
    assert_one_message(&err, "vllm serve hung", &m.run_id);
    assert!(
        err.contains("vbench stopped it, so --resume starts a fresh server"),
        "{err}"
    );
    assert_eq!(m.status, "server_failed");
    assert_eq!(m.count(PointStatus::Failed), 0, "{:#?}", m.points);
    assert_eq!(m.points[2].status, PointStatus::Pending);
    assert!(
        m.points[2]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("vllm serve hung"),
        "{:?}",
        m.points[2].reason
    );
    assert!(m.points[..2].iter().all(|p| p.status == PointStatus::Ok));
    // The point deadline stopped the benchmark: nothing of it is left in the client.
    assert_eq!(assert_no_result_lost(&d, &s).await, 2);
    assert_no_orphan(&d, &s).await;
    resume_finishes(&d, &s, &m, 2, &[]).await;
    assert_cleaned_up(&d, s).await;
}

/// The client-side probe behind exit 23, in a client that has Python (as the vLLM images do):
/// the Debian test image with the real client's venv mounted (see `tests/client_worker.rs`),
/// a busybox `httpd` as the server. Reached while it serves; with its port closed, the probe
/// alone tells (both containers still on the network); cut from the network, both say so.
#[tokio::test(flavor = "multi_thread")]
async fn the_probe_from_a_client_with_python_tells_a_closed_port_and_a_cut_network() {
    use vbench::config::Config;
    use vbench::server::reach::{self, Reach};
    let venv = std::env::var_os("VBENCH_VLLM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vbench/vllm-0.33.0-venv"));
    let python = venv.join("bin/python3");
    assert!(
        python.is_file(),
        "no venv at {} (VBENCH_VLLM_VENV): run scripts/setup-real-client.sh",
        venv.display()
    );
    let base = Command::new(&python)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .expect("run the venv's python");
    let base = String::from_utf8(base.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let image = std::env::var("VBENCH_DEBIAN_IMAGE")
        .unwrap_or_else(|_| "vbench-test/debian:bookworm".into());
    let d = common::docker().await;
    assert!(
        d.inspect_image(&image).await.expect("inspect").is_some(),
        "the Debian client image {image} is missing: run scripts/build-debian-image.sh"
    );
    common::busybox_image().await;
    let cleanup = Cleanup::new();
    let (net, srv, cli) = (
        unique("probe-net"),
        unique("probe-srv"),
        unique("probe-cli"),
    );
    cleanup.network(&net);
    cleanup.container(&srv);
    cleanup.container(&cli);
    d.ensure_network(&net, &common::test_labels())
        .await
        .expect("network");
    d.ensure_container(&common::busybox_spec(&srv, Some(&net)))
        .await
        .expect("server");
    let (o, _, err) = d
        .exec_capture(
            &srv,
            &ExecSpec::argv(["sh", "-c", "mkdir -p /www && echo ok > /www/health"]),
        )
        .await
        .expect("www");
    assert_eq!(o.exit_code, Some(0), "{err}");
    let httpd = ExecSpec {
        argv: ["httpd", "-f", "-p", "8000", "-h", "/www"]
            .map(String::from)
            .to_vec(),
        pidfile: Some("/tmp/httpd.pid".into()),
        ..Default::default()
    };
    d.exec_detached(&srv, &httpd).await.expect("httpd");
    let venv_s = venv.display().to_string();
    let client = vbench::docker::ContainerSpec {
        name: cli.clone(),
        image,
        network: Some(net.clone()),
        labels: common::test_labels(),
        keepalive: true,
        volumes: vec![format!("{venv_s}:{venv_s}:ro"), format!("{base}:{base}:ro")],
        env: vec![format!("PATH={venv_s}/bin:/usr/sbin:/usr/bin:/sbin:/bin")],
        ..Default::default()
    };
    d.ensure_container(&client).await.expect("client");
    let mut cfg = Config::default();
    cfg.server.container = srv.clone();
    cfg.server.port = 8000;
    cfg.client.container = cli.clone();
    cfg.network = net.clone();
    // httpd may take a moment to listen.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = reach::from_client(&d, &cfg).await.expect("probe");
        if r == Reach::Reached {
            break;
        }
        assert!(Instant::now() < deadline, "never reached: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The port closed, both containers on the network: only the probe can tell.
    d.stop_tracked(&srv, "/tmp/httpd.pid", Duration::from_secs(5))
        .await
        .expect("stop httpd");
    match reach::from_client(&d, &cfg).await.expect("probe") {
        Reach::Unreachable(why) => {
            assert!(
                why.contains("python3:") && why.contains("Connection refused"),
                "{why}"
            );
            assert!(!why.contains("not connected"), "{why}");
        }
        r => panic!("the closed port was reached: {r:?}"),
    }
    d.disconnect_network(&cli, &net).await.expect("disconnect");
    match reach::from_client(&d, &cfg).await.expect("probe") {
        Reach::Unreachable(why) => assert!(
            why.contains("python3:")
                && why.contains(&format!(
                    "container {cli} is not connected to network {net}"
                )),
            "{why}"
        ),
        r => panic!("the cut client reached the server: {r:?}"),
    }
}
