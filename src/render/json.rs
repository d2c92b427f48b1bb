//! JSON renderer: one JSON object per event per line on stdout (`--json`).

use std::io::Write;
use std::sync::Mutex;

use crate::events::{Event, Sink};

pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLines {
    pub fn stdout() -> Self {
        Self {
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }
}

impl Sink for JsonLines {
    fn emit(&self, event: Event) {
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("ts".into(), jiff::Timestamp::now().to_string().into());
        }
        let mut out = self.out.lock().expect("json renderer poisoned");
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }
}
