//! The server lifecycle (`vbench up / status / logs / gpu / down`): bring `vllm serve` up in
//! the server container, prove it ready, explain every failure, and stop it again.
//!
//! Submodules, one job each: `argv` (the serve command line and its launcher), `spec` (the
//! containers vbench creates, GPU preset), `diagnose` (log classifier), `readiness` (the pure
//! state machine), `wait` (the driver that feeds it: processes, log, HTTP probes), `probe`
//! (HTTP), `record` (the JSON server record), `status`, `down`, `client` (client container),
//! `reach` (whether the client reaches the server), `cluster` (a multi-node server over Ray).

pub mod argv;
pub mod client;
pub mod cluster;
pub mod diagnose;
pub mod down;
pub mod error;
pub mod gpus;
pub mod probe;
pub mod reach;
pub mod readiness;
pub mod record;
pub mod spec;
pub mod status;
pub mod wait;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::{Config, GpuMode};
use crate::docker::{Docker, Ensured, ExecSpec};
use crate::events::{self, Sink};

pub use client::ensure_client;
pub use down::{DownOptions, down, stop_if_hung};
pub use error::ServerError;

/// `vbench up` options.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Stop a server that serves something else, then start ours.
    pub restart: bool,
    /// Use the CPU stand-in images (`standin_config`) and build them if missing.
    pub standin: bool,
}

/// A ready server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    /// The id `/v1/models` lists (`--served-model-name`, else the model).
    pub model_id: String,
    /// The model path / HF id the server loaded (`root` in `/v1/models`).
    pub root: String,
    pub max_model_len: u64,
    pub version: String,
    /// URL other containers on the network use: http://<server container>:<port>
    pub url_in_network: String,
    /// URL vbench on the host uses for probes (127.0.0.1:<published port> if published, else the container's IP on the network)
    pub url_from_host: String,
    pub reused: bool,
    pub record_path: PathBuf,
    /// The image the server container runs, and its digest (the registry digest when the
    /// image has one, else its local id): what makes two runs' servers the same.
    pub image: String,
    pub image_digest: String,
    /// The `vllm serve` argv, secrets redacted.
    pub serve_args: Vec<String>,
    /// GPU names, one per GPU the server sees.
    pub gpus: Vec<String>,
}

/// What `health` found: cheap enough to call between sweep points.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub process_alive: bool,
    pub container_running: bool,
    pub healthy: bool,
    pub detail: String,
}

/// Make sure the CPU stand-in images exist (built locally, no registry).
pub async fn ensure_standin_images(docker: &Docker, sink: &dyn Sink) -> anyhow::Result<()> {
    crate::standin::ensure_images(docker, &crate::standin::tag(), sink)
        .await
        .map(|_| ())
}

/// Whether vbench created this container (`vbench.managed=true`, set only on containers
/// vbench creates; vbench's own images deliberately do not carry it, since containers inherit
/// their image's labels).
pub fn created_by_vbench(state: &crate::docker::ContainerState) -> bool {
    state.created_by_vbench
}

/// The model the stand-in serves when the configuration still names the production default.
pub const STANDIN_MODEL: &str = "facebook/opt-125m";

