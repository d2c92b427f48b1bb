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
    StageProgress { stage: String, detail: String, elapsed_s: f64 },
    /// A stage finished.
    StageFinished { stage: String, detail: String, elapsed_s: f64 },
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
            Event::StageProgress { stage, detail, elapsed_s } => write!(f, "{stage}: {detail} ({elapsed_s:.0}s)"),
            Event::StageFinished { stage, detail, elapsed_s } => write!(f, "{stage}: {detail} in {elapsed_s:.1}s"),
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
    sink.emit(Event::Message { level: Level::Info, text: text.into() });
}

pub fn warn(sink: &dyn Sink, text: impl Into<String>) {
    sink.emit(Event::Message { level: Level::Warn, text: text.into() });
}

/// A sink that keeps every event (for tests).
#[derive(Default)]
pub struct Collector(pub std::sync::Mutex<Vec<Event>>);

impl Sink for Collector {
    fn emit(&self, event: Event) {
        self.0.lock().expect("collector poisoned").push(event);
    }
}
