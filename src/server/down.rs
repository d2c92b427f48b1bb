//! `vbench down`: stop the tracked `vllm serve` (SIGTERM, SIGKILL after a grace period), keep
//! its final log on the host, and with `--remove` remove the containers vbench created —
//! never those it did not create unless `--force`. Also the stop of a hung server at the end
//! of the run it failed (`stop_if_hung`).

use std::time::Duration;

use super::ServerError;
use super::argv::{SERVE_LOG, SERVE_PIDFILE};
use crate::config::Config;
use crate::docker::{Docker, LABEL_MANAGED};
use crate::events::{self, Sink};

/// SIGTERM → SIGKILL grace for `vllm serve` (it frees GPU memory on a clean shutdown).
pub const STOP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Also remove the containers vbench created.
    pub remove: bool,
    /// With `remove`: remove containers vbench did not create too.
    pub force: bool,
}

/// Stop the server; optionally remove containers (and the network vbench created). With
/// `server.nodes`, on every node (`cluster::down`).
pub async fn down(
    docker: &Docker,
    cfg: &Config,
    opts: &DownOptions,
    sink: &dyn Sink,
) -> Result<(), ServerError> {
    if !cfg.server.nodes.is_empty() {
        return super::cluster::down(docker, cfg, opts, sink).await;
    }
    down_node(docker, cfg, opts, sink).await
}

/// `down` on one node (the whole server, or a multi-node server's head).
pub(crate) async fn down_node(
    docker: &Docker,
    cfg: &Config,
    opts: &DownOptions,
    sink: &dyn Sink,
) -> Result<(), ServerError> {
    let server = &cfg.server.container;
    match docker
        .inspect_container(server)
        .await
        .map_err(ServerError::docker(format!("inspect {server}")))?
    {
        Some(s) if s.running => {
            let stopped = docker
                .stop_tracked(server, SERVE_PIDFILE, STOP_GRACE)
                .await
                .map_err(ServerError::docker(format!("stop vllm serve in {server}")))?;
            if stopped {
                events::info(sink, format!("stopped vllm serve in {server}"));
                keep_final_log(docker, cfg, sink).await;
            } else {
                events::info(
                    sink,
                    format!("no vllm serve started by vbench is running in {server}"),
                );
            }
            let others = super::untracked_serve_processes(docker, server)
                .await
                .unwrap_or_default();
            for (pid, cmd) in others {
                events::warn(
                    sink,
                    format!(
                        "{server} still runs a vllm serve vbench did not start (pid {pid}: {}); left alone",
                        cfg.scrub(&cmd)
                    ),
                );
            }
        }
        Some(_) => events::info(sink, format!("server container {server} is not running")),
        None => events::info(sink, format!("server container {server} does not exist")),
    }
    if !opts.remove {
        return Ok(());
    }
    remove_containers(docker, cfg, opts, &[server, &cfg.client.container], sink).await
}

/// Remove the containers `names` that vbench created (all of them with `force`), then the
/// network vbench created.
pub(crate) async fn remove_containers(
    docker: &Docker,
    cfg: &Config,
    opts: &DownOptions,
    names: &[&String],
    sink: &dyn Sink,
) -> Result<(), ServerError> {
    for &name in names {
        let Some(state) = docker
            .inspect_container(name)
            .await
            .map_err(ServerError::docker(format!("inspect {name}")))?
        else {
            continue;
        };
        if super::created_by_vbench(&state) || opts.force {
            docker
                .remove_container(name)
                .await
                .map_err(ServerError::docker(format!("remove container {name}")))?;
            events::info(sink, format!("removed container {name}"));
        } else {
            events::warn(
                sink,
                format!(
                    "not removing {name}: vbench did not create it (use --force to remove it anyway)"
                ),
            );
        }
    }
    let managed = docker
        .list_networks_labelled(&format!("{LABEL_MANAGED}=true"))
        .await
        .unwrap_or_default();
    if managed.iter().any(|n| n == &cfg.network) {
        match docker.remove_network(&cfg.network).await {
            Ok(()) => events::info(sink, format!("removed network {}", cfg.network)),
            // Other containers may still use it; that is theirs to decide.
            Err(e) => events::warn(sink, format!("network {} kept: {e}", cfg.network)),
        }
    }
    Ok(())
}

/// Stop a `vllm serve` whose process runs but which does not serve (hung): it holds the GPUs
/// and the port, and a resumed run would reuse it as it is. True when one was stopped (its
/// final log is kept on the host).
pub async fn stop_if_hung(docker: &Docker, cfg: &Config, sink: &dyn Sink) -> anyhow::Result<bool> {
    let h = super::health(docker, cfg).await?;
    if h.healthy || !h.process_alive {
        return Ok(false);
    }
    let server = &cfg.server.container;
    let stopped = docker
        .stop_tracked(server, SERVE_PIDFILE, STOP_GRACE)
        .await
        .map_err(|e| anyhow::anyhow!("cannot stop the hung vllm serve in {server}: {e}"))?;
    if stopped {
        keep_final_log(docker, cfg, sink).await;
    }
    Ok(stopped)
}

/// Copy the stopped server's log to `<results_dir>/logs/server-<ts>-final.log` (best effort).
async fn keep_final_log(docker: &Docker, cfg: &Config, sink: &dyn Sink) {
    let dir = cfg.results_dir.join("logs");
    let path = dir.join(format!("server-{}-final.log", super::record::stamp()));
    match stream_log(docker, cfg, &path).await {
        Ok(true) => events::info(sink, format!("server log kept: {}", path.display())),
        Ok(false) => {}
        Err(e) => events::warn(
            sink,
            format!("cannot keep the server log in {}: {e}", path.display()),
        ),
    }
}

/// Stream the serve log out of the (running) server container into `path`, line by line and
/// secrets scrubbed: a log of hundreds of MB is never held whole. `Ok(false)` when there is
/// no log to keep.
async fn stream_log(docker: &Docker, cfg: &Config, path: &std::path::Path) -> anyhow::Result<bool> {
    use crate::docker::{ExecSpec, OutputLine, OutputStream};
    let mut staged = crate::durable::Staged::create(path)?;
    let mut failed: Option<std::io::Error> = None;
    let mut on_line = |l: OutputLine| {
        if failed.is_some() || l.stream != OutputStream::Stdout {
            return;
        }
        let mut line = cfg.scrub(&l.text);
        line.push('\n');
        if let Err(e) = staged.write_all(line.as_bytes()) {
            failed = Some(e);
        }
    };
    let spec = ExecSpec {
        argv: vec!["cat".into(), SERVE_LOG.into()],
        deadline: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let out = docker
        .exec(&cfg.server.container, &spec, &mut on_line)
        .await?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if out.exit_code != Some(0) {
        return Ok(false);
    }
    Ok(staged.commit_new()?)
}
