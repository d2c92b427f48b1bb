//! Renderers: consumers of `Event`s. `plain` writes timestamped lines (cron), `json` one
//! JSON object per line, `tty` a live terminal UI (progress bar, status line); `text` is the
//! human wording the two text renderers share. Progress goes to stderr; a command's result
//! (the plan, the summary table, the comparison) to stdout, so `vbench run > summary.txt`
//! keeps just the result. `color` decides whether anything is coloured (`--color`, NO_COLOR).

pub mod color;
pub mod json;
pub mod plain;
pub mod text;
pub mod tty;

use std::sync::Arc;

use crate::events::Sink;

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// A terminal UI when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    Tty,
    Plain,
    Json,
}

/// The sink for the chosen output.
pub fn sink_for(mode: Output) -> Arc<dyn Sink> {
    match mode {
        Output::Json => Arc::new(json::JsonLines::stdout()),
        Output::Plain => Arc::new(plain::PlainLines::stdio()),
        Output::Tty => Arc::new(tty::Terminal::new()),
        Output::Auto => {
            if console::Term::stderr().is_term() {
                Arc::new(tty::Terminal::new())
            } else {
                Arc::new(plain::PlainLines::stdio())
            }
        }
    }
}