/// The same configuration pointed at the stand-in images (a stand-in image already
/// configured, of any tag, is kept): no GPU, one "GPU" of tensor
/// parallelism (unless GPUs were selected: then the configured size, which the load already
/// checked fits them, so the stand-in plays that many busy GPUs), a small model unless one
/// was chosen, a short start-up deadline, no HF cache mount, and the port published on
/// 127.0.0.1 (same number unless one was chosen).
pub fn standin_config(cfg: &Config) -> Config {
    let mut c = cfg.clone();
    let defaults = Config::default();
    let images = crate::standin::StandinImages::for_tag(&crate::standin::tag());
    // A stand-in image of another tag stays (a matrix comparing two stand-in images).
    if !crate::standin::is_standin_image(&c.server.image) {
        c.server.image = images.server;
    }
    if !crate::standin::is_standin_image(&c.client.image) {
        c.client.image = images.client;
    }
    c.server.gpu = GpuMode::None;
    if c.server.gpus.is_all() {
        c.server.tensor_parallel_size = 1;
    }
    if c.server.model == defaults.server.model {
        c.server.model = STANDIN_MODEL.to_string();
    }
    if c.server.startup_timeout == defaults.server.startup_timeout {
        c.server.startup_timeout = Duration::from_secs(120);
    }
    // The CPU stand-in needs no shared memory for NCCL and reads no weights.
    c.server.shm_size = None;
    c.server.volumes.retain(|v| !v.contains("huggingface"));
    c.client.volumes.retain(|v| !v.contains("huggingface"));
    if c.server.publish_port.is_none() {
        c.server.publish_port = Some(c.server.port);
    }
    c
}

/// The in-network URL (`http://<container>:<port>`; on the host network, the node's address).
pub fn url_in_network(cfg: &Config) -> String {
    host_network_url(cfg)
        .unwrap_or_else(|| format!("http://{}:{}", cfg.server.container, cfg.server.port))
}

/// A server container on the host network (a multi-node server's head) listens on its host's
/// address, `VLLM_HOST_IP` (else loopback): the client (on the same host's network) and vbench
/// reach it there.
fn host_network_url(cfg: &Config) -> Option<String> {
    (cfg.network == cluster::HOST_NETWORK).then(|| {
        let ip = cfg
            .server
            .env
            .get("VLLM_HOST_IP")
            .filter(|v| !v.is_empty())
            .map_or("127.0.0.1", String::as_str);
        format!("http://{ip}:{}", cfg.server.port)
    })
}

/// The URL vbench on the host probes: `127.0.0.1:<host port>` when the container publishes
/// the server port, else the container's address on its network (Linux hosts route to
/// bridge networks).
pub async fn url_from_host(docker: &Docker, cfg: &Config) -> anyhow::Result<String> {
    if let Some(url) = host_network_url(cfg) {
        return Ok(url);
    }
    let state = docker
        .inspect_container(&cfg.server.container)
        .await
        .with_context(|| format!("cannot inspect {}", cfg.server.container))?;
    match state.as_ref().and_then(|s| loopback_url(s, cfg)) {
        Some(url) => Ok(url),
        None => bridge_url(docker, cfg).await,
    }
}

/// `http://127.0.0.1:<host port>` when the container publishes the server port. A published
/// port is reachable on loopback whoever created the container (vbench publishes on 127.0.0.1
/// only; compose files may too), so it is preferred to the bridge address.
fn loopback_url(state: &crate::docker::ContainerState, cfg: &Config) -> Option<String> {
    let port = cfg.server.port;
    state
        .ports
        .iter()
        .find(|&&(c, _)| c == port)
        .map(|&(_, host)| format!("http://127.0.0.1:{host}"))
}

async fn bridge_url(docker: &Docker, cfg: &Config) -> anyhow::Result<String> {
    let ip = container_ip(docker, &cfg.server.container).await?;
    Ok(format!("http://{ip}:{}", cfg.server.port))
}

/// The container's first IPv4 address, asked of the container itself (`hostname -i` reads the
/// `/etc/hosts` entry Docker writes for it).
async fn container_ip(docker: &Docker, container: &str) -> anyhow::Result<String> {
    let spec = ExecSpec {
        argv: argv::sh("hostname -i", &[]),
        deadline: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    let (_, out, err) = docker
        .exec_capture(container, &spec)
        .await
        .with_context(|| format!("cannot find the address of container {container}"))?;
    out.split_whitespace()
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("container {container} reports no IPv4 address (hostname -i: {out:?} {err:?}); set server.publish_port"))
}

/// What the server container is running now, by our PID file and args file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Running {
    /// The tracked `vllm serve` is alive.
    pub alive: bool,
    /// Its redacted argv, as recorded at launch (None: no record).
    pub args: Option<Vec<String>>,
}

