//! The readiness driver: every tick it gathers an `Observation` (container state, the tracked
//! process, new serve-log lines, the HTTP probe the current stage needs), feeds the
//! `readiness::Machine`, emits the live status line, and copies the serve log to the host log.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::argv::{SERVE_LOG, SERVE_PIDFILE};
use super::diagnose::{self, Diagnosis, Outcome};
use super::probe;
use super::readiness::{ContainerLife, Machine, ModelCard, Observation, Stage, Step};
use crate::docker::{Docker, ExecSpec};
use crate::events::{Event, Sink};

/// What to wait for.
pub struct Target {
    pub container: String,
    pub endpoint: probe::Endpoint,
    pub expected_model: String,
    pub overall: Duration,
    /// The process was already running before the wait (reused), not just launched.
    pub reused: bool,
}

/// A ready server, as the probes saw it.
#[derive(Debug, Clone)]
pub struct Ready {
    pub model: ModelCard,
    pub version: String,
    pub elapsed: Duration,
}

/// The most of the serve log one poll reads (whole lines; the rest waits for the next tick).
pub const POLL_BYTES: usize = 4 << 20;

/// Follows the container's serve log by byte offset (`tail -c +N`, one short exec per tick:
/// no process is left behind in the container), splitting it into lines and appending the raw
/// text to a host file.
pub struct LogFollower {
    offset: u64,
    partial: String,
    host: Option<PathBuf>,
    secrets: Vec<String>,
}

impl LogFollower {
    /// `secrets` are replaced by `***` in the host copy (vLLM prints its non-default args,
    /// which may include a token).
    pub fn new(host: Option<PathBuf>, secrets: Vec<String>) -> Self {
        Self {
            offset: 0,
            partial: String::new(),
            host,
            secrets,
        }
    }

    /// Start from the current end of the log (reusing a running server: its old lines are
    /// not this start's).
    pub async fn skip_existing(&mut self, docker: &Docker, container: &str) {
        let spec = sh(&format!("wc -c < {SERVE_LOG}"));
        if let Ok((_, out, _)) = docker.exec_capture(container, &spec).await
            && let Ok(n) = out.trim().parse::<u64>()
        {
            self.offset = n;
        }
    }

    /// New complete lines (raw), at most `POLL_BYTES` of them per call: a log of hundreds of
    /// MB (a chatty server) is read over several ticks, never held whole. Works on a stopped
    /// container too (archive read).
    pub async fn poll(&mut self, docker: &Docker, container: &str, running: bool) -> Vec<String> {
        let chunk = if running {
            let spec = ExecSpec {
                argv: super::argv::sh(
                    r#"tail -c "+$1" "$2" | head -c "$3""#,
                    &[
                        &(self.offset + 1).to_string(),
                        SERVE_LOG,
                        &POLL_BYTES.to_string(),
                    ],
                ),
                deadline: Some(Duration::from_secs(10)),
                ..Default::default()
            };
            match docker.exec_capture(container, &spec).await {
                Ok((o, mut out, _)) if o.exit_code == Some(0) => {
                    // A full chunk may end inside a line (or a character): keep whole lines,
                    // the rest comes with the next read.
                    if out.len() >= POLL_BYTES
                        && let Some(nl) = out.rfind('\n')
                    {
                        out.truncate(nl + 1);
                    }
                    out
                }
                _ => String::new(),
            }
        } else {
            match docker.read_file(container, SERVE_LOG).await {
                Ok(Some(bytes)) => {
                    String::from_utf8_lossy(bytes.get(self.offset as usize..).unwrap_or_default())
                        .into_owned()
                }
                _ => String::new(),
            }
        };
        self.take(&chunk)
    }

    /// Account for a chunk: host copy, offset, line split.
    fn take(&mut self, chunk: &str) -> Vec<String> {
        if chunk.is_empty() {
            return vec![];
        }
        self.offset += chunk.len() as u64;
        self.partial.push_str(chunk);
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        if let Some(path) = &self.host
            && !lines.is_empty()
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            // Whole lines only, so a secret is never split across two writes. Best effort:
            // a full disk must not fail the start-up.
            let mut text = String::new();
            for l in &lines {
                text.push_str(&super::argv::scrub(l, &self.secrets));
                text.push('\n');
            }
            let _ = f.write_all(text.as_bytes());
        }
        lines
    }

    /// The unterminated last line, if any (flushed into the diagnosis).
    pub fn rest(&self) -> Option<String> {
        (!self.partial.is_empty()).then(|| self.partial.clone())
    }
}

