//! Plain renderer: one timestamped line per event, for cron and log files.

use std::io::Write;
use std::sync::Mutex;

use crate::events::{Event, Sink};

pub struct PlainLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl PlainLines {
    pub fn stderr() -> Self {
        Self {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl Sink for PlainLines {
    fn emit(&self, event: Event) {
        let now = jiff::ZonedDateTime::now().strftime("%Y-%m-%dT%H:%M:%S%:z");
        let mut out = self.out.lock().expect("plain renderer poisoned");
        // A closed stderr must not kill a sweep: drop the line.
        let _ = writeln!(out, "{now} {event}");
    }
}
