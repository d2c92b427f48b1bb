//! The persistent channel into the client container: one long-lived exec per run carries
//! each point's command, its console lines, its exit status and its result file's bytes, so
//! a point costs a few frames on an open stream instead of an exec plus an archive copy.
//!
//! Two agents speak the same protocol (`protocol`, v1): the POSIX-sh agent
//! (`agent/vbench-agent.sh`, any Linux image with a shell) runs each point as a new process;
//! the Python worker (`agent/vbench_worker.py`, images with Python and vLLM) imports vLLM's
//! benchmark once and runs each point in-process through vLLM's own parser and entry point.
//! Both are copied into the container by vbench; commands stay argv vectors end to end.
//!
//! A result arrives inside its `F` frame and is streamed to its host file (temp file,
//! synced, linked under its name: never replacing a file). If the stream ends before a
//! request is done, the channel is dead (`ChannelError::Died`) and the caller falls back to
//! an exec per point.

pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::docker::{Docker, DockerError, ExecSession, ExecSpec};
use crate::durable::Staged;
use protocol::{Decoder, Frame};

/// The POSIX-sh agent.
pub const SH_AGENT: &str = include_str!("../../agent/vbench-agent.sh");
/// The Python worker.
pub const WORKER: &str = include_str!("../../agent/vbench_worker.py");

/// Where the agents go in the container.
const AGENT_DIR: &str = "/tmp";
const SH_AGENT_NAME: &str = "vbench-agent.sh";
const WORKER_NAME: &str = "vbench_worker.py";

/// How long the sh agent may take to say hello.
pub const SH_HELLO_WITHIN: Duration = Duration::from_secs(20);
/// How long the worker may take to import vLLM and say hello (the import alone is 3–10 s).
pub const WORKER_HELLO_WITHIN: Duration = Duration::from_secs(180);
/// After a stop, how long the agent may take to finish the request.
const AFTER_STOP: Duration = Duration::from_secs(20);

/// Which agent a channel runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Each point as a new process (`vllm bench serve …`).
    Process,
    /// Each point in one Python process that imported vLLM once; `detail` is what it said
    /// (`vllm=0.33.0`).
    Worker { detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The agent could not be started, or said it cannot work here.
    #[error("cannot start the {what} in {container}: {detail}")]
    Start {
        what: &'static str,
        container: String,
        detail: String,
    },
    /// The stream ended (or broke) before the request was done.
    #[error("the channel into {container} died{during}: {detail}")]
    Died {
        container: String,
        during: String,
        detail: String,
    },
    /// A Docker call the channel needed failed.
    #[error("cannot {op}: {source}")]
    Docker {
        op: String,
        #[source]
        source: DockerError,
    },
}

/// One request: the argv, its environment additions, and the result file to bring back
/// (its path in the container, and where it goes on the host).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub argv: &'a [String],
    /// `KEY=VALUE` for this command only.
    pub env: &'a [String],
    pub result: Option<(&'a str, &'a Path)>,
    /// Inside the container: where the sh agent records the command's pid (crash recovery
    /// and stopping use it).
    pub pidfile: Option<&'a str>,
    /// Give up (and stop the command) after this long.
    pub deadline: Option<Duration>,
}

/// What became of the result file.
#[derive(Debug)]
pub enum Landed {
    /// No result was asked for.
    NotAsked,
    /// The command wrote none.
    Missing,
    /// Written on the host under its name.
    Written { path: PathBuf, bytes: u64 },
    /// The host name was taken meanwhile: nothing was replaced.
    Exists { path: PathBuf },
    /// Writing it on the host failed (kept with its `io::ErrorKind`: a full disk is told
    /// apart from other failures).
    Failed {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// How a request ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when the agent reported no exit status (stopped before it could).
    pub exit_code: Option<i64>,
    pub pid: Option<u32>,
    pub landed: Landed,
    /// Stopped by the deadline.
    pub timed_out: bool,
    /// Stopped because `cancel` fired.
    pub cancelled: bool,
    pub duration: Duration,
}

/// An open channel.
pub struct Channel {
    docker: Docker,
    container: String,
    session: ExecSession,
    decoder: Decoder,
    pending: std::collections::VecDeque<Frame>,
    kind: AgentKind,
    next_id: u64,
}

impl Channel {
    /// Start the POSIX-sh agent in `container`.
    pub async fn open_process(
        docker: &Docker,
        container: &str,
        env: &[String],
    ) -> Result<Channel, ChannelError> {
        let path = install(
            docker,
            container,
            SH_AGENT_NAME,
            SH_AGENT,
            "the channel agent",
        )
        .await?;
        let argv = vec!["sh".to_string(), path];
        Self::open(
            docker,
            container,
            &argv,
            env,
            "channel agent",
            SH_HELLO_WITHIN,
        )
        .await
    }

