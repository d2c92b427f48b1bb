//! Plain renderer: one timestamped line per progress event on stderr, for cron and log
//! files; result blocks (plan, summary, comparison) untimestamped on stdout.

use std::io::Write;
use std::sync::Mutex;

use super::text;
use crate::events::{Event, Sink};

pub struct PlainLines {
    err: Mutex<Box<dyn Write + Send>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl PlainLines {
    /// Progress on stderr, results on stdout.
    pub fn stdio() -> Self {
        Self::new(Box::new(std::io::stderr()), Box::new(std::io::stdout()))
    }

    pub fn new(err: Box<dyn Write + Send>, out: Box<dyn Write + Send>) -> Self {
        Self {
            err: Mutex::new(err),
            out: Mutex::new(out),
        }
    }
}

impl Sink for PlainLines {
    fn emit(&self, event: Event) {
        // A closed stream must not kill a sweep: the text is dropped.
        if let Some(block) = text::block(&event) {
            let mut out = self.out.lock().expect("plain renderer poisoned");
            let _ = out.write_all(block.as_bytes());
            let _ = out.flush();
            return;
        }
        let now = jiff::ZonedDateTime::now().strftime("%Y-%m-%dT%H:%M:%S%:z");
        let mut err = self.err.lock().expect("plain renderer poisoned");
        let _ = writeln!(err, "{now} {}", text::line(&event));
    }
}