/// Read the tracked process's state (alive + recorded argv).
pub async fn running(docker: &Docker, container: &str) -> anyhow::Result<Running> {
    let alive = docker
        .tracked_alive(container, argv::SERVE_PIDFILE)
        .await
        .with_context(|| format!("cannot check the vllm serve process in {container}"))?;
    let args = match docker.read_file(container, argv::SERVE_ARGS).await {
        Ok(Some(bytes)) => serde_json::from_slice::<Vec<String>>(&bytes).ok(),
        _ => None,
    };
    Ok(Running { alive, args })
}

/// `vllm serve` processes in the container that vbench's PID file does not track (started by
/// hand or by another tool): `(pid, command line)`.
pub async fn untracked_serve_processes(
    docker: &Docker,
    container: &str,
) -> anyhow::Result<Vec<(u32, String)>> {
    // Reads /proc directly (no ps/pgrep in minimal images). Only the server itself counts
    // (argv[0] is `vllm` or a path to it, or python running vllm's entrypoint), not the
    // shells that launched it. The patterns are split in quoted halves so this scanner's own
    // command line does not match itself.
    let script = r#"for p in /proc/[0-9]*; do c=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue; case "$c" in "vllm"" serve"*|*/"vllm"" serve"*|*python*"vllm"".entrypoints"*) echo "${p#/proc/} $c";; esac; done"#;
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(15)),
        ..Default::default()
    };
    let (_, out, _) = docker
        .exec_capture(container, &spec)
        .await
        .with_context(|| format!("cannot list processes in {container}"))?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (pid, cmd) = l.split_once(' ')?;
            Some((pid.parse().ok()?, cmd.trim().to_string()))
        })
        .collect())
}

/// Bring `vllm serve` up (or reuse it) and prove it ready. A failed start is a
/// `ServerError::StartFailed` carrying the diagnosis; preparing the container a `Setup` error;
/// a container serving something else a `Mismatch`. With `server.nodes`, the Ray cluster
/// first (`cluster::up`), then the server on its head; a node that never joins is
/// `NodesMissing`.
pub async fn up(
    docker: &Docker,
    cfg: &Config,
    opts: &UpOptions,
    sink: &dyn Sink,
) -> Result<ServerInfo, ServerError> {
    if !cfg.server.nodes.is_empty() {
        let cfg = if opts.standin {
            standin_config(cfg)
        } else {
            cfg.clone()
        };
        return cluster::up(docker, &cfg, opts, sink).await;
    }
    up_node(docker, cfg, opts, sink).await
}

