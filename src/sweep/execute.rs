//! How one point's command runs in the client: through the run's persistent channel
//! (`crate::channel`: the result's bytes come back on it and land on the host as they
//! arrive), else — no channel could start, or it died — through an exec per point (the
//! result is then copied out by the runner). A channel that dies during a point is detected
//! and the point runs once more through an exec; the rest of the run uses execs — unless the
//! client container itself stopped (or the engine went away): a retry cannot fix that, and
//! the point is reported lost (`Executed::Lost`), not run again.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::RunError;
use super::infra::{ClientWatch, Fault};
use crate::channel::{AgentKind, Channel, ChannelError, Landed, Request};
use crate::config::ClientMode;
use crate::docker::{Docker, ExecSpec, OutputLine};
use crate::events::{self, Sink};

/// Grace between SIGTERM and SIGKILL when stopping a benchmark in the client.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The run's way into the client.
#[derive(Default)]
pub struct ClientLink {
    channel: tokio::sync::Mutex<Option<Channel>>,
    /// The client container the run started with.
    watch: ClientWatch,
}

/// What ran.
#[derive(Debug)]
pub enum Executed {
    /// The command ended (or hit its deadline and was stopped).
    Ran {
        exit_code: Option<i64>,
        timed_out: bool,
        /// The result file is already on the host (it came back on the channel).
        landed: bool,
    },
    /// Stopped because the run was cancelled.
    Interrupted,
    /// The client container or the engine went away under it.
    Lost(Fault),
}

/// One point's command.
pub struct Job<'a> {
    pub argv: &'a [String],
    pub env: &'a [String],
    /// The result file in the client, and where it goes on the host.
    pub result_in_client: &'a str,
    pub result_on_host: &'a Path,
    pub pidfile: &'a str,
    pub deadline: Duration,
}

impl ClientLink {
    /// Open the channel the mode asks for; returns how points will run (for the manifest)
    /// and notes for the user. `worker` that cannot start is an error; otherwise the next
    /// way is taken (worker → process agent → an exec per point).
    pub async fn open(
        &self,
        docker: &Docker,
        client: &str,
        env: &[String],
        mode: ClientMode,
        sink: &dyn Sink,
    ) -> Result<String, RunError> {
        let st = docker
            .inspect_container(client)
            .await
            .map_err(|source| RunError::Docker {
                op: format!("inspect the client container {client}"),
                source,
            })?
            .ok_or_else(|| {
                RunError::setup(
                    format!("open a channel into {client}"),
                    format!("container {client} does not exist"),
                )
            })?;
        self.watch.remember(&st);
        let mut ch = None;
        let mut why_not = Vec::new();
        if matches!(mode, ClientMode::Auto | ClientMode::Worker) {
            match Channel::open_worker(docker, client, "python3", env).await {
                Ok(c) => ch = Some(c),
                Err(e) if mode == ClientMode::Worker => {
                    return Err(RunError::setup(
                        "start the vLLM worker (client_mode: worker)",
                        e,
                    ));
                }
                Err(e) => why_not.push(format!("worker: {e}")),
            }
        }
        if ch.is_none() {
            match Channel::open_process(docker, client, env).await {
                Ok(c) => ch = Some(c),
                Err(e) => why_not.push(format!("channel: {e}")),
            }
        }
        let used = match ch.as_ref().map(Channel::kind) {
            Some(AgentKind::Worker { detail }) => format!("worker ({detail})"),
            Some(AgentKind::Process) => "process".to_string(),
            None => "process (an exec per point)".to_string(),
        };
        if ch.is_none() {
            events::warn(
                sink,
                format!(
                    "no channel into {client} ({}): each point runs through its own exec",
                    why_not.join("; ")
                ),
            );
        } else if mode == ClientMode::Auto && !why_not.is_empty() {
            events::info(
                sink,
                format!("points run as processes in {client} (no vLLM worker there)"),
            );
        }
        *self.channel.lock().await = ch;
        Ok(used)
    }

