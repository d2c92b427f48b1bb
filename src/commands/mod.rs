//! Subcommand glue: turn the clap types into the engine's own options, connect what is
//! needed, call the engine, show its result. One module per subcommand; no engine logic
//! here. This is the only place (with `cli`, `lib` and `main`) that knows the command line.

mod compare;
mod completions;
mod config_cmd;
mod demo;
mod doctor;
mod down;
mod gpu;
mod history;
mod images;
mod init;
mod logs;
mod man;
mod prune;
mod report;
mod run;
mod slo;
mod status;
mod up;

use crate::cli::{Cli, ColorMode, Command, Global, OutputMode};
use crate::config::{self, Config};
use crate::docker::{Docker, DockerError};
use crate::pipeline::RunOutcome;
use crate::render::Output;
use crate::sweep::Selection;

/// What a command achieved (errors aside): done, or a run with its outcome.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Run(RunOutcome),
    /// `compare`: the verdict decides the exit code.
    Judged(crate::report::verdict::Outcome),
    /// A run over a matrix of server combinations.
    Matrix(crate::matrix::MatrixOutcome),
    /// A run fanned out over several hosts.
    Fanout(crate::hosts::fanout::FanoutOutcome),
}

/// What a command itself (not the engine below it) can fail at.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A flag's value is wrong.
    #[error("{0}")]
    Usage(String),
    /// Something the command needs is missing (a container, the stand-in images).
    #[error("{0}")]
    Setup(String),
    /// The Docker Engine cannot be reached or refused.
    #[error("cannot {op}: {source}")]
    Docker {
        op: String,
        #[source]
        source: DockerError,
    },
    /// `vbench doctor` found a failing check.
    #[error("doctor: {check}: {detail}")]
    ChecksFailed { check: String, detail: String },
    /// Writing the command's output failed (not a closed pipe, which is fine).
    #[error("cannot write {what}: {source}")]
    Output {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Run the parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let g = &cli.global;
    match cli.command {
        Command::Init { path, force } => init::cmd(&path, force),
        Command::Config { schema, overrides } => config_cmd::cmd(g, schema, &overrides),
        Command::Doctor {
            all_hosts,
            overrides,
        } => doctor::cmd(g, all_hosts, &overrides).await,
        Command::Images { action } => images::cmd(g, action).await,
        Command::Up(args) => up::cmd(g, args).await,
        Command::Status { overrides } => status::cmd(g, &overrides).await,
        Command::Logs(args) => logs::cmd(g, args).await,
        Command::Gpu { watch, overrides } => gpu::cmd(g, watch, &overrides).await,
        Command::Down(args) => down::cmd(g, args).await,
        Command::Run(args) => run::cmd(g, args).await,
        Command::Demo(args) => demo::cmd(g, args).await,
        Command::Slo(args) => slo::cmd(g, args).await,
        Command::Report(args) => report::cmd(g, args).await,
        Command::Compare(args) => compare::cmd(g, args).await,
        Command::History(args) => history::cmd(g, args).await,
        Command::Prune(args) => prune::cmd(g, args).await,
        Command::Completions { shell } => completions::cmd(shell),
        Command::Man { out_dir } => man::cmd(out_dir.as_deref()),
    }
}

/// The effective output (`--json` wins).
pub(crate) fn output(g: &Global) -> Output {
    if g.json {
        return Output::Json;
    }
    match g.output {
        OutputMode::Auto => Output::Auto,
        OutputMode::Tty => Output::Tty,
        OutputMode::Plain => Output::Plain,
        OutputMode::Json => Output::Json,
    }
}

/// The effective colour choice (`--color`), in the renderers' terms.
pub(crate) fn color(g: &Global) -> crate::render::color::Color {
    use crate::render::color::Color;
    match g.color {
        ColorMode::Auto => Color::Auto,
        ColorMode::Always => Color::Always,
        ColorMode::Never => Color::Never,
    }
}

/// The flags that override the configuration file, in the configuration's terms.
pub(crate) fn overrides(o: &crate::cli::Overrides) -> config::Overrides {
    config::Overrides {
        model: o.model.clone(),
        tensor_parallel_size: o.tensor_parallel_size,
        gpu_memory_utilization: o.gpu_memory_utilization,
        max_model_len: o.max_model_len,
        enforce_eager: o.enforce_eager,
        gpu: o.gpu.clone(),
        gpus: o.gpus.clone(),
        server_image: o.server_image.clone(),
        client_image: o.client_image.clone(),
        server_container: o.server_container.clone(),
        client_container: o.client_container.clone(),
        network: o.network.clone(),
        results_dir: o.results_dir.clone(),
        startup_timeout: o.startup_timeout.clone(),
        client_mode: o.client_mode.clone(),
        pull: None,
        matrix_set: vec![],
    }
}

