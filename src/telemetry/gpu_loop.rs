//! The persistent GPU sampler: ONE exec in the server container for the whole run —
//! `nvidia-smi`'s own loop mode (`-lms 1000`, a CSV line per GPU per sample) or, for ROCm, a
//! `rocm-smi --json` loop inside one shell — read as a stream and parsed with `crate::gpu`'s
//! parsers. It runs tracked (own process group, pid file) so the end of the run stops it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Store;
use crate::docker::{Docker, ExecSpec};
use crate::gpu;

/// Runs `$@` in its own session with its pid in `$1`, so it can be stopped as a group.
const TRACKED: &str = r#"f=$1; shift; setsid "$@" & echo $! > "$f"; wait $!"#;
/// Ends each `rocm-smi` sample in the stream.
const BLOCK_END: &str = "__VBENCH_SAMPLE_END__";
/// The sample period of `nvidia-smi -lms`; the ROCm loop sleeps whole seconds (`sleep 1`),
/// the one interval every `sleep` accepts.
const PERIOD_MS: &str = "1000";
/// The same, as a duration.
pub const PERIOD: std::time::Duration = std::time::Duration::from_millis(1000);

/// A running sampler.
pub struct GpuLoop {
    docker: Docker,
    container: String,
    pidfile: String,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Copy)]
enum Tool {
    Nvidia,
    Rocm,
}

impl GpuLoop {
    /// Start it when a tool answers in `container`; `Ok(None)`: no GPU tool there.
    pub async fn start(
        docker: &Docker,
        container: &str,
        run_id: &str,
        store: Arc<Mutex<Store>>,
    ) -> Result<Option<GpuLoop>, String> {
        let Some(tool) = probe(docker, container).await else {
            return Ok(None);
        };
        let pidfile = format!("/tmp/vbench-gpu-{run_id}.pid");
        // A sampler of this run may be left from a vbench that was killed or lost the engine
        // (a resumed run): stop it, or it would run on with no reader and no pid file.
        let _ = docker
            .stop_tracked(container, &pidfile, Duration::from_secs(2))
            .await;
        let mut argv: Vec<String> = ["sh", "-c", TRACKED, "sh", &pidfile]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match tool {
            Tool::Nvidia => {
                argv.extend(gpu::NVIDIA_ARGS.iter().map(|s| s.to_string()));
                argv.extend(["-lms".to_string(), PERIOD_MS.to_string()]);
            }
            Tool::Rocm => {
                let script = format!(r#"while :; do "$@"; echo {BLOCK_END}; sleep 1; done"#);
                argv.extend(["sh".into(), "-c".into(), script, "sh".into()]);
                argv.extend(gpu::ROCM_ARGS.iter().map(|s| s.to_string()));
            }
        }
        let mut session = docker
            .exec_session(container, &argv, &[])
            .await
            .map_err(|e| format!("cannot start the GPU sampler in {container}: {e}"))?;
        let source = format!(
            "{} loop (container {container})",
            match tool {
                Tool::Nvidia => "nvidia-smi",
                Tool::Rocm => "rocm-smi",
            }
        );
        let reader = tokio::spawn(async move {
            let mut partial = Vec::new();
            let mut block = String::new();
            while let Some(Ok(chunk)) = session.recv().await {
                partial.extend_from_slice(&chunk);
                while let Some(i) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    let parsed = match tool {
                        // One GPU per line; a line that does not parse is skipped.
                        Tool::Nvidia => gpu::parse_nvidia_csv(&line, &source).ok(),
                        Tool::Rocm if line.trim() == BLOCK_END => {
                            let b = std::mem::take(&mut block);
                            gpu::parse_rocm_json(&b, &source).ok()
                        }
                        Tool::Rocm => {
                            block.push_str(&line);
                            block.push('\n');
                            None
                        }
                    };
                    if let Some(gpus) = parsed.filter(|g| !g.is_empty())
                        && let Ok(mut s) = store.lock()
                    {
                        s.add_gpus(gpus);
                    }
                }
            }
        });
        Ok(Some(GpuLoop {
            docker: docker.clone(),
            container: container.to_string(),
            pidfile,
            reader,
        }))
    }

    /// Stop the sampler's process in the container and its reader.
    pub async fn stop(self) {
        let _ = self
            .docker
            .stop_tracked(&self.container, &self.pidfile, Duration::from_secs(2))
            .await;
        self.reader.abort();
    }
}

/// Which tool answers in the container (one exec each, once per run).
async fn probe(docker: &Docker, container: &str) -> Option<Tool> {
    for (tool, args) in [
        (Tool::Nvidia, gpu::NVIDIA_ARGS),
        (Tool::Rocm, gpu::ROCM_ARGS),
    ] {
        let spec = ExecSpec {
            argv: args.iter().map(|s| s.to_string()).collect(),
            deadline: Some(Duration::from_secs(15)),
            ..Default::default()
        };
        if let Ok((o, out, _)) = docker.exec_capture(container, &spec).await
            && o.exit_code == Some(0)
            && !out.trim().is_empty()
        {
            return Some(tool);
        }
    }
    None
}