    /// Run one point's command.
    pub async fn execute(
        &self,
        docker: &Docker,
        client: &str,
        job: &Job<'_>,
        on_line: &mut (dyn FnMut(OutputLine) + Send),
        cancel: &CancellationToken,
        sink: &dyn Sink,
    ) -> Result<Executed, RunError> {
        {
            let mut slot = self.channel.lock().await;
            if let Some(ch) = slot.as_mut() {
                let req = Request {
                    argv: job.argv,
                    env: job.env,
                    result: Some((job.result_in_client, job.result_on_host)),
                    pidfile: Some(job.pidfile),
                    deadline: Some(job.deadline),
                };
                let mut lines = |text: String| {
                    on_line(OutputLine {
                        stream: crate::docker::OutputStream::Stdout,
                        text,
                    })
                };
                match ch.run(&req, &mut lines, cancel).await {
                    // A benchmark that ended on its own while being stopped (one that did not
                    // heed SIGTERM) and brought its result to the host is a measurement: it
                    // is kept and judged, not left on disk unrecorded.
                    Ok(f)
                        if f.cancelled
                            && f.exit_code == Some(0)
                            && matches!(f.landed, Landed::Written { .. }) =>
                    {
                        return Ok(Executed::Ran {
                            exit_code: f.exit_code,
                            timed_out: false,
                            landed: true,
                        });
                    }
                    Ok(f) if f.cancelled => return Ok(Executed::Interrupted),
                    Ok(f) => {
                        let landed = match f.landed {
                            Landed::Written { .. } => true,
                            Landed::Missing | Landed::NotAsked => false,
                            Landed::Exists { path } => {
                                return Err(RunError::State {
                                    op: format!("copy {}", path.display()),
                                    source:
                                        "it appeared while copying it: refusing to overwrite it"
                                            .into(),
                                });
                            }
                            Landed::Failed { path, error } => {
                                return Err(RunError::State {
                                    op: format!("write {}", path.display()),
                                    source: error.into(),
                                });
                            }
                        };
                        return Ok(Executed::Ran {
                            exit_code: f.exit_code,
                            timed_out: f.timed_out,
                            landed,
                        });
                    }
                    Err(e @ ChannelError::Died { .. }) | Err(e @ ChannelError::Start { .. }) => {
                        // A channel dies with its container: only a live one is worth a retry.
                        if let Some(f) = self.watch.check(docker, client).await {
                            *slot = None;
                            return Ok(Executed::Lost(f));
                        }
                        events::warn(
                            sink,
                            format!(
                                "{e}; the point runs again through an exec, and so does the rest of the run"
                            ),
                        );
                        *slot = None;
                        // What the dead agent started may still run: stop it first.
                        let _ = docker.stop_tracked(client, job.pidfile, STOP_GRACE).await;
                    }
                    Err(ChannelError::Docker { op, source }) => {
                        return Err(RunError::Docker { op, source });
                    }
                }
            }
        }
        self.execute_by_exec(docker, client, job, on_line, cancel)
            .await
    }

    /// The fallback: an exec per point, tracked by its pid file so it can be stopped.
    async fn execute_by_exec(
        &self,
        docker: &Docker,
        client: &str,
        job: &Job<'_>,
        on_line: &mut (dyn FnMut(OutputLine) + Send),
        cancel: &CancellationToken,
    ) -> Result<Executed, RunError> {
        let spec = ExecSpec {
            argv: job.argv.to_vec(),
            env: job.env.to_vec(),
            workdir: None,
            deadline: Some(job.deadline),
            pidfile: Some(job.pidfile.to_string()),
        };
        let outcome = tokio::select! {
            r = docker.exec(client, &spec, on_line) => r,
            _ = cancel.cancelled() => {
                // Stop the benchmark inside the client: dropping the exec stream does not.
                docker
                    .stop_tracked(client, job.pidfile, STOP_GRACE)
                    .await
                    .map_err(|source| RunError::Docker {
                        op: format!("stop the benchmark in {client}"),
                        source,
                    })?;
                return Ok(Executed::Interrupted);
            }
        };
        let o = outcome.map_err(|source| RunError::Docker {
            op: format!("run vllm bench serve in {client}"),
            source,
        })?;
        Ok(Executed::Ran {
            exit_code: o.exit_code,
            timed_out: o.timed_out,
            landed: false,
        })
    }

    /// `Some` when the client container is not the one the run started with, or the engine
    /// does not answer (see `infra::ClientWatch::check`).
    pub async fn fault(&self, docker: &Docker, client: &str) -> Option<Fault> {
        self.watch.check(docker, client).await
    }

    /// Close the channel (the agent exits; a worker with it).
    pub async fn close(&self) {
        if let Some(ch) = self.channel.lock().await.take() {
            ch.close().await;
        }
    }
}