/// The sweep selection flags, in the sweep's terms.
pub(crate) fn selection(s: &crate::cli::SweepSelection) -> Selection {
    Selection {
        sweeps: s.sweeps.clone(),
        input_len: s.input_len.clone(),
        output_len: s.output_len,
        min_concurrency: s.min_concurrency,
        max_concurrency: s.max_concurrency,
        concurrency: s.concurrency.clone(),
        single: s.single,
        num_prompts: s.num_prompts,
        repeats: s.repeats,
    }
}

/// The effective configuration: `--config` (else `./vbench.yaml`), then the flags, then
/// `--host`'s settings.
pub(crate) fn load(g: &Global, o: &crate::cli::Overrides) -> anyhow::Result<Config> {
    on_host(g, config::load(g.config.as_deref(), &overrides(o))?)
}

/// With `--host NAME`: the configuration on that host (`hosts::on_host`).
pub(crate) fn on_host(g: &Global, cfg: Config) -> anyhow::Result<Config> {
    match &g.host {
        None => Ok(cfg),
        Some(name) => {
            let h = crate::hosts::named(&cfg, name)?;
            Ok(crate::hosts::on_host(&cfg, h))
        }
    }
}

/// The engine a command talks to: `--host`'s, else `--docker-host` (or `DOCKER_HOST`).
pub(crate) fn endpoint(g: &Global, cfg: &Config) -> crate::docker::Endpoint {
    match g.host.as_deref().and_then(|n| cfg.host(n)) {
        Some(h) => h.endpoint(),
        None => crate::docker::Endpoint::host(g.docker_host.as_deref()),
    }
}

/// `load`, with `--pull` (on the commands that create containers) overriding `pull`.
pub(crate) fn load_with_pull(
    g: &Global,
    o: &crate::cli::Overrides,
    pull: Option<&str>,
) -> anyhow::Result<Config> {
    let mut ov = overrides(o);
    ov.pull = pull.map(str::to_string);
    on_host(g, config::load(g.config.as_deref(), &ov)?)
}

/// `load_with_pull`, plus the matrix combinations set on the command line.
pub(crate) fn load_for_run(
    g: &Global,
    o: &crate::cli::Overrides,
    pull: Option<&str>,
    matrix: &crate::cli::MatrixArgs,
) -> anyhow::Result<Config> {
    let mut ov = overrides(o);
    ov.pull = pull.map(str::to_string);
    ov.matrix_set = matrix.matrix_set.clone();
    let mut cfg = config::load(g.config.as_deref(), &ov)?;
    if matrix.no_matrix {
        cfg.matrix.clear();
    }
    on_host(g, cfg)
}

/// Run the pipeline, or the matrix when the configuration has one.
pub(crate) async fn run_or_matrix(
    cfg: &Config,
    opts: &crate::pipeline::RunOptions,
    sink: std::sync::Arc<dyn crate::events::Sink>,
) -> anyhow::Result<Outcome> {
    if cfg.matrix.is_empty() {
        Ok(Outcome::Run(crate::pipeline::run(cfg, opts, sink).await?))
    } else {
        Ok(Outcome::Matrix(crate::matrix::run(cfg, opts, sink).await?))
    }
}

/// A threshold as written: `5%` or `0.05`.
pub(crate) fn threshold(s: &str) -> Result<f64, CommandError> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(x) if x.is_finite() && (0.0..1.0).contains(&x) => Ok(x),
        _ => Err(CommandError::Usage(format!(
            "--threshold {s}: give a percentage below 100% (`5%`) or a fraction (`0.05`)"
        ))),
    }
}

/// Extra labels for everything vbench creates, from `VBENCH_LABELS=k=v,k2=v2`.
pub(crate) fn labels() -> crate::docker::Labels {
    std::env::var("VBENCH_LABELS")
        .map(|s| crate::docker::parse_labels(&s))
        .unwrap_or_default()
}

/// Connect to the Docker Engine (`--host`'s, else `--docker-host`, else `DOCKER_HOST`),
/// labelling what the command creates with `VBENCH_LABELS`.
pub(crate) async fn connect(g: &Global, cfg: &Config) -> anyhow::Result<Docker> {
    if let Some(h) = g.host.as_deref().and_then(|n| cfg.host(n)) {
        return Ok(crate::hosts::connect(h, labels()).await?);
    }
    Docker::connect(g.docker_host.as_deref())
        .await
        .map(|d| d.with_labels(labels()))
        .map_err(|source| {
            CommandError::Docker {
                op: "connect to the Docker Engine".into(),
                source,
            }
            .into()
        })
}

/// Write a command's result to stdout; a closed pipe (`vbench config | head`) is not an error.
pub(crate) fn print_out(text: &str) -> Result<(), CommandError> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CommandError::Output {
            what: "to stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// What a second SIGINT/SIGTERM does during a run: exit at once as "interrupted".
pub(crate) fn exit_interrupted() {
    std::process::exit(crate::exit::Code::Interrupted.as_u8().into())
}
