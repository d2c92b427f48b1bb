//! Exec: run an argv (never a shell string built from user input) in a container, streaming
//! stdout and stderr as lines, with an exit code and a deadline. Docker has no exec-kill, so
//! stoppable processes are started in their own session with a PID file and stopped by a
//! second exec that signals the process group.

use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::lines::LineSplitter;
use super::{Docker, DockerError, Result, api, within};

/// Runs `argv` in its own session (so it leads a new process group) and records its PID.
/// The PID file and the argv arrive as positionals (`$1`, then `$@`): nothing the caller
/// gives is ever spliced into shell text.
/// `wait`'s stderr is silenced: some shells report "Terminated" there when the job is killed.
const TRACKED_WRAPPER: &str = r#"f=$1; shift; setsid "$@" & echo $! > "$f"; wait $! 2>/dev/null"#;

/// Lists live (non-zombie) members of process group `$pid` via /proc, so a zombie waiting
/// for its reaper does not count as running. Works in dash, bash and busybox sh.
const ALIVE_FN: &str = r#"alive() { for s in /proc/[0-9]*/stat; do read -r l < "$s" 2>/dev/null || continue; r=${l##*") "}; set -- $r; [ "$3" = "$pid" ] && [ "$1" != Z ] && return 0; done; return 1; }"#;

/// `$1` PID file, `$2` grace in tenths of a second. Exit 0: was running, now gone;
/// 3: nothing running; 4: PID file holds no PID; 5: still there after SIGKILL.
const STOP_SCRIPT: &str = r#"f=$1; ticks=$2
pid=$(cat "$f" 2>/dev/null) || exit 3
case "$pid" in ''|*[!0-9]*) exit 4;; esac
ALIVE
alive || exit 3
kill -TERM -"$pid" 2>/dev/null
i=0
while alive; do
  [ "$i" -ge "$ticks" ] && kill -KILL -"$pid" 2>/dev/null
  [ "$i" -ge $((ticks + 50)) ] && exit 5
  sleep 0.1; i=$((i+1))
done
exit 0"#;

/// `$1` PID file. Exit 0 when a live process of its group exists.
const ALIVE_SCRIPT: &str = r#"pid=$(cat "$1" 2>/dev/null) || exit 1
case "$pid" in ''|*[!0-9]*) exit 1;; esac
ALIVE
alive"#;

/// How long a tracked exec that hit its deadline gets between SIGTERM and SIGKILL.
const DEADLINE_STOP_GRACE: Duration = Duration::from_secs(5);
/// After the output ends, how long the engine may take to report the exit code.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(30);
/// Frames buffered between the drain task and the caller.
const FRAME_QUEUE: usize = 256;
/// Create, start and inspect answer within milliseconds on a healthy engine; this only
/// notices a wedged or lost one.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of exec output (without its newline).
#[derive(Debug, Clone)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// Give up waiting after this long (the process is stopped if it was started `tracked`).
    pub deadline: Option<Duration>,
    /// Start in its own session and write its PID to this file inside the container, so
    /// `stop_tracked` can signal the whole process group.
    pub pidfile: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecOutcome {
    /// None when the deadline passed before it ended.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub duration: Duration,
}

impl ExecSpec {
    /// An exec of `argv` with no env, workdir, deadline or PID file.
    pub fn argv<I: IntoIterator<Item = S>, S: Into<String>>(argv: I) -> ExecSpec {
        ExecSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The argv actually sent: wrapped in the session/PID-file shell when tracked.
    fn effective_argv(&self) -> Vec<String> {
        match &self.pidfile {
            Some(pidfile) => {
                let mut v = vec![
                    "sh".into(),
                    "-c".into(),
                    TRACKED_WRAPPER.into(),
                    "sh".into(),
                    pidfile.clone(),
                ];
                v.extend(self.argv.iter().cloned());
                v
            }
            None => self.argv.clone(),
        }
    }

    fn config(&self, attach: bool) -> ExecConfig {
        ExecConfig {
            cmd: Some(self.effective_argv()),
            env: if self.env.is_empty() {
                None
            } else {
                Some(self.env.clone())
            },
            working_dir: self.workdir.clone(),
            attach_stdout: Some(attach),
            attach_stderr: Some(attach),
            attach_stdin: Some(false),
            tty: Some(false),
            ..Default::default()
        }
    }
}

impl Docker {
    /// Run to completion (or deadline), calling `on_line` for every output line as it arrives.
    pub async fn exec(
        &self,
        container: &str,
        spec: &ExecSpec,
        on_line: &mut (dyn FnMut(OutputLine) + Send),
    ) -> Result<ExecOutcome> {
        let started = Instant::now();
        let what = describe(container, &spec.argv);
        if spec.argv.is_empty() {
            return Err(DockerError::Other(format!(
                "exec in {container}: empty argv"
            )));
        }
        let exec_id = self.create_exec(container, spec, true).await?;
        let op = format!("start {what}");
        let opts = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(64 * 1024),
        };
        let output = match within(&op, CALL_DEADLINE, async {
            self.inner
                .start_exec(&exec_id, Some(opts))
                .await
                .map_err(api(op.clone()))
        })
        .await?
        {
            StartExecResults::Attached { output, .. } => output,
            StartExecResults::Detached => {
                return Err(DockerError::Other(format!(
                    "{what}: the engine detached an attached exec"
                )));
            }
        };

