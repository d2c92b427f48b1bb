//! Events: what the engine tells the outside world while it works. The engine emits them
//! into a `Sink` and never prints; renderers (`render`) turn them into a terminal UI, plain
//! timestamped lines for cron, or JSON lines (`docs/events.md` documents that stream).
//!
//! Everything a machine may want is a typed event: the plan, each point's start and end with
//! its metrics and reason, the run's end and summary table, the comparison with an earlier
//! run, signals. `Message` is only for human notes that carry no data of their own.
//!
//! Adding a variant: keep its fields serialisable (the JSON form is
//! `{"event": "<snake_case name>", …fields}`), give it a plain one-line form in
//! `render::plain_line`, and document it in `docs/events.md`. Adding a field is compatible;
//! removing or renaming one bumps `SCHEMA_VERSION`.

use serde::Serialize;

use crate::report::Rows;
use crate::sweep::manifest::Metrics;
use crate::sweep::plan::Point;

/// Version of the JSON event stream; every JSON line carries it as `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// Severity of a free-form message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A free-form note for humans.
    Message { level: Level, text: String },
    /// A long-running stage began (`stage` is a short id, `detail` human text).
    StageStarted { stage: String, detail: String },
    /// A stage made progress (live status line).
    StageProgress {
        stage: String,
        detail: String,
        elapsed_s: f64,
    },
    /// A stage finished.
    StageFinished {
        stage: String,
        detail: String,
        elapsed_s: f64,
    },
    /// The plan of a dry run: every point, its file, its estimate, and the total.
    Plan(PlanView),
    /// A sweep run began (or resumed): `points` to run now, `total` in the plan.
    RunStarted {
        run_id: String,
        run_dir: String,
        points: usize,
        total: usize,
        resumed: bool,
    },
    /// A sweep point began (`i` counts from 1 over the points run now, of `n`).
    PointStarted {
        i: usize,
        n: usize,
        name: String,
        input_len: u64,
        output_len: u64,
        concurrency: u64,
        num_prompts: u64,
    },
    /// A sweep point ended: `status` is `ok`, `failed`, or `pending` when it runs again
    /// (the server died under it); `reason` says why it is not `ok`.
    PointFinished {
        i: usize,
        n: usize,
        name: String,
        status: String,
        ttft_ms: Option<f64>,
        tpot_ms: Option<f64>,
        throughput: Option<f64>,
        elapsed_s: f64,
        file: Option<String>,
        reason: Option<String>,
        /// The headline figures of the result file, when it was read.
        metrics: Option<Metrics>,
    },
    /// A sweep point was not run (over the context length, already done, …).
    PointSkipped { name: String, reason: String },
    /// A sweep run ended; `status` is `finished`, `points_failed`, `interrupted` or
    /// `server_failed`; `next` is the command that continues it, when there is one.
    RunFinished {
        run_id: String,
        status: String,
        ok: usize,
        failed: usize,
        skipped: usize,
        pending: usize,
        elapsed_s: f64,
        run_dir: String,
        next: Option<String>,
    },
    /// The end-of-run summary: one row per point with its metrics.
    Summary(RunSummary),
    /// This run compared with an earlier comparable one.
    Comparison(ComparisonSummary),
    /// The verdict against a baseline: pass, regressed (naming each point and metric) or
    /// cannot judge (with the reasons).
    Verdict(crate::report::verdict::Verdict),
    /// A result file that could not be imported, and where.
    Unreadable {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// An image pull began: the image as configured, the registry it comes from, and where
    /// the credentials come from (None: anonymous).
    PullStarted {
        image: String,
        registry: String,
        credentials: Option<String>,
    },
    /// A layer of a pull changed status (`Pulling fs layer`, `Waiting`, `Downloading`,
    /// `Download complete`, `Extracting`, `Pull complete`, `Already exists`, …) or, within
    /// `Downloading`/`Extracting`, moved on (at most twice a second): bytes `current` of
    /// `total` when the engine says.
    PullProgress {
        image: String,
        layer: String,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    },
    /// A pull finished: the registry digest (`sha256:…`), the layers seen, the bytes
    /// downloaded (present layers not counted) and how long it took.
    PullFinished {
        image: String,
        digest: Option<String>,
        layers: usize,
        downloaded: u64,
        elapsed_s: f64,
    },
    /// A pull failed; `error` says why (the command then fails with it, exit code 3).
    PullFailed {
        image: String,
        registry: String,
        error: String,
    },
    /// A signal arrived: the first stops the run cleanly, a second exits at once.
    Signal {
        signal: String,
        action: SignalAction,
    },
    /// What an SLO search found: the capacity and every probe it walked.
    SloResult(Box<crate::slo::report::SloSearch>),
    /// A matrix's dry run: every combination with its plan, and the total.
    MatrixPlan(Box<crate::matrix::plan::MatrixPlanView>),
    /// A combination of a matrix began (or resumed): the i-th of n.
    CombinationStarted {
        matrix_id: String,
        i: usize,
        n: usize,
        name: String,
        /// What it sets (`extra_args=--max-num-seqs 4`), secrets redacted.
        settings: Vec<String>,
        results_dir: String,
        resumed: bool,
    },
    /// A combination ended: `status` is `ok`, `points_failed`, `failed` (its server could not
    /// start: `cause` says why; the matrix goes on), `server_failed` or `interrupted`.
    CombinationFinished {
        matrix_id: String,
        i: usize,
        n: usize,
        name: String,
        status: String,
        run_id: Option<String>,
        cause: Option<String>,
    },
    /// The end of a matrix: every combination with its status and rows, and the verdicts
    /// between image combinations.
    MatrixSummary(Box<crate::matrix::report::MatrixSummary>),
    /// A fan-out run (`vbench run --hosts`) began or resumed: its hosts, its mode, and in
    /// shard mode how many units (points) are to be shared.
    FanoutStarted {
        fanout_id: String,
        mode: String,
        hosts: Vec<String>,
        units: usize,
        dir: String,
        resumed: bool,
    },
    /// An event of one host's run within a fan-out (its per-host progress).
    OnHost { host: String, inner: Box<Event> },
    /// A host of a fan-out failed mid-unit: the unit goes back in the queue for the others.
    UnitRequeued {
        fanout_id: String,
        host: String,
        unit: String,
        cause: String,
    },
    /// A host of a fan-out is done: `status` is `ok`, `points_failed`, `failed` (`cause`
    /// says why) or `interrupted`.
    HostFinished {
        fanout_id: String,
        host: String,
        status: String,
        run_ids: Vec<String>,
        cause: Option<String>,
    },
    /// The end of a fan-out: every host with its status and rows, the verdicts.
    FanoutSummary(Box<crate::hosts::report::FanoutSummary>),
}

