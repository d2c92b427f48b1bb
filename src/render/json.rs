//! JSON renderer: one JSON object per event per line on stdout (`--json`), each with the
//! event stream's `schema_version` and a `ts` (docs/events.md).

use std::io::Write;
use std::sync::Mutex;

use crate::events::{Event, SCHEMA_VERSION, Sink};

pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLines {
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

/// The JSON line of one event.
pub fn to_line(event: &Event) -> String {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("schema_version".into(), SCHEMA_VERSION.into());
        obj.insert("ts".into(), jiff::Timestamp::now().to_string().into());
    }
    value.to_string()
}

impl Sink for JsonLines {
    fn emit(&self, event: Event) {
        let line = to_line(&event);
        let mut out = self.out.lock().expect("json renderer poisoned");
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
