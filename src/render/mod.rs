//! Renderers: consumers of `Event`s. `plain` writes timestamped lines (cron), `json` one
//! JSON object per line, `tty` a live terminal UI (progress bar, status line).

pub mod json;
pub mod plain;
pub mod summary;
pub mod tty;

use std::sync::Arc;

use crate::cli::OutputMode;
use crate::events::Sink;

/// The sink for the chosen output mode (`auto`: terminal UI on a TTY, plain lines otherwise).
pub fn sink_for(mode: OutputMode) -> Arc<dyn Sink> {
    match mode {
        OutputMode::Json => Arc::new(json::JsonLines::stdout()),
        OutputMode::Plain => Arc::new(plain::PlainLines::stderr()),
        OutputMode::Tty => Arc::new(tty::Terminal::new()),
        OutputMode::Auto => {
            if console::Term::stderr().is_term() {
                Arc::new(tty::Terminal::new())
            } else {
                Arc::new(plain::PlainLines::stderr())
            }
        }
    }
}
