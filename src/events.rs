//! Events: what the engine tells the outside world while it works. The engine emits them
//! into a `Sink`; renderers (`render`) turn them into a terminal UI, plain timestamped lines
//! for cron, or JSON lines. The engine never prints.
//!
//! Adding a variant: give it a `Display` arm (the plain one-line form) and keep its fields
//! serialisable (the JSON form is `{"event": "<snake_case name>", …fields}`).

use std::fmt;

use serde::Serialize;

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
    /// A free-form message.
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
    /// A sweep point ended: `status` is `ok` or `failed` (then `reason` says why).
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
    },
    /// A sweep point was not run (over the context length, already done, …).
    PointSkipped { name: String, reason: String },
    /// A sweep run ended; `status` is `finished`, `points_failed`, `interrupted` or `server_failed`.
    RunFinished {
        run_id: String,
        status: String,
        ok: usize,
        failed: usize,
        skipped: usize,
        pending: usize,
        elapsed_s: f64,
        run_dir: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Message { level, text } => match level {
                Level::Info => write!(f, "{text}"),
                Level::Warn => write!(f, "warning: {text}"),
                Level::Error => write!(f, "error: {text}"),
            },
            Event::StageStarted { stage, detail } => write!(f, "{stage}: {detail}"),
            Event::StageProgress {
                stage,
                detail,
                elapsed_s,
            } => write!(f, "{stage}: {detail} ({elapsed_s:.0}s)"),
            Event::StageFinished {
                stage,
                detail,
                elapsed_s,
            } => write!(f, "{stage}: {detail} in {elapsed_s:.1}s"),
            Event::RunStarted {
                run_id,
                run_dir,
                points,
                total,
                resumed,
            } => {
                let verb = if *resumed { "resuming" } else { "starting" };
                write!(
                    f,
                    "run {run_id}: {verb}, {points} of {total} point(s) to run ({run_dir})"
                )
            }
            Event::PointStarted {
                i,
                n,
                name,
                num_prompts,
                concurrency,
                ..
            } => {
                write!(
                    f,
                    "[{i}/{n}] {name}: running ({num_prompts} prompt(s), max concurrency {concurrency})"
                )
            }
            Event::PointFinished {
                i,
                n,
                name,
                status,
                ttft_ms,
                tpot_ms,
                throughput,
                elapsed_s,
                reason,
                ..
            } => {
                write!(f, "[{i}/{n}] {name}: {status} in {elapsed_s:.1}s")?;
                if let (Some(t), Some(p), Some(r)) = (ttft_ms, tpot_ms, throughput) {
                    write!(f, ", TTFT {t:.1} ms, TPOT {p:.2} ms, {r:.2} req/s")?;
                }
                match reason {
                    Some(r) => write!(f, " ({r})"),
                    None => Ok(()),
                }
            }
            Event::PointSkipped { name, reason } => write!(f, "{name}: skipped ({reason})"),
            Event::RunFinished {
                run_id,
                status,
                ok,
                failed,
                skipped,
                pending,
                elapsed_s,
                run_dir,
            } => write!(
                f,
                "run {run_id}: {status} in {elapsed_s:.1}s: {ok} ok, {failed} failed, {skipped} skipped, {pending} pending ({run_dir})"
            ),
        }
    }
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

/// Helpers for emitting common events.
pub fn info(sink: &dyn Sink, text: impl Into<String>) {
    sink.emit(Event::Message {
        level: Level::Info,
        text: text.into(),
    });
}

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