/// What vbench does about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalAction {
    /// Stop the benchmark in the client, save the run, exit 130.
    Stopping,
    /// Exit now; the manifest may show a point as running (resume recovers it).
    ExitingNow,
}

/// A dry run's plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// How the context length was checked.
    pub context: String,
    /// What the heuristic estimate assumes.
    pub heuristic: String,
    pub notes: Vec<String>,
    pub total_estimate_s: f64,
    /// The timestamp shown in file names (`YYYYmmdd_HHMMSS`).
    pub timestamp: String,
    /// Planned for the CPU stand-in.
    pub standin: bool,
    pub points: Vec<PlannedPoint>,
}

/// One point of a plan with its file name and estimate (`None` when skipped).
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPoint {
    #[serde(flatten)]
    pub point: Point,
    /// `<dir>/<file name>` relative to the results directory.
    pub file: String,
    pub estimate_s: Option<f64>,
    /// `median of N earlier run(s)` or `heuristic`.
    pub estimate_source: Option<String>,
}

/// The end-of-run summary.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub status: String,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    pub pending: usize,
    /// Measured on the CPU stand-in (never a GPU measurement).
    pub standin: bool,
    pub results_dir: String,
    pub run_dir: String,
    pub rows: Rows,
}

/// One regressed metric (or a point that now fails: `metric` is `None`).
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub point: String,
    pub metric: Option<String>,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Above 1 is better for the current run.
    pub ratio: Option<f64>,
}

/// A comparison with an earlier run.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonSummary {
    pub run_id: String,
    pub baseline_run_id: String,
    pub threshold: f64,
    pub matched: usize,
    pub improvements: usize,
    pub regressions: Vec<Regression>,
    /// One sentence: counts of regressions, improvements and matched points.
    pub headline: String,
    /// Where the full comparison is (`comparison.md`).
    pub details: String,
}

/// Where events go. Implemented by the renderers and by test collectors.
pub trait Sink: Send + Sync {
    fn emit(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> Sink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}

/// Emit an informational note.
pub fn info(sink: &dyn Sink, text: impl Into<String>) {
    sink.emit(Event::Message {
        level: Level::Info,
        text: text.into(),
    });
}

/// Emit a warning.
pub fn warn(sink: &dyn Sink, text: impl Into<String>) {
    sink.emit(Event::Message {
        level: Level::Warn,
        text: text.into(),
    });
}

/// A sink that keeps every event (for tests).
#[derive(Default)]
pub struct Collector(pub std::sync::Mutex<Vec<Event>>);

impl Sink for Collector {
    fn emit(&self, event: Event) {
        self.0.lock().expect("collector poisoned").push(event);
    }
}