        // Drain in its own task: an attached stream that is not read stalls the process in
        // the container. Frames go through a bounded queue to the caller's callback.
        let (tx, mut rx) = mpsc::channel::<std::result::Result<LogOutput, String>>(FRAME_QUEUE);
        let drain = tokio::spawn(async move {
            let mut output = output;
            while let Some(item) = output.next().await {
                let failed = item.is_err();
                if tx.send(item.map_err(|e| e.to_string())).await.is_err() || failed {
                    break;
                }
            }
        });
        let _abort_drain = AbortOnDrop(drain);

        let mut splitter = LineSplitter::new();
        let deadline = spec.deadline.map(|d| tokio::time::Instant::now() + d);
        let timed_out = loop {
            let frame = match deadline {
                Some(at) => match tokio::time::timeout_at(at, rx.recv()).await {
                    Ok(f) => f,
                    Err(_) => break true,
                },
                None => rx.recv().await,
            };
            match frame {
                Some(Ok(out)) => feed(&mut splitter, out, on_line),
                Some(Err(e)) => {
                    return Err(DockerError::Other(format!(
                        "reading the output of {what}: {e}"
                    )));
                }
                None => break false,
            }
        };

        if timed_out {
            if let Some(pidfile) = &spec.pidfile {
                Box::pin(self.stop_after_deadline(container, pidfile, &exec_id)).await?;
                // The group is gone, so the stream ends soon: deliver its last lines.
                let flush_until = tokio::time::Instant::now() + Duration::from_secs(2);
                while let Ok(Some(Ok(out))) = tokio::time::timeout_at(flush_until, rx.recv()).await
                {
                    feed(&mut splitter, out, on_line);
                }
            }
            splitter.finish(on_line);
            return Ok(ExecOutcome {
                exit_code: None,
                timed_out: true,
                duration: started.elapsed(),
            });
        }
        splitter.finish(on_line);
        // EOF on the stream is not the process being reaped: ask until the engine knows.
        let exit_code = self.wait_exit_code(&exec_id, &what).await?;
        Ok(ExecOutcome {
            exit_code: Some(exit_code),
            timed_out: false,
            duration: started.elapsed(),
        })
    }

    /// Run to completion and collect (exit code, stdout, stderr); every line, the last one
    /// included, ends with `\n` in the collected text.
    pub async fn exec_capture(
        &self,
        container: &str,
        spec: &ExecSpec,
    ) -> Result<(ExecOutcome, String, String)> {
        let mut stdout = String::new();
        let mut stderr = String::new();
        let outcome = self
            .exec(container, spec, &mut |l: OutputLine| {
                let buf = match l.stream {
                    Stream::Stdout => &mut stdout,
                    Stream::Stderr => &mut stderr,
                };
                buf.push_str(&l.text);
                buf.push('\n');
            })
            .await?;
        Ok((outcome, stdout, stderr))
    }

    /// Start detached (outlives vbench); returns at once. Combine with `pidfile` to stop it later.
    /// Its output is discarded: redirect it inside the command if it matters.
    pub async fn exec_detached(&self, container: &str, spec: &ExecSpec) -> Result<()> {
        if spec.argv.is_empty() {
            return Err(DockerError::Other(format!(
                "exec in {container}: empty argv"
            )));
        }
        let exec_id = self.create_exec(container, spec, false).await?;
        let op = format!("start detached {}", describe(container, &spec.argv));
        let opts = StartExecOptions {
            detach: true,
            tty: false,
            output_capacity: None,
        };
        within(&op, CALL_DEADLINE, async {
            self.inner
                .start_exec(&exec_id, Some(opts))
                .await
                .map(|_| ())
                .map_err(api(op.clone()))
        })
        .await
    }

