//! Exec: run an argv (never a shell string built from user input) in a container, streaming
//! stdout and stderr as lines, with an exit code and a deadline. Docker has no exec-kill, so
//! stoppable processes are started in their own session with a PID file and stopped by a
//! second exec that signals the process group.

use std::time::Duration;

use super::{Docker, Result};

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

impl Docker {
    /// Run to completion (or deadline), calling `on_line` for every output line as it arrives.
    pub async fn exec(
        &self,
        container: &str,
        spec: &ExecSpec,
        on_line: &mut (dyn FnMut(OutputLine) + Send),
    ) -> Result<ExecOutcome> {
        let _ = (container, spec, on_line);
        todo!()
    }

    /// Run to completion and collect (exit code, stdout, stderr).
    pub async fn exec_capture(
        &self,
        container: &str,
        spec: &ExecSpec,
    ) -> Result<(ExecOutcome, String, String)> {
        let _ = (container, spec);
        todo!()
    }

    /// Start detached (outlives vbench); returns at once. Combine with `pidfile` to stop it later.
    pub async fn exec_detached(&self, container: &str, spec: &ExecSpec) -> Result<()> {
        let _ = (container, spec);
        todo!()
    }

    /// SIGTERM the process group recorded in `pidfile`, SIGKILL after `grace`; returns true if
    /// a process was running. Afterwards no process of that group remains.
    pub async fn stop_tracked(
        &self,
        container: &str,
        pidfile: &str,
        grace: Duration,
    ) -> Result<bool> {
        let _ = (container, pidfile, grace);
        todo!()
    }

    /// Is the process recorded in `pidfile` alive?
    pub async fn tracked_alive(&self, container: &str, pidfile: &str) -> Result<bool> {
        let _ = (container, pidfile);
        todo!()
    }
}
