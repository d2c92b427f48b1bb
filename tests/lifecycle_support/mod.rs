//! What the lifecycle tests share on top of `tests/common` (the Docker layer's harness): a
//! stand-in `Config` with unique container and network names, the `vbench.test` label on
//! everything vbench creates, a cleanup guard for those names, and small exec helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use vbench::config::Config;
use vbench::docker::{Docker, ExecSpec};
use vbench::events::Collector;

use crate::common::{Cleanup, unique};

/// A test's stand-in configuration plus what removes its resources.
pub struct Stack {
    pub cfg: Config,
    pub cleanup: Cleanup,
    pub results: tempfile::TempDir,
}

/// Stand-in config with unique names, no published port (probes go to the container's
/// address, so parallel tests never fight over a host port), fast start-up knobs.
pub fn stack(prefix: &str) -> Stack {
    let mut cfg = vbench::server::standin_config(&Config::default());
    cfg.server.container = unique(&format!("{prefix}-srv"));
    cfg.client.container = unique(&format!("{prefix}-cli"));
    cfg.network = unique(&format!("{prefix}-net"));
    cfg.server.publish_port = None;
    cfg.server.env.clear();
    cfg.server
        .env
        .insert("VLLM_STANDIN_LOAD_SECONDS".into(), "0.5".into());
    cfg.server.startup_timeout = Duration::from_secs(60);
    // Other stand-in images (e.g. a local build under test) can be named in the environment.
    if let Ok(i) = std::env::var("VBENCH_STANDIN_SERVER_IMAGE") {
        cfg.server.image = i;
    }
    if let Ok(i) = std::env::var("VBENCH_STANDIN_CLIENT_IMAGE") {
        cfg.client.image = i;
    }
    let results = tempfile::tempdir().expect("tempdir");
    cfg.results_dir = results.path().to_path_buf();
    let cleanup = Cleanup::new();
    cleanup.container(&cfg.server.container);
    cleanup.container(&cfg.client.container);
    cleanup.network(&cfg.network);
    Stack {
        cfg,
        cleanup,
        results,
    }
}

/// Build (if missing) the stand-in images.
pub async fn images(d: &Docker) {
    if std::env::var_os("VBENCH_STANDIN_SERVER_IMAGE").is_some() {
        return;
    }
    vbench::server::ensure_standin_images(d, &Collector::default())
        .await
        .expect("stand-in images");
}

pub fn sink() -> Arc<Collector> {
    Arc::new(Collector::default())
}

/// Run a shell script in a container; (exit code, stdout).
pub async fn sh(d: &Docker, container: &str, script: &str) -> (Option<i64>, String) {
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        deadline: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let (o, out, _) = d.exec_capture(container, &spec).await.expect("exec");
    (o.exit_code, out)
}

/// `vllm serve` processes in the container, from `ps`.
pub async fn serve_processes(d: &Docker, container: &str) -> Vec<String> {
    let (_, out) = sh(d, container, "ps -o pid,args").await;
    // `PID ARGS`: the server's argv[0] is `vllm` (or a path to it); its launcher shells are not it.
    out.lines()
        .filter(|l| {
            let mut f = l.split_whitespace().skip(1);
            f.next()
                .is_some_and(|a0| a0 == "vllm" || a0.ends_with("/vllm"))
                && f.next() == Some("serve")
        })
        .map(str::to_string)
        .collect()
}

/// The exit code an error maps to.
pub fn code(e: &(dyn std::error::Error + 'static)) -> u8 {
    vbench::exit::code_of_error(e).as_u8()
}

/// A sink that notes when the first stage started (the launch), to time diagnoses.
#[derive(Default)]
pub struct TimedSink {
    first_stage: std::sync::Mutex<Option<std::time::Instant>>,
}

impl vbench::events::Sink for TimedSink {
    fn emit(&self, event: vbench::events::Event) {
        if matches!(event, vbench::events::Event::StageStarted { .. }) {
            let mut g = self.first_stage.lock().unwrap_or_else(|e| e.into_inner());
            g.get_or_insert_with(std::time::Instant::now);
        }
    }
}

impl TimedSink {
    /// Time since the first `StageStarted` (panics if there was none).
    pub fn since_first_stage(&self) -> Duration {
        self.first_stage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expect("a stage started")
            .elapsed()
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
