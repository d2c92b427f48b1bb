//! A long-lived exec with its stdin open: the transport of the persistent channel into the
//! client container (`crate::channel`). Bytes written go to the process's stdin; its stdout
//! arrives as raw byte chunks (binary-safe: result files travel on it), its stderr as lines
//! kept for diagnostics. The output is drained in its own task, so an unread stream never
//! stalls the process.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{Docker, DockerError, Result, api, within};

/// Stdout chunks buffered between the drain task and the reader.
const CHUNK_QUEUE: usize = 256;
/// Stderr lines kept (the last ones) to explain a session that died.
const STDERR_KEPT: usize = 50;

/// A running exec with stdin attached.
pub struct ExecSession {
    pub exec_id: String,
    container: String,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    stdout: mpsc::Receiver<std::result::Result<Vec<u8>, String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    drain: tokio::task::JoinHandle<()>,
}

impl Drop for ExecSession {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

impl ExecSession {
    /// Write bytes to the process's stdin and flush them.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.input.write_all(bytes).await?;
        self.input.flush().await
    }

    /// The next stdout chunk; `None` once the stream ended (the process exited or the
    /// engine dropped the connection).
    pub async fn recv(&mut self) -> Option<std::result::Result<Vec<u8>, String>> {
        self.stdout.recv().await
    }

    /// The last stderr lines the process wrote.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Close stdin (the agent then exits at end of input).
    pub async fn close(&mut self) -> std::io::Result<()> {
        self.input.shutdown().await
    }

    pub fn container(&self) -> &str {
        &self.container
    }
}

impl Docker {
    /// Start `argv` in `container` with stdin, stdout and stderr attached.
    pub async fn exec_session(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<ExecSession> {
        let op = format!("start a session in {container}");
        let cfg = ExecConfig {
            cmd: Some(argv.to_vec()),
            env: (!env.is_empty()).then(|| env.to_vec()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let created = within(&op, Duration::from_secs(60), async {
            self.inner
                .create_exec(container, cfg)
                .await
                .map_err(api(format!("create a session exec in {container}")))
        })
        .await?;
        let opts = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(256 * 1024),
        };
        let started = within(&op, Duration::from_secs(60), async {
            self.inner
                .start_exec(&created.id, Some(opts))
                .await
                .map_err(api(op.clone()))
        })
        .await?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(DockerError::Other(format!(
                "{op}: the engine detached an attached exec"
            )));
        };
        let (tx, rx) = mpsc::channel(CHUNK_QUEUE);
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let kept = stderr.clone();
        let drain = tokio::spawn(async move {
            let mut output = output;
            let mut partial = Vec::new();
            while let Some(item) = output.next().await {
                let sent = match item {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        tx.send(Ok(message.to_vec())).await
                    }
                    Ok(LogOutput::StdErr { message }) => {
                        keep_lines(&kept, &mut partial, &message);
                        Ok(())
                    }
                    Ok(LogOutput::StdIn { .. }) => Ok(()),
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string())).await;
                        break;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        Ok(ExecSession {
            exec_id: created.id,
            container: container.to_string(),
            input,
            stdout: rx,
            stderr,
            drain,
        })
    }
}

fn keep_lines(kept: &Mutex<VecDeque<String>>, partial: &mut Vec<u8>, bytes: &[u8]) {
    partial.extend_from_slice(bytes);
    let Ok(mut q) = kept.lock() else {
        return;
    };
    while let Some(i) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=i).collect();
        if q.len() == STDERR_KEPT {
            q.pop_front();
        }
        q.push_back(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
    }
}