/// `up` on one node (the whole server, or a multi-node server's head).
pub(crate) async fn up_node(
    docker: &Docker,
    cfg: &Config,
    opts: &UpOptions,
    sink: &dyn Sink,
) -> Result<ServerInfo, ServerError> {
    let cfg = if opts.standin {
        standin_config(cfg)
    } else {
        cfg.clone()
    };
    // Before anything is built or created: a selection the host cannot give is a
    // configuration error.
    let gpu = spec::detect(docker, &cfg);
    let host_gpus = gpus::HostGpus::read();
    gpus::check(&cfg, gpu, &host_gpus).map_err(ServerError::Config)?;
    if opts.standin {
        ensure_standin_images(docker, sink)
            .await
            .map_err(|e| ServerError::setup("build the stand-in images", e))?;
    }
    let server = &cfg.server.container;
    let cspec = spec::server_spec(&cfg, gpu, &host_gpus, docker.extra_labels());
    ensure_image(docker, &cfg, server, &cspec.image, sink).await?;
    docker
        .ensure_network(
            &cfg.network,
            &spec::labels(docker.extra_labels(), "network"),
        )
        .await
        .map_err(|e| ServerError::setup(format!("create network {}", cfg.network), e))?;
    let (state, how) = docker.ensure_container(&cspec).await.map_err(|e| {
        ServerError::setup(format!("create or start the server container {server}"), e)
    })?;
    announce_container(
        sink,
        server,
        &cspec.image,
        gpu,
        &cfg.server.gpus,
        &state,
        how,
    );
    if how != Ensured::Created {
        docker
            .connect_network(server, &cfg.network)
            .await
            .map_err(|e| {
                ServerError::setup(format!("connect {server} to network {}", cfg.network), e)
            })?;
    }

    let desired = argv::serve_argv(&cfg.server);
    let shown = argv::redact(&desired, &cfg.secret_values());
    let reused = reuse_or_clear(docker, &cfg, &shown, opts.restart, sink).await?;

    let host_log =
        host_log_path(&cfg).map_err(|e| ServerError::other("create the host log directory", e))?;
    let mut follower = wait::LogFollower::new(Some(host_log.clone()), cfg.secret_values());
    if reused {
        follower.skip_existing(docker, server).await;
    } else {
        launch(docker, &cfg, &desired, &shown).await?;
        events::info(sink, format!("launched in {server}: {}", shown.join(" ")));
    }
    let url_host = url_from_host(docker, &cfg)
        .await
        .map_err(|e| ServerError::setup(format!("find the address of {server}"), e))?;
    let target = wait::Target {
        container: server.clone(),
        endpoint: probe::Endpoint::new(url_host.clone(), argv::api_key(&cfg.server)),
        expected_model: argv::expected_model_id(&cfg.server),
        overall: cfg.server.startup_timeout,
        reused,
    };
    let waited = wait::wait_ready(docker, &target, &mut follower, sink)
        .await
        .map_err(|e| ServerError::other(format!("watch {server} start"), e))?;
    let ready = match waited {
        Ok(r) => r,
        Err(diag) => {
            // A half-started server holds GPU memory and the port: stop it; its log stays.
            // A running server that only refuses our key is someone's working server: keep it.
            if !(reused && diag.failure == diagnose::StartFailure::Unauthorized) {
                let _ = docker
                    .stop_tracked(server, argv::SERVE_PIDFILE, FAILED_STOP_GRACE)
                    .await;
            }
            let mut message = cfg.scrub(&diag.message());
            message.push_str(&format!(
                "\nfull log: {} (in the container: {})",
                host_log.display(),
                argv::SERVE_LOG
            ));
            return Err(ServerError::StartFailed {
                diagnosis: Box::new(diag),
                message,
            });
        }
    };
    let info = ServerInfo {
        model_id: ready.model.id.clone(),
        root: ready
            .model
            .root
            .clone()
            .unwrap_or_else(|| cfg.server.model.clone()),
        max_model_len: ready.model.max_model_len.unwrap_or(0),
        version: ready.version.clone(),
        url_in_network: url_in_network(&cfg),
        url_from_host: url_host,
        reused,
        record_path: PathBuf::new(),
        image: String::new(),
        image_digest: String::new(),
        serve_args: shown.clone(),
        gpus: vec![],
    };
    let gpus = crate::gpu::sample(docker, server).await.unwrap_or_default();
    let rec = record::ServerRecord::new(
        docker,
        &cfg,
        &info,
        &shown,
        gpu,
        gpus,
        &host_log,
        ready.elapsed,
    )
    .await;
    let path = rec
        .write(&cfg.results_dir)
        .map_err(|e| ServerError::other("write the server record", e))?;
    events::info(sink, format!("server record: {}", path.display()));
    Ok(ServerInfo {
        record_path: path,
        image_digest: rec.image.identity(),
        image: rec.image.reference.clone(),
        gpus: rec.gpu.samples.iter().map(|g| g.name.clone()).collect(),
        ..info
    })
}