fn sh(script: &str) -> ExecSpec {
    ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(10)),
        ..Default::default()
    }
}

const STAGE: &str = "up";

/// Per-attempt timeout of the test completion.
const GENERATE_TIMEOUT: Duration = Duration::from_secs(30);

/// The model id to send the test request to: what `/v1/models` listed.
fn m_model(m: &Machine, t: &Target) -> String {
    m.model
        .as_ref()
        .map_or_else(|| t.expected_model.clone(), |c| c.id.clone())
}

async fn container_life(docker: &Docker, name: &str) -> anyhow::Result<ContainerLife> {
    match docker.inspect_container(name).await {
        Ok(Some(s)) if s.running => Ok(ContainerLife::Running),
        Ok(Some(s)) => Ok(ContainerLife::Stopped {
            exit_code: s.exit_code,
            oom_killed: s.oom_killed,
        }),
        Ok(None) => Ok(ContainerLife::Stopped {
            exit_code: None,
            oom_killed: false,
        }),
        Err(e) => Err(anyhow::anyhow!(
            "cannot inspect the server container {name}: {e}"
        )),
    }
}

/// Wait until ready or until the start fails. The outer error is an infrastructure failure
/// (Docker unreachable); the inner `Err` is a diagnosed failed start.
pub async fn wait_ready(
    docker: &Docker,
    t: &Target,
    follower: &mut LogFollower,
    sink: &dyn Sink,
) -> anyhow::Result<Result<Ready, Diagnosis>> {
    let start = Instant::now();
    let mut m = Machine::new(t.expected_model.clone(), t.overall);
    m.key_sent = t.endpoint.api_key.is_some();
    if t.reused {
        m.seen_running();
    }
    let mut stage_started = Duration::ZERO;
    sink.emit(Event::StageStarted {
        stage: STAGE.into(),
        detail: Stage::Launch.doing().into(),
    });
    let mut last_line = String::new();
    loop {
        let mut container = container_life(docker, &t.container).await?;
        // Process first, log second: a process that just died has flushed its last lines.
        let mut alive = container == ContainerLife::Running
            && docker
                .tracked_alive(&t.container, SERVE_PIDFILE)
                .await
                .unwrap_or(false);
        if !alive && container == ContainerLife::Running {
            // The container may have died between the two calls (the process dies with it):
            // look again, so a killed container is not reported as an exited process.
            container = container_life(docker, &t.container).await?;
            alive = container == ContainerLife::Running
                && docker
                    .tracked_alive(&t.container, SERVE_PIDFILE)
                    .await
                    .unwrap_or(false);
        }
        let running = container == ContainerLife::Running;
        let raw = follower.poll(docker, &t.container, running).await;
        let mut lines: Vec<String> = raw.iter().map(|l| diagnose::clean_line(l)).collect();
        if !alive && let Some(rest) = follower.rest() {
            lines.push(diagnose::clean_line(&rest));
        }
        if let Some(l) = lines.iter().rev().find(|l| !l.trim().is_empty()) {
            last_line = l.clone();
        }
        let mut obs = Observation::new(container, alive, lines);
        let budget = m.remaining(start.elapsed()).min(probe::PROBE_TIMEOUT);
        if alive {
            match m.stage {
                Stage::Launch => {}
                Stage::LogMilestone | Stage::Health => {
                    obs.health_ok = Some(probe::health(&t.endpoint, budget).await.is_ok())
                }
                Stage::Models => {
                    let r = probe::models(&t.endpoint, budget).await;
                    if let Err(e) = &r {
                        obs.refused = e.downcast_ref::<probe::Refused>().map(|r| r.status);
                    }
                    obs.models = Some(r.map_err(|e| e.to_string()));
                }
                Stage::Generate => {
                    // The first request may be slower than a probe; still within the deadline.
                    let budget = m.remaining(start.elapsed()).min(GENERATE_TIMEOUT);
                    obs.generated = Some(
                        probe::complete_one(&t.endpoint, &m_model(&m, t), budget)
                            .await
                            .map_err(|e| e.to_string()),
                    )
                }
                Stage::Version => {
                    obs.version = Some(probe::version(&t.endpoint, budget).await.ok())
                }
            }
        }
        let now = start.elapsed();
        match m.observe(now, obs) {
            Step::Wait => {
                let tail: String = last_line.chars().take(100).collect();
                let detail = match &m.models_note {
                    Some(n) if m.stage == Stage::Models => format!("{} ({n})", m.stage.doing()),
                    _ if tail.is_empty() => m.stage.doing().to_string(),
                    _ => format!("{} | {tail}", m.stage.doing()),
                };
                sink.emit(Event::StageProgress {
                    stage: STAGE.into(),
                    detail,
                    elapsed_s: now.as_secs_f64(),
                });
                let tick = if m.stage == Stage::Launch {
                    Duration::from_millis(300)
                } else {
                    Duration::from_secs(1)
                };
                let left = m.remaining(start.elapsed());
                tokio::time::sleep(tick.min(left)).await;
            }
            Step::Advanced { from, to, how } => {
                sink.emit(Event::StageFinished {
                    stage: STAGE.into(),
                    detail: format!("{}: {how}", from.name()),
                    elapsed_s: (now - stage_started).as_secs_f64(),
                });
                stage_started = now;
                sink.emit(Event::StageStarted {
                    stage: STAGE.into(),
                    detail: to.doing().into(),
                });
            }
            Step::Ready => {
                sink.emit(Event::StageFinished {
                    stage: STAGE.into(),
                    detail: format!("ready: {} serves {}", t.endpoint.base, t.expected_model),
                    elapsed_s: now.as_secs_f64(),
                });
                let model = m.model.clone().unwrap_or(ModelCard {
                    id: t.expected_model.clone(),
                    root: None,
                    max_model_len: None,
                });
                let version = m.version.clone().unwrap_or_else(|| "unknown".into());
                return Ok(Ok(Ready {
                    model,
                    version,
                    elapsed: now,
                }));
            }
            Step::Failed(mut outcome) => {
                // Gone without the launcher's exit line: killed from outside, maybe with its
                // container. Give the engine a moment to report the container's death.
                if outcome == (Outcome::Exited { status: None }) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let ContainerLife::Stopped {
                        exit_code,
                        oom_killed,
                    } = container_life(docker, &t.container).await?
                    {
                        outcome = Outcome::ContainerDied {
                            exit_code,
                            oom_killed,
                        };
                    }
                }
                // The last lines may still be in flight (or not read yet, in a huge log): read
                // to the end before judging, chunk by chunk, keeping what the diagnosis needs.
                loop {
                    let more = follower.poll(docker, &t.container, running).await;
                    if more.is_empty() {
                        break;
                    }
                    m.keep_lines(more.iter().map(|l| diagnose::clean_line(l)));
                }
                let diag = diagnose::diagnose(outcome, &m.lines);
                // Not a StageFinished: renderers show that as success. The error itself is
                // printed once, by main, with the log tail.
                crate::events::warn(
                    sink,
                    format!(
                        "vllm serve start-up failed after {:.1}s at stage `{}`",
                        now.as_secs_f64(),
                        m.stage.name()
                    ),
                );
                return Ok(Err(diag));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follower_splits_chunks_into_lines_across_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = dir.path().join("server.log");
        let mut f = LogFollower::new(Some(host.clone()), vec!["s3cr3t".into()]);
        assert_eq!(f.take("a\nb"), vec!["a".to_string()]);
        assert_eq!(f.rest().as_deref(), Some("b"));
        assert_eq!(
            f.take("c\n\nd s3cr3t\n"),
            vec!["bc".to_string(), String::new(), "d s3cr3t".to_string()]
        );
        assert_eq!(f.offset, 15);
        assert_eq!(
            std::fs::read_to_string(&host).expect("host log"),
            "a\nbc\n\nd ***\n"
        );
    }
}
