//! The command line: clap derive types only. No behaviour lives here; `commands` turns these
//! into calls on the engine, and `config::load` merges the overrides into the file's values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vbench",
    version,
    about = "Run the whole vLLM serving benchmark on a GPU host in one command, through the Docker Engine API",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Configuration file (default: ./vbench.yaml if it exists, else built-in defaults).
    #[arg(long, short = 'c', global = true, env = "VBENCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Docker Engine address (unix:///var/run/docker.sock by default).
    #[arg(long, global = true, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Use the engine named NAME in the configuration's `hosts:` (its address, GPU settings
    /// and container names; results under <results_dir>/hosts/NAME). Wins over
    /// --docker-host. Default: the local engine.
    #[arg(long, global = true, value_name = "NAME", env = "VBENCH_HOST")]
    pub host: Option<String>,
    /// Output mode: a terminal UI, plain timestamped lines (cron), or one JSON event per line.
    /// Default: `auto` (terminal UI on a TTY, plain lines otherwise).
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Auto)]
    pub output: OutputMode,
    /// Shorthand for `--output json`.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to colour output: `auto` (on a terminal, unless NO_COLOR is set), `always` or
    /// `never`. For `vbench logs`, `always` also keeps the log's own ANSI codes.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorMode {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputMode {
    #[default]
    Auto,
    Tty,
    Plain,
    Json,
}