    /// Start the Python worker in `container` with `python` (e.g. `python3`); fails with
    /// `Start` when Python or vLLM is not there.
    pub async fn open_worker(
        docker: &Docker,
        container: &str,
        python: &str,
        env: &[String],
    ) -> Result<Channel, ChannelError> {
        let path = install(docker, container, WORKER_NAME, WORKER, "the vLLM worker").await?;
        let argv = vec![python.to_string(), "-u".to_string(), path];
        Self::open(
            docker,
            container,
            &argv,
            env,
            "vLLM worker",
            WORKER_HELLO_WITHIN,
        )
        .await
    }

    async fn open(
        docker: &Docker,
        container: &str,
        argv: &[String],
        env: &[String],
        what: &'static str,
        within: Duration,
    ) -> Result<Channel, ChannelError> {
        let start = |detail: String| ChannelError::Start {
            what,
            container: container.to_string(),
            detail,
        };
        let session = docker
            .exec_session(container, argv, env)
            .await
            .map_err(|e| start(e.to_string()))?;
        let mut ch = Channel {
            docker: docker.clone(),
            container: container.to_string(),
            session,
            decoder: Decoder::new(),
            pending: Default::default(),
            kind: AgentKind::Process,
            next_id: 1,
        };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, ch.next_frame()).await {
                Err(_) => return Err(start(format!("no hello within {within:?}"))),
                Ok(Err(detail)) => {
                    let tail = ch.session.stderr_tail().join(" | ");
                    return Err(start(format!("{detail}; its stderr: {tail}")));
                }
                Ok(Ok(Frame::Hello { kind, detail })) => {
                    ch.kind = if kind == "worker" {
                        AgentKind::Worker { detail }
                    } else {
                        AgentKind::Process
                    };
                    return Ok(ch);
                }
                Ok(Ok(Frame::Fail(why))) => return Err(start(why)),
                // Anything before the hello (a shell's banner) is not ours: skip it.
                Ok(Ok(_)) => continue,
            }
        }
    }

    pub fn kind(&self) -> &AgentKind {
        &self.kind
    }

    /// The next frame; `Err` when the stream ended or broke.
    async fn next_frame(&mut self) -> Result<Frame, String> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Ok(f);
            }
            match self.session.recv().await {
                Some(Ok(chunk)) => {
                    let mut out = Vec::new();
                    self.decoder.push(&chunk, &mut out);
                    self.pending.extend(out);
                }
                Some(Err(e)) => return Err(format!("reading its output: {e}")),
                None => return Err("its output ended".into()),
            }
        }
    }

    /// Run one request; `on_line` gets its console lines as they arrive. Stops the command
    /// at the deadline or when `cancel` fires, then waits for the agent to finish it.
    pub async fn run(
        &mut self,
        req: &Request<'_>,
        on_line: &mut (dyn FnMut(String) + Send),
        cancel: &CancellationToken,
    ) -> Result<Finished, ChannelError> {
        let started = Instant::now();
        let id = self.next_id;
        self.next_id += 1;
        let mut env: Vec<String> = req.env.to_vec();
        if let (Some(p), AgentKind::Process) = (req.pidfile, &self.kind) {
            env.push(format!("VBENCH_PIDFILE={p}"));
        }
        let frames = protocol::request(id, req.argv, &env, req.result.map(|r| r.0));
        let died = |during: &str, detail: String, s: &ExecSession| ChannelError::Died {
            container: s.container().to_string(),
            during: format!(" during {during}"),
            detail: {
                let tail = s.stderr_tail();
                if tail.is_empty() {
                    detail
                } else {
                    format!("{detail}; its stderr: {}", tail.join(" | "))
                }
            },
        };
        if let Err(e) = self.session.send(frames.as_bytes()).await {
            return Err(died("a request", e.to_string(), &self.session));
        }
        let mut out = Finished {
            exit_code: None,
            pid: None,
            landed: if req.result.is_some() {
                Landed::Missing
            } else {
                Landed::NotAsked
            },
            timed_out: false,
            cancelled: false,
            duration: Duration::ZERO,
        };
        let mut staged: Option<(Staged, PathBuf, u64)> = None;
        let mut write_error: Option<(PathBuf, std::io::Error)> = None;
        let deadline = req.deadline.map(|d| tokio::time::Instant::now() + d);
        let mut stop_by: Option<tokio::time::Instant> = None;
        // A stop asked for before the command started is carried out when it starts.
        let mut stop_when_started = false;
        loop {
            let frame = tokio::select! {
                f = self.next_frame() => f,
                _ = sleep_until(deadline), if stop_by.is_none() => {
                    out.timed_out = true;
                    stop_when_started = !self.stop(out.pid, req.pidfile).await?;
                    stop_by = Some(tokio::time::Instant::now() + AFTER_STOP);
                    continue;
                }
                _ = cancel.cancelled(), if stop_by.is_none() => {
                    out.cancelled = true;
                    stop_when_started = !self.stop(out.pid, req.pidfile).await?;
                    stop_by = Some(tokio::time::Instant::now() + AFTER_STOP);
                    continue;
                }
                _ = sleep_until(stop_by) => {
                    return Err(died("a stop", format!("request {id} did not end within {AFTER_STOP:?} of being stopped"), &self.session));
                }
            };
            let frame = match frame {
                Ok(f) => f,
                Err(detail) => return Err(died(&format!("request {id}"), detail, &self.session)),
            };
            match frame {
                Frame::Started { id: i, pid } if i == id => {
                    out.pid = Some(pid);
                    if stop_when_started {
                        stop_when_started = !self.stop(out.pid, req.pidfile).await?;
                    }
                }
                Frame::Line { id: i, text } if i == id => {
                    on_line(String::from_utf8_lossy(&text).into_owned())
                }
                Frame::Exit { id: i, code } if i == id => out.exit_code = Some(code),
                Frame::FileStart { id: i, size } if i == id => {
                    let dest = req.result.map(|r| r.1.to_path_buf()).unwrap_or_default();
                    match Staged::create(&dest) {
                        Ok(s) => staged = Some((s, dest, size)),
                        Err(e) => write_error = Some((dest, e)),
                    }
                }
                Frame::FileChunk(bytes) => {
                    // Written as it comes: a big result never sits whole in memory.
                    if let Some((s, dest, _)) = staged.as_mut()
                        && let Err(e) = s.write_all(&bytes)
                    {
                        write_error = Some((dest.clone(), e));
                        staged = None;
                    }
                }
                Frame::FileEnd { id: i } if i == id => {
                    if let Some((s, dest, size)) = staged.take() {
                        out.landed = match s.commit_new() {
                            Ok(true) => Landed::Written {
                                path: dest,
                                bytes: size,
                            },
                            Ok(false) => Landed::Exists { path: dest },
                            Err(error) => Landed::Failed { path: dest, error },
                        };
                    }
                }
                Frame::NoFile { id: i } if i == id => out.landed = Landed::Missing,
                Frame::Error { id: i, text } if i == id || i == 0 => {
                    return Err(ChannelError::Died {
                        container: self.container.clone(),
                        during: format!(" during request {id}"),
                        detail: format!("the agent refused it: {text}"),
                    });
                }
                Frame::Done { id: i } if i == id => break,
                // Frames of another request or unknown lines: a desynchronised stream.
                other => {
                    return Err(died(
                        &format!("request {id}"),
                        format!("unexpected frame {other:?}"),
                        &self.session,
                    ));
                }
            }
        }
        if let Some((path, error)) = write_error {
            out.landed = Landed::Failed { path, error };
        }
        out.duration = started.elapsed();
        Ok(out)
    }

    /// Stop the running command: its process group (sh agent, through the pid file), or an
    /// interrupt to the worker, which cancels the point and goes on. False when there was
    /// nothing to stop yet (not started).
    async fn stop(&self, pid: Option<u32>, pidfile: Option<&str>) -> Result<bool, ChannelError> {
        let op = |what: &str| format!("stop {what} in {}", self.container);
        match (&self.kind, pidfile, pid) {
            (AgentKind::Process, Some(f), Some(_)) => {
                self.docker
                    .stop_tracked(&self.container, f, Duration::from_secs(10))
                    .await
                    .map_err(|source| ChannelError::Docker {
                        op: op("the benchmark"),
                        source,
                    })?;
            }
            (_, _, Some(pid)) => {
                let spec = ExecSpec {
                    argv: vec!["kill".into(), "-INT".into(), pid.to_string()],
                    deadline: Some(Duration::from_secs(20)),
                    ..Default::default()
                };
                self.docker
                    .exec_capture(&self.container, &spec)
                    .await
                    .map_err(|source| ChannelError::Docker {
                        op: op("the point"),
                        source,
                    })?;
            }
            // Not started yet: nothing to signal.
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Ask the agent to exit (end of input also does).
    pub async fn close(mut self) {
        let _ = self.session.send(b"QUIT\n").await;
        let _ = self.session.close().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Copy an agent file into the container; its path there.
async fn install(
    docker: &Docker,
    container: &str,
    name: &str,
    body: &str,
    what: &'static str,
) -> Result<String, ChannelError> {
    docker
        .copy_in(
            container,
            AGENT_DIR,
            &[(name.to_string(), body.as_bytes().to_vec(), 0o755)],
        )
        .await
        .map_err(|e| ChannelError::Start {
            what,
            container: container.to_string(),
            detail: e.to_string(),
        })?;
    Ok(format!("{AGENT_DIR}/{name}"))
}