    /// SIGTERM the process group recorded in `pidfile`, SIGKILL after `grace`; returns true if
    /// a process was running. Afterwards no process of that group remains.
    pub async fn stop_tracked(
        &self,
        container: &str,
        pidfile: &str,
        grace: Duration,
    ) -> Result<bool> {
        let ticks = grace.as_millis().div_ceil(100).to_string();
        let script = STOP_SCRIPT.replace("ALIVE", ALIVE_FN);
        let spec = ExecSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                script,
                "sh".into(),
                pidfile.into(),
                ticks,
            ],
            // The script gives up 5 s after SIGKILL; this only guards against a wedged engine.
            deadline: Some(grace + Duration::from_secs(30)),
            ..Default::default()
        };
        let (outcome, _, stderr) = self.exec_capture(container, &spec).await?;
        let what = format!("stop the process recorded in {pidfile} in {container}");
        match outcome.exit_code {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            Some(4) => Err(DockerError::Other(format!(
                "{what}: {pidfile} holds no process id"
            ))),
            Some(5) => Err(DockerError::Other(format!(
                "{what}: its processes survived SIGKILL"
            ))),
            Some(c) => Err(DockerError::Other(format!(
                "{what}: exit code {c}: {}",
                stderr.trim()
            ))),
            None => Err(DockerError::Deadline {
                op: what,
                after: grace + Duration::from_secs(30),
            }),
        }
    }

    /// Is the process recorded in `pidfile` alive?
    pub async fn tracked_alive(&self, container: &str, pidfile: &str) -> Result<bool> {
        let script = ALIVE_SCRIPT.replace("ALIVE", ALIVE_FN);
        let spec = ExecSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                script,
                "sh".into(),
                pidfile.into(),
            ],
            deadline: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let (outcome, _, _) = self.exec_capture(container, &spec).await?;
        match outcome.exit_code {
            Some(code) => Ok(code == 0),
            None => Err(DockerError::Deadline {
                op: format!("check the process recorded in {pidfile} in {container}"),
                after: Duration::from_secs(30),
            }),
        }
    }

    /// The execs running in `container` now, each as its command line: what proves that
    /// nothing started in a container was left running there.
    pub async fn running_execs(&self, container: &str) -> Result<Vec<String>> {
        let op = format!("list the execs of container {container}");
        let ids = within(&op, CALL_DEADLINE, async {
            match self.inner.inspect_container(container, None).await {
                Ok(r) => Ok(r.exec_ids.unwrap_or_default()),
                Err(e) if super::status_of(&e) == Some(404) => Err(DockerError::NotFound {
                    what: format!("container {container}"),
                }),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await?;
        let mut running = Vec::new();
        for id in ids {
            let op = format!("inspect exec {id} in {container}");
            let info = within(&op, CALL_DEADLINE, async {
                match self.inner.inspect_exec(&id).await {
                    Ok(i) => Ok(Some(i)),
                    // Ended and collected between the two calls.
                    Err(e) if super::status_of(&e) == Some(404) => Ok(None),
                    Err(e) => Err(api(op.clone())(e)),
                }
            })
            .await?;
            if let Some(i) = info.filter(|i| i.running == Some(true)) {
                let p = i.process_config.unwrap_or_default();
                let mut cmd = vec![p.entrypoint.unwrap_or_default()];
                cmd.extend(p.arguments.unwrap_or_default());
                running.push(cmd.join(" "));
            }
        }
        Ok(running)
    }

    async fn create_exec(&self, container: &str, spec: &ExecSpec, attach: bool) -> Result<String> {
        let op = format!("create {}", describe(container, &spec.argv));
        within(&op, CALL_DEADLINE, async {
            match self.inner.create_exec(container, spec.config(attach)).await {
                Ok(r) => Ok(r.id),
                Err(e) if super::status_of(&e) == Some(404) => Err(DockerError::NotFound {
                    what: format!("container {container}"),
                }),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    async fn wait_exit_code(&self, exec_id: &str, what: &str) -> Result<i64> {
        let give_up = Instant::now() + EXIT_CODE_WAIT;
        let mut pause = Duration::from_millis(5);
        loop {
            let op = format!("inspect {what}");
            let info = within(&op, CALL_DEADLINE, async {
                self.inner
                    .inspect_exec(exec_id)
                    .await
                    .map_err(api(op.clone()))
            })
            .await?;
            if info.running != Some(true)
                && let Some(code) = info.exit_code
            {
                return Ok(code);
            }
            if Instant::now() >= give_up {
                return Err(DockerError::Deadline {
                    op: format!("exit code of {what}"),
                    after: EXIT_CODE_WAIT,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// The deadline passed on a tracked exec: stop its group. The PID file may not be written
    /// yet if the deadline was very short, so retry briefly while the exec still runs.
    async fn stop_after_deadline(
        &self,
        container: &str,
        pidfile: &str,
        exec_id: &str,
    ) -> Result<()> {
        for _ in 0..20 {
            if self
                .stop_tracked(container, pidfile, DEADLINE_STOP_GRACE)
                .await?
            {
                return Ok(());
            }
            let running = tokio::time::timeout(CALL_DEADLINE, self.inner.inspect_exec(exec_id))
                .await
                .ok()
                .and_then(|r| r.ok())
                .is_some_and(|i| i.running == Some(true));
            if !running {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

fn feed(splitter: &mut LineSplitter, out: LogOutput, on_line: &mut (dyn FnMut(OutputLine) + Send)) {
    match out {
        LogOutput::StdErr { message } => splitter.push(Stream::Stderr, &message, on_line),
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            splitter.push(Stream::Stdout, &message, on_line)
        }
        LogOutput::StdIn { .. } => {}
    }
}

/// `exec [vllm bench serve …] in vllm-bench-client`, short enough for an error message.
fn describe(container: &str, argv: &[String]) -> String {
    let mut shown: String = argv.iter().take(4).cloned().collect::<Vec<_>>().join(" ");
    if argv.len() > 4 {
        shown.push_str(" …");
    }
    if shown.len() > 120 {
        let cut = (0..=120)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    format!("exec [{shown}] in {container}")
}

/// Aborts the drain task when the exec call returns (or is cancelled).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