/// Values that override the configuration file for this invocation.
#[derive(Debug, Args, Clone, Default)]
pub struct Overrides {
    /// Model to serve (HF id or path inside the server container).
    #[arg(long)]
    pub model: Option<String>,
    /// Tensor parallel size.
    #[arg(long = "tp", alias = "tensor-parallel-size")]
    pub tensor_parallel_size: Option<u32>,
    /// GPU memory utilisation (0 < F <= 1).
    #[arg(long)]
    pub gpu_memory_utilization: Option<f64>,
    /// Maximum model length passed to `vllm serve`.
    #[arg(long)]
    pub max_model_len: Option<u64>,
    /// Run `vllm serve` with or without `--enforce-eager`.
    #[arg(long)]
    pub enforce_eager: Option<bool>,
    /// GPU preset for containers vbench creates.
    #[arg(long, value_parser = ["auto", "nvidia", "amd", "none"])]
    pub gpu: Option<String>,
    /// GPUs for the server container vbench creates: `all`, a count (`4`: the first four) or
    /// host indices (`4,5,6,7`).
    #[arg(long, value_name = "all|N|IDS")]
    pub gpus: Option<String>,
    /// Server container image (used only when vbench creates the container).
    #[arg(long)]
    pub server_image: Option<String>,
    /// Client container image (used only when vbench creates the container).
    #[arg(long)]
    pub client_image: Option<String>,
    /// Server container name.
    #[arg(long)]
    pub server_container: Option<String>,
    /// Client container name.
    #[arg(long)]
    pub client_container: Option<String>,
    /// Docker network joining the two containers.
    #[arg(long)]
    pub network: Option<String>,
    /// Host directory for results, logs and run state.
    #[arg(long)]
    pub results_dir: Option<PathBuf>,
    /// Start-up deadline for `vllm serve` (e.g. `30m`, `90s`).
    #[arg(long)]
    pub startup_timeout: Option<String>,
    /// How the client runs each point: worker (vLLM imported once), process, or auto.
    #[arg(long, value_parser = ["auto", "worker", "process"])]
    pub client_mode: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented default vbench.yaml.
    Init {
        /// Where to write it.
        #[arg(default_value = "vbench.yaml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the effective configuration (file + environment + flags), secrets redacted.
    Config {
        /// Print the JSON Schema of vbench.yaml instead (for editors: see the README).
        #[arg(long)]
        schema: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Check Docker, the GPU runtime, images, containers and disk space.
    Doctor {
        /// Check every engine of the configuration's `hosts:`, one section per host.
        #[arg(long, conflicts_with = "host")]
        all_hosts: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Pull the configured images, or build the CPU stand-in images (a test double for vLLM;
    /// never a GPU measurement).
    Images {
        #[command(subcommand)]
        action: ImagesAction,
    },
    /// Bring `vllm serve` up in the server container and prove it ready.
    Up(UpArgs),
    /// Show the containers, the server process and its health.
    Status {
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Show the server's or the client's log.
    Logs(LogsArgs),
    /// Sample GPU utilisation, memory, power and temperature.
    Gpu {
        /// Sample every SECS seconds until interrupted.
        #[arg(long)]
        watch: Option<f64>,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Stop `vllm serve`; optionally remove the containers vbench created.
    Down(DownArgs),
    /// The one command: up (or reuse), run sweeps, summarise, optionally down.
    Run(RunArgs),
    /// The whole pipeline on the CPU stand-in with a small sweep (builds its images if missing).
    Demo(DemoArgs),
    /// Find the highest concurrency (or request rate) that meets every p99 latency limit.
    Slo(SloArgs),
    /// Tables, charts and report.html for a run, or for result files and directories to import.
    Report(ReportArgs),
    /// Judge NEW against BASE: exit 0 (pass), 8 (regressed) or 9 (cannot judge).
    Compare(CompareArgs),
    /// A point's metric across runs: a table, and a trend chart (SVG and HTML).
    History(HistoryArgs),
    /// Delete all but the newest runs (run directories and their result files).
    Prune(PruneArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per subcommand to a directory.
    Man {
        /// Write vbench.1 and vbench-<subcommand>.1 here instead of printing vbench.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesAction {
    /// Build `vbench/vllm-standin-server` and `vbench/vllm-standin-client` from scratch.
    Build {
        /// Tag for both images (the tag `demo` and `--standin` use: `VBENCH_STANDIN_TAG`, else
        /// `latest`).
        #[arg(long, env = "VBENCH_STANDIN_TAG", default_value = "latest")]
        tag: String,
    },
    /// Pull the configured server and client images (always, whatever `pull` says), with
    /// credentials from the Docker configuration (`docker login`).
    Pull {
        #[command(flatten)]
        overrides: Box<Overrides>,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stop a server that serves another model or other arguments, then start ours.
    #[arg(long)]
    pub restart: bool,
    /// Use the CPU stand-in images and no GPU (rehearsal; not a GPU measurement).
    #[arg(long)]
    pub standin: bool,
    /// When to pull the images of containers vbench creates (overrides `pull`).
    #[arg(long, value_parser = PULL_POLICIES)]
    pub pull: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// `--pull`'s values, Docker's convention: pull a missing image, always pull, never pull.
pub const PULL_POLICIES: [&str; 3] = ["missing", "always", "never"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Server,
    Client,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub which: Which,
    /// Follow the log.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines from the end to show first.
    #[arg(long)]
    pub tail: Option<u64>,
    /// Only lines since this time (RFC 3339, a UNIX timestamp, or a duration like `10m`).
    #[arg(long)]
    pub since: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove the containers (only those vbench created unless --force).
    #[arg(long)]
    pub remove: bool,
    /// With --remove: remove containers vbench did not create too.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// Which points to run: presets and sweeps from the config, or a custom sweep from flags.
#[derive(Debug, Args, Clone, Default)]
pub struct SweepSelection {
    /// Sweeps to run: `production`, `scaling`, `scaling-200`, or names from the config.
    pub sweeps: Vec<String>,
    /// Custom sweep: input length(s) in tokens (`1024`, `1K`, `1K,4K`).
    #[arg(long, value_delimiter = ',')]
    pub input_len: Vec<String>,
    /// Custom sweep: output length in tokens.
    #[arg(long)]
    pub output_len: Option<u64>,
    /// Custom sweep: lowest concurrency of a 1-2-5 ladder.
    #[arg(long)]
    pub min_concurrency: Option<u64>,
    /// Custom sweep: highest concurrency of a 1-2-5 ladder.
    #[arg(long)]
    pub max_concurrency: Option<u64>,
    /// Custom sweep: an explicit list of concurrencies.
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<u64>,
    /// Custom sweep: one concurrency level only.
    #[arg(long)]
    pub single: Option<u64>,
    /// Custom sweep: number of prompts per point (default: prompts_per_concurrency x C).
    #[arg(long)]
    pub num_prompts: Option<u64>,
    /// Run every point N times (in rounds), so the verdict knows the noise.
    #[arg(long)]
    pub repeats: Option<u32>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: SweepSelection,
    /// Print the plan and the estimated time; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Resume a run (the latest if no id is given): only points not yet done run.
    #[arg(long, num_args = 0..=1, default_missing_value = "latest")]
    pub resume: Option<String>,
    /// With --resume: accept a changed configuration.
    #[arg(long)]
    pub force: bool,
    /// If the server dies mid-sweep, bring it back and retry the point once.
    #[arg(long)]
    pub restart_server: bool,
    /// Stop the server when the run ends.
    #[arg(long)]
    pub down: bool,
    /// Restart a server that serves another model or other arguments.
    #[arg(long)]
    pub restart: bool,
    /// Use the CPU stand-in images and no GPU (rehearsal; not a GPU measurement).
    #[arg(long)]
    pub standin: bool,
    /// Judge the run at its end against `last-good` (the newest earlier good run of the same
    /// configuration) or a run id: exit 0 (pass), 8 (regressed) or 9 (cannot judge).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Relative change that counts for the verdict (`5%` or `0.05`).
    #[arg(long, default_value = "10%")]
    pub threshold: String,
    /// When to pull the images of containers vbench creates (overrides `pull`).
    #[arg(long, value_parser = PULL_POLICIES)]
    pub pull: Option<String>,
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Fan the run out over these hosts of the configuration's `hosts:` (`a,b`): one run id,
    /// per-host progress, one report with a line per host.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        conflicts_with = "host"
    )]
    pub hosts: Vec<String>,
    /// With --hosts: `replicate` runs every point on every host (compare hosts or GPU
    /// types); `shard` divides the points among identical hosts (a free host takes the next;
    /// a failed host's points go to the others).
    #[arg(long, value_parser = ["replicate", "shard"], default_value = "replicate", requires = "hosts")]
    pub mode: String,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// The matrix of server combinations, from the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct MatrixArgs {
    /// Set a key of matrix combination NAME, adding the combination when the configuration
    /// has none of that name (repeatable). Keys: image, tensor_parallel_size,
    /// gpu_memory_utilization, max_model_len, enforce_eager, extra_args (words, or a YAML
    /// list `[a, b]`), env.NAME.
    #[arg(long = "matrix-set", value_name = "NAME:KEY=VALUE")]
    pub matrix_set: Vec<String>,
    /// Ignore the configuration's matrix: one run with the server section as it is.
    #[arg(long, conflicts_with = "matrix_set")]
    pub no_matrix: bool,
}

/// `vbench slo`: the highest load that meets every given p99 limit.
#[derive(Debug, Args)]
pub struct SloArgs {
    /// p99 time to first token must not exceed this (`2s`, `500ms`).
    #[arg(long, value_name = "DURATION")]
    pub ttft_p99: Option<String>,
    /// p99 time per output token must not exceed this (`50ms`).
    #[arg(long, value_name = "DURATION")]
    pub tpot_p99: Option<String>,
    /// p99 end-to-end latency must not exceed this (`30s`).
    #[arg(long, value_name = "DURATION")]
    pub e2el_p99: Option<String>,
    /// Input length(s) in tokens (`1K`, `1K,4K`: one search each).
    #[arg(long, value_delimiter = ',')]
    pub input_len: Vec<String>,
    /// Output length in tokens.
    #[arg(long)]
    pub output_len: Option<String>,
    /// Search the request rate (requests per second, Poisson arrivals, no concurrency cap)
    /// instead of the concurrency.
    #[arg(long)]
    pub rate: bool,
    /// First level probed (default 1); the search doubles from here.
    #[arg(long)]
    pub start: Option<f64>,
    /// Highest level probed (default 1024).
    #[arg(long)]
    pub max: Option<f64>,
    /// At most this many points per input length, repeats included (default 20).
    #[arg(long)]
    pub max_points: Option<u32>,
    /// Runs of each of the two levels at the boundary (default 3; majority decides).
    #[arg(long)]
    pub boundary_repeats: Option<u32>,
    /// Rate search: stop when the rates that meet and miss are within this fraction (0.1).
    #[arg(long)]
    pub precision: Option<f64>,
    /// num_prompts = this × concurrency at each level (default 4: sustained load).
    #[arg(long)]
    pub prompts_per_concurrency: Option<u64>,
    /// A fixed num_prompts at every level.
    #[arg(long)]
    pub num_prompts: Option<u64>,
    /// Per-point deadline (default run.point_timeout).
    #[arg(long)]
    pub point_timeout: Option<String>,
    /// Print the plan (the first probe) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Resume an interrupted search (the latest run if no id is given).
    #[arg(long, num_args = 0..=1, default_missing_value = "latest")]
    pub resume: Option<String>,
    /// With --resume: accept a changed configuration.
    #[arg(long)]
    pub force: bool,
    /// If the server dies, bring it back and retry the point once.
    #[arg(long)]
    pub restart_server: bool,
    /// Stop the server when the search ends.
    #[arg(long)]
    pub down: bool,
    /// Restart a server that serves another model or other arguments.
    #[arg(long)]
    pub restart: bool,
    /// Use the CPU stand-in images and no GPU (rehearsal; not a GPU measurement).
    #[arg(long)]
    pub standin: bool,
    /// When to pull the images of containers vbench creates (overrides `pull`).
    #[arg(long, value_parser = PULL_POLICIES)]
    pub pull: Option<String>,
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop the stand-in server when the demo ends (default: leave it up for `vbench status`).
    #[arg(long)]
    pub down: bool,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run id or run directory (default: the latest run), or result files and directories
    /// to import (the manual scripts' production/ and scaling/ layouts, any vLLM era).
    pub inputs: Vec<String>,
    /// Compare with and judge against this run or these results (default: compare with the
    /// previous comparable run, no verdict).
    #[arg(long)]
    pub against: Option<String>,
    /// Where to write the report (default: the run's directory; for an import,
    /// <results_dir>/reports/<name>-<hash>/).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Relative change that counts for the verdict (`5%` or `0.05`).
    #[arg(long, default_value = "10%")]
    pub threshold: String,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run id or run directory, or result files/directories.
    pub base: String,
    /// The run to judge: a run id or run directory, or result files/directories.
    pub new: String,
    /// Relative change that counts (`5%` or `0.05`); changes within the spread between
    /// repeats never count.
    #[arg(long, default_value = "10%")]
    pub threshold: String,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Points to show (a substring of `production input 1K output 500 conc 5` or of the
    /// point's name); repeatable; default: every point.
    #[arg(long = "point")]
    pub points: Vec<String>,
    /// Metric id (`output_throughput`, `mean_ttft_ms`, `p99_ttft_ms`, `mean_tpot_ms`, …).
    #[arg(long, default_value = "output_throughput")]
    pub metric: String,
    /// Where to write history.svg and history.html (default: <results_dir>/reports/history/).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many of the newest runs to keep.
    #[arg(long)]
    pub keep: usize,
    #[command(flatten)]
    pub overrides: Overrides,
}
