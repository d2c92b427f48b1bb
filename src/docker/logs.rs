//! Container logs as lines: tail N, since, follow; ANSI colour codes strippable.

use futures_util::stream::BoxStream;

use super::{Docker, OutputLine, Result};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Last N lines (None: all).
    pub tail: Option<u64>,
    /// UNIX seconds.
    pub since: Option<i64>,
    pub strip_ansi: bool,
}

impl Docker {
    /// A stream of log lines; ends when the container stops (with `follow`) or the log ends.
    pub fn logs(
        &self,
        container: &str,
        opts: &LogOptions,
    ) -> BoxStream<'static, Result<OutputLine>> {
        let _ = (container, opts);
        todo!()
    }
}

/// Remove ANSI escape sequences (colours, cursor moves) from a line.
pub fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    let _ = s;
    todo!()
}