/// The image of a container vbench is about to create, present as `cfg.pull` says (pulled
/// with the user's Docker credentials). Nothing is pulled for a container that exists: it is
/// used as it is. The stand-in images are built locally, never pulled.
pub(crate) async fn ensure_image(
    docker: &Docker,
    cfg: &Config,
    container: &str,
    image: &str,
    sink: &dyn Sink,
) -> Result<(), ServerError> {
    let exists = docker
        .inspect_container(container)
        .await
        .map_err(ServerError::docker(format!(
            "inspect container {container}"
        )))?
        .is_some();
    if exists {
        return Ok(());
    }
    if crate::standin::is_standin_image(image) {
        let present = docker
            .inspect_image(image)
            .await
            .map_err(ServerError::docker(format!("inspect image {image}")))?
            .is_some();
        if !present {
            return Err(ServerError::setup(
                format!("create {container}"),
                format!(
                    "the CPU stand-in image {image} is not present; it is built locally, never pulled: run `vbench images build`"
                ),
            ));
        }
        return Ok(());
    }
    let creds = crate::docker::credentials::Credentials::from_env();
    crate::pull::ensure(docker, image, cfg.pull, &creds, sink)
        .await
        .map_err(|e| ServerError::setup(format!("get the image of {container}"), e))?;
    Ok(())
}

fn announce_container(
    sink: &dyn Sink,
    server: &str,
    image: &str,
    gpu: crate::docker::GpuPreset,
    gpus: &crate::config::GpuSelection,
    state: &crate::docker::ContainerState,
    how: Ensured,
) {
    let text = match how {
        Ensured::Created => {
            format!("created server container {server} ({image}, GPU preset {gpu:?}, GPUs {gpus})")
        }
        Ensured::Started => format!("started existing server container {server}"),
        Ensured::Attached => format!(
            "attached to running server container {server}{}",
            if created_by_vbench(state) {
                ""
            } else {
                " (not created by vbench)"
            }
        ),
    };
    events::info(sink, text);
}

/// Decide about a `vllm serve` already in the container: reuse it when it runs our
/// arguments (true), stop it with `--restart`, refuse otherwise; refuse a server vbench did
/// not start. False: nothing runs, launch ours.
async fn reuse_or_clear(
    docker: &Docker,
    cfg: &Config,
    shown: &[String],
    restart: bool,
    sink: &dyn Sink,
) -> Result<bool, ServerError> {
    let server = &cfg.server.container;
    let now = running(docker, server)
        .await
        .map_err(|e| ServerError::setup(format!("inspect vllm serve in {server}"), e))?;
    if now.alive {
        if now.args.as_deref() == Some(shown) {
            events::info(
                sink,
                format!(
                    "vllm serve is already running in {server} with the same arguments: reusing it"
                ),
            );
            return Ok(true);
        }
        if restart {
            events::info(
                sink,
                format!(
                    "stopping the running vllm serve in {server} (--restart): {}",
                    show_args(&now.args)
                ),
            );
            docker
                .stop_tracked(server, argv::SERVE_PIDFILE, down::STOP_GRACE)
                .await
                .map_err(ServerError::docker(format!(
                    "stop the running vllm serve in {server}"
                )))?;
            return Ok(false);
        }
        return Err(ServerError::Mismatch {
            container: server.clone(),
            message: format!(
                "{server} already runs a different server:\n  running: {}\n  wanted:  {}\nrun `vbench up --restart` to replace it, or `vbench down` first",
                show_args(&now.args),
                shown.join(" ")
            ),
        });
    }
    let foreign = untracked_serve_processes(docker, server)
        .await
        .map_err(|e| ServerError::setup(format!("list processes in {server}"), e))?;
    if !foreign.is_empty() {
        let list: Vec<String> = foreign
            .iter()
            .map(|(p, c)| format!("pid {p}: {}", cfg.scrub(c)))
            .collect();
        return Err(ServerError::Mismatch {
            container: server.clone(),
            message: format!(
                "{server} runs a vllm serve that vbench did not start ({}); stop it first (two servers in one container would fight over the GPUs and the port)",
                list.join("; ")
            ),
        });
    }
    Ok(false)
}

fn show_args(a: &Option<Vec<String>>) -> String {
    a.as_ref().map_or(
        "(arguments unknown: no record in the container)".to_string(),
        |a| a.join(" "),
    )
}

/// `<results_dir>/logs/server-<ts>.log`, its directory created.
fn host_log_path(cfg: &Config) -> anyhow::Result<PathBuf> {
    let dir = cfg.results_dir.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.join(format!("server-{}.log", record::stamp())))
}

/// Record the argv, then start the launcher detached and tracked.
async fn launch(
    docker: &Docker,
    cfg: &Config,
    desired: &[String],
    shown: &[String],
) -> Result<(), ServerError> {
    let server = &cfg.server.container;
    let args_json =
        serde_json::to_vec(shown).map_err(|e| ServerError::other("encode the serve argv", e))?;
    let name = argv::SERVE_ARGS
        .rsplit('/')
        .next()
        .unwrap_or("vbench-serve.args")
        .to_string();
    docker
        .copy_in(server, "/tmp", &[(name, args_json, 0o644)])
        .await
        .map_err(|e| ServerError::setup(format!("write {} in {server}", argv::SERVE_ARGS), e))?;
    let mut env = argv::serve_env(&cfg.server);
    // Machine-read log: no colour, no block buffering.
    env.extend([
        "PYTHONUNBUFFERED=1".to_string(),
        "NO_COLOR=1".to_string(),
        "VLLM_LOGGING_COLOR=0".to_string(),
    ]);
    let exec = ExecSpec {
        argv: argv::launcher_argv(desired),
        env,
        pidfile: Some(argv::SERVE_PIDFILE.to_string()),
        ..Default::default()
    };
    docker
        .exec_detached(server, &exec)
        .await
        .map_err(|e| ServerError::setup(format!("start vllm serve in {server}"), e))?;
    Ok(())
}

/// SIGTERM → SIGKILL grace for a server that failed to start (it serves nothing; a hung one
/// may ignore SIGTERM, and the diagnosis must not wait 30 s for it).
const FAILED_STOP_GRACE: Duration = Duration::from_secs(3);

/// Is the server still serving? Process, container and one `/health` probe (≤5 s).
pub async fn health(docker: &Docker, cfg: &Config) -> anyhow::Result<Health> {
    let server = &cfg.server.container;
    let state = docker
        .inspect_container(server)
        .await
        .with_context(|| format!("cannot inspect {server}"))?;
    let Some(state) = state.filter(|s| s.running) else {
        return Ok(Health {
            process_alive: false,
            container_running: false,
            healthy: false,
            detail: format!("container {server} is not running"),
        });
    };
    // HTTP first: a 200 from the server port proves vllm serve is alive, and costs about a
    // millisecond against ~50 ms for an exec. Only when it fails does the process check tell
    // a dead server from a hung one.
    let url = match host_network_url(cfg).or_else(|| loopback_url(&state, cfg)) {
        Some(url) => url,
        None => bridge_url(docker, cfg).await?,
    };
    let probed = probe::health(&probe::Endpoint::new(url, None), probe::PROBE_TIMEOUT).await;
    let Err(err) = probed else {
        return Ok(Health {
            process_alive: true,
            container_running: true,
            healthy: true,
            detail: "GET /health = 200".into(),
        });
    };
    let alive = docker
        .tracked_alive(server, argv::SERVE_PIDFILE)
        .await
        .with_context(|| format!("cannot check vllm serve in {server}"))?;
    let detail = if alive && err.to_string() == "timed out" {
        format!(
            "vllm serve hung: its process runs but GET /health got no answer within {}s",
            probe::PROBE_TIMEOUT.as_secs()
        )
    } else if alive {
        format!("GET /health: {err}")
    } else {
        "vllm serve is not running".to_string()
    };
    Ok(Health {
        process_alive: alive,
        container_running: true,
        healthy: false,
        detail,
    })
}
